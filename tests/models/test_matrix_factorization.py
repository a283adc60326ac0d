import keras
import numpy as np
import pytest
from recommender_testing import run_recommender_test

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.evaluation import RankingEvaluation, evaluate_ranking
from mmrec_tf.models import MatrixFactorization


def test_bpr_triples_cover_every_interaction_with_true_negatives(demo_dir):
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    seen = set(zip(users.tolist(), items.tolist(), strict=True))
    batches = list(bpr_triples(dataset, batch_size=500, seed=1))
    got_users = np.concatenate([b["user_index"].numpy() for b in batches])
    got_items = np.concatenate([b["positive_item"].numpy() for b in batches])
    negatives = np.concatenate([b["negative_item"].numpy() for b in batches])
    assert sorted(zip(got_users.tolist(), got_items.tolist(), strict=True)) == sorted(
        zip(users.tolist(), items.tolist(), strict=True)
    )
    assert not any(
        (u, n) in seen for u, n in zip(got_users.tolist(), negatives.tolist(), strict=True)
    )
    assert negatives.min() >= 0 and negatives.max() < dataset.num_items
    assert len(np.unique(negatives)) > 100  # uniform over the catalogue, not stuck


def test_bpr_loss_matches_its_formula():
    model = MatrixFactorization(num_users=2, num_items=3, embedding_dim=2, l2_regularization=0.1)
    model.user_embedding.assign([[1.0, 0.0], [0.0, 1.0]])
    model.item_embedding.assign([[1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])
    x = {
        "user_index": np.array([0, 1]),
        "positive_item": np.array([1, 0]),
        "negative_item": np.array([2, 2]),
    }
    loss = float(model.compute_loss(x, y_pred=model(x, training=True)))
    # user 0: s+ = 2, s- = 0; user 1: s+ = 1, s- = -1.
    bpr = -(np.log(1 / (1 + np.exp(-2))) + np.log(1 / (1 + np.exp(-2)))) / 2
    norms = ((1 + 4 + 1) + (1 + 2 + 1)) / 2
    assert loss == pytest.approx(bpr + 0.1 * norms, rel=1e-5)


def test_training_beats_most_popular_and_saves(demo_dir, tmp_path):
    dataset = load_dataset(demo_dir)
    run_recommender_test(MatrixFactorization, dataset, tmp_path=tmp_path, embedding_dim=16)


@pytest.mark.large  # up to 40 epochs with an evaluation each, to the best epoch
def test_early_stopping_on_validation_recall(demo_dir):
    keras.utils.set_random_seed(0)
    dataset = load_dataset(demo_dir)
    model = MatrixFactorization(dataset.num_users, dataset.num_items, embedding_dim=16)
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    evaluation = RankingEvaluation(dataset)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_recall@20", mode="max", patience=2, restore_best_weights=True
    )
    model.fit(
        bpr_triples(dataset, 256, seed=0), epochs=40, callbacks=[evaluation, stopping], verbose=0
    )
    recalls = [epoch["recall@20"] for epoch in evaluation.history]
    assert 3 <= len(recalls) < 40  # stopped early
    best = evaluate_ranking(model.score_users, dataset, "valid")["recall@20"]
    assert best == max(recalls)  # the best epoch's weights restored


def test_validation_on_a_sample_of_users_ranks_those_users(demo_dir):
    keras.utils.set_random_seed(0)
    dataset = load_dataset(demo_dir)
    model = MatrixFactorization(dataset.num_users, dataset.num_items, embedding_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    evaluation = RankingEvaluation(dataset, sample_users=40)
    model.fit(bpr_triples(dataset, 256, seed=0), epochs=2, callbacks=[evaluation], verbose=0)
    sample = evaluate_ranking(model.score_users, dataset, "valid", sample_users=40)
    assert evaluation.history[-1]["recall@20"] == pytest.approx(sample["recall@20"])
    everyone = evaluate_ranking(model.score_users, dataset, "valid")
    assert sample["recall@20"] != everyone["recall@20"]


def test_softmax_loss_is_the_catalogue_cross_entropy():
    model = MatrixFactorization(
        num_users=2,
        num_items=3,
        embedding_dim=2,
        l2_regularization=0.0,
        loss="softmax",
        temperature=0.5,
    )
    model.user_embedding.assign([[1.0, 0.0], [0.0, 1.0]])
    model.item_embedding.assign([[1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])
    x = {
        "user_index": np.array([0, 1]),
        "positive_item": np.array([1, 0]),
        "negative_item": np.array([2, 2]),
    }
    loss = float(model.compute_loss(x, y_pred=model(x, training=True)))
    logits = np.array([[1.0, 2.0, 0.0], [1.0, 0.0, -1.0]]) / 0.5
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-(log_softmax[0, 1] + log_softmax[1, 0]) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        MatrixFactorization(2, 3, loss="hinge")


def test_compile_refuses_a_loss_it_would_not_use():
    model = MatrixFactorization(2, 3, loss="softmax")
    with pytest.raises(ValueError, match=r"own loss \('softmax'.*compile\(\) takes no loss"):
        model.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam")  # without a loss: as before


def test_vbpr_scores_ids_and_projected_content(tmp_path):
    from mmrec_tf.models import VBPR

    features = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    model = VBPR.from_features(3, features, embedding_dim=2)
    users, items = model.user_item_vectors()
    expected = (
        model.user_embedding.numpy()
        @ np.concatenate(
            [model.item_embedding.numpy(), features @ model.projection.kernel.numpy()], axis=1
        ).T
    )
    np.testing.assert_allclose(model.score_users(np.arange(3)), expected, atol=1e-5)
    model.save(tmp_path / "vbpr.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "vbpr.keras").score_users(np.arange(3)),
        expected,
        atol=1e-5,
    )


def test_triples_are_reproducible_and_change_every_epoch(demo_dir):
    dataset = load_dataset(demo_dir)

    def epochs(seed):
        ds = bpr_triples(dataset, 500, seed=seed)
        return [np.concatenate([b["negative_item"].numpy() for b in ds]) for _ in range(2)]

    first, again = epochs(3), epochs(3)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])


def test_a_seeded_fit_gives_the_same_model_twice(demo_dir):
    dataset = load_dataset(demo_dir)

    def fit():
        keras.utils.set_random_seed(0)
        model = MatrixFactorization(dataset.num_users, dataset.num_items, embedding_dim=8)
        model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
        model.fit(bpr_triples(dataset, 256, seed=0), epochs=2, verbose=0, shuffle=False)
        return model.score_users(np.arange(10))

    np.testing.assert_array_equal(fit(), fit())


def test_models_of_one_class_each_scoring_do_not_warn_of_retracing():
    """Each model's scoring function traces on its own: five models (or batch
    sizes) are not "excessive retracing" of one function."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        models = [MatrixFactorization(num_users=4, num_items=5, embedding_dim=2) for _ in range(5)]
        for model in models:
            model.score_users([0, 1, 2])
        models[0].score_users([3])
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
