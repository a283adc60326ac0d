import keras
import numpy as np
import pytest
from growing_data import earlier_dataset

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.data.identity import DataIdentity, IdentityMismatch
from mmrec_tf.models import HistoryRecommender, LightGCN, MatrixFactorization, MultimodalRecommender
from mmrec_tf.models.growth import grow_model, grow_optimizer


@pytest.fixture(scope="module")
def datasets(demo_dir, tmp_path_factory):
    """(the dataset a model trained on, the grown one numbered for it)."""
    earlier = load_dataset(earlier_dataset(demo_dir, tmp_path_factory.mktemp("g") / "earlier"))
    grown = DataIdentity.of(earlier).grown(load_dataset(demo_dir), "RUN/ids.json")
    return earlier, grown


def _features(dataset):
    rows = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    return {"text": rows[: dataset.num_items]}


def _trained_and_grown(model_class, datasets, **options):
    earlier, grown = datasets
    content = model_class in (MultimodalRecommender, HistoryRecommender)
    keras.utils.set_random_seed(0)
    trained = model_class.from_dataset(earlier, _features(earlier) if content else None, **options)
    trained.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    triples = bpr_triples(earlier, 256, seed=0, **trained.sampler_options())
    trained.fit(triples, epochs=1, verbose=0)
    new = model_class.from_dataset(grown, _features(grown) if content else None, **options)
    new.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    new.optimizer.build(new.trainable_variables)
    data = [
        keras.ops.convert_to_numpy(w).copy() for w, role in new.growth_roles() if role == "data"
    ]
    grow_model(trained, new)
    grow_optimizer(trained.optimizer, new.optimizer, trained, new)
    # The data stay as from_dataset built them on the grown dataset.
    after = [keras.ops.convert_to_numpy(w) for w, role in new.growth_roles() if role == "data"]
    for before, now in zip(data, after, strict=True):
        np.testing.assert_array_equal(before, now)
    return trained, new


def _grown_rows(known, total, new_row):
    return np.concatenate([known, np.repeat(new_row[None], total - len(known), axis=0)])


def test_identity_keeps_known_indices_and_appends_new_ids(datasets):
    earlier, grown = datasets
    assert grown.item_ids[: earlier.num_items] == earlier.item_ids
    assert grown.user_ids[: earlier.num_users] == earlier.user_ids
    assert grown.num_items == earlier.num_items + 10 and grown.num_users >= earlier.num_users + 5


def test_matrix_factorization_keeps_its_rows_and_starts_new_ones_at_the_mean(datasets):
    earlier, grown = datasets
    trained, new = _trained_and_grown(MatrixFactorization, datasets, embedding_dim=8)
    users = keras.ops.convert_to_numpy(trained.user_embedding)
    items = keras.ops.convert_to_numpy(trained.item_embedding)
    np.testing.assert_array_equal(
        new.user_embedding, _grown_rows(users, grown.num_users, users.mean(0))
    )
    np.testing.assert_array_equal(
        new.item_embedding, _grown_rows(items, grown.num_items, items.mean(0))
    )
    known = np.arange(earlier.num_users)
    np.testing.assert_allclose(
        new.score_users(known)[:, : earlier.num_items], trained.score_users(known), atol=1e-6
    )
    # Adam's moments: the known rows' carried, zeros for the new; the step count kept.
    assert int(new.optimizer.iterations) == int(trained.optimizer.iterations) > 0
    for old, now in zip(trained.optimizer.variables, new.optimizer.variables, strict=True):
        old, now = keras.ops.convert_to_numpy(old), keras.ops.convert_to_numpy(now)
        np.testing.assert_array_equal(now[: len(old)] if old.ndim else now, old)
        if old.ndim == 2:
            np.testing.assert_array_equal(now[len(old) :], 0)


def test_a_content_models_new_items_start_as_their_content(datasets):
    earlier, grown = datasets
    trained, new = _trained_and_grown(
        MultimodalRecommender, datasets, embedding_dim=8, item_graph_k=3, num_graph_layers=1
    )
    ids = keras.ops.convert_to_numpy(trained.item_side.item_embedding)
    np.testing.assert_array_equal(
        new.item_side.item_embedding, _grown_rows(ids, grown.num_items, np.zeros(8, "float32"))
    )
    users = keras.ops.convert_to_numpy(trained.user_side.user_embedding)
    np.testing.assert_array_equal(
        new.user_side.user_embedding, _grown_rows(users, grown.num_users, users.mean(0))
    )
    # The content tower is carried: every item's content vector is what the
    # trained tower gives its features.
    content = new.content_vectors().numpy()
    np.testing.assert_allclose(content[: earlier.num_items], trained.content_vectors(), atol=1e-6)
    reference = trained.fuse_content(_features(grown), {"text": np.ones(grown.num_items, bool)})
    np.testing.assert_allclose(content, reference, atol=1e-5)


@pytest.mark.parametrize(
    "model_class, options",
    [
        (LightGCN, {"embedding_dim": 8}),
        (HistoryRecommender, {"embedding_dim": 8, "history_length": 4}),
    ],
)
def test_every_models_learned_weights_are_carried(datasets, model_class, options):
    earlier, grown = datasets
    trained, new = _trained_and_grown(model_class, datasets, **options)
    roles = {id(w): role for w, role in new.growth_roles()}
    for old, now in zip(trained.weights, new.weights, strict=True):
        old, role = keras.ops.convert_to_numpy(old), roles.get(id(now))
        now = keras.ops.convert_to_numpy(now)
        if role is None:
            np.testing.assert_array_equal(now, old)
        elif role == "users+items":
            users, items = old[: earlier.num_users], old[earlier.num_users :]
            np.testing.assert_array_equal(now[: earlier.num_users], users)
            np.testing.assert_array_equal(
                now[grown.num_users : grown.num_users + earlier.num_items], items
            )
            np.testing.assert_array_equal(now[grown.num_users - 1], users.mean(0))


def test_a_dataset_whose_items_moved_or_went_is_refused(datasets, demo_dir, make_dataset):
    earlier, _ = datasets
    identity = DataIdentity.of(earlier)
    moved = earlier.renumbered(
        np.arange(earlier.num_users), np.roll(np.arange(earlier.num_items), 1)
    )
    with pytest.raises(IdentityMismatch, match=r"row 1 is item .* new items go at the end"):
        identity.grown(moved, "RUN/ids.json")
    fewer = load_dataset(make_dataset([{"item_id": earlier.item_ids[0], "text": "t"}]))
    with pytest.raises(IdentityMismatch, match="has no item"):
        identity.grown(fewer, "RUN/ids.json")
