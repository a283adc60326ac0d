"""Explanations against brute force: each past item's share is the score lost without it
(recomputed by the model itself), each modality's the score lost with it blanked, and a
SavedModel explains as the library does in a process without mmrec_tf."""

import json

import keras
import numpy as np
import pytest
from cli_process import run_python

from mmrec_tf.data import load_dataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.models import HistoryRecommender, MatrixFactorization
from mmrec_tf.serving import Explainer, export_recommender

LENGTH = 5
EXPLAIN = """
import json, sys
import numpy as np
import tensorflow as tf

request = json.loads(sys.argv[2])
served = tf.saved_model.load(sys.argv[1])
users = served.explain(tf.constant(request["users"]), tf.constant(request["items"]))
history = served.explain_from_history(
    tf.constant(request["histories"]), tf.constant(request["history_items"])
)
signature = served.signatures["explain_from_history"]
assert "mmrec_tf" not in sys.modules
def arrays(outputs, prefix):
    return {
        prefix + name: value.numpy().astype(str) if value.dtype == tf.string else value.numpy()
        for name, value in outputs.items()
    }
np.savez(
    sys.argv[3], **arrays(users, "user_"), **arrays(history, "history_"),
    signature=sorted(signature.structured_outputs),
)
"""


def _model(dataset, seed=0, **options):
    """A small HistoryRecommender with two random modalities, its weights as initialised
    (the explanations' arithmetic holds for any weights; training costs the fast lane)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    features = {
        "text": rng.normal(size=(dataset.num_items, 6)),
        "image": rng.normal(size=(dataset.num_items, 4)),
    }
    present = {m: rng.random(dataset.num_items) > 0.2 for m in features}
    model = HistoryRecommender.from_dataset(
        dataset, features, present, embedding_dim=8, history_length=LENGTH, loss="softmax",
        **options,
    )  # fmt: skip
    return model


@pytest.fixture(scope="module")
def dataset(demo_dir):
    return load_dataset(demo_dir)


@pytest.fixture(scope="module")
def stand_alone(dataset):
    """Items that depend on themselves alone (no graphs): a modality's brute force is exact."""
    model = _model(dataset, num_graph_layers=0, use_user_ids=True)
    return model, Explainer(model, dataset)


def _shares(contributions):
    contributions = np.asarray(contributions, np.float64)
    total = np.abs(contributions).sum()
    return contributions / total if total else contributions


def _scores(model, history, user=None):
    users = None if user is None else [user]
    return model.score_histories(np.array([history]), users)[0]


def _score(model, history, item, user=None):
    return float(_scores(model, history, user)[item])


def _softmax(scores, temperature):
    weights = np.exp((scores - scores.max()) / temperature)
    return weights / weights.sum()


def _leave_one_out(model, history, item, user=None):
    """φ_j = Δs_i − E_p[Δs]: Δs the scores lost without entry j (each recomputed by the
    model), p the softmax of the scores with the whole history."""
    whole = _scores(model, history, user)
    expected = _softmax(whole, model.temperature)
    contributions = []
    for j, entry in enumerate(history):
        lost = whole - _scores(model, np.delete(history, j), user)
        contributions.append(0.0 if entry < 0 else lost[item] - expected @ lost)
    return contributions


@pytest.mark.parametrize(
    "model_name", ["stand_alone", pytest.param("graphs", marks=pytest.mark.large)]
)
def test_past_shares_are_the_leave_one_out_score_changes(dataset, stand_alone, model_name):
    model, explainer = stand_alone
    if model_name == "graphs":  # items through the user-item and item-item graphs
        model = _model(dataset, seed=1, item_graph_k=3)
        explainer = Explainer(model, dataset)
    sequences = Sequences.from_dataset(dataset, ["train"])
    users = [0, 3, 7]
    stored = sequences.latest(LENGTH + 1)[users]  # one older item may enter the window
    items = [int(np.argsort(-model.score_users([u])[0])[-1]) for u in users]
    why = explainer.explain(
        [dataset.user_ids[u] for u in users], [dataset.item_ids[i] for i in items]
    )
    for row, (user, item) in enumerate(zip(users, items, strict=True)):
        expected = _shares(_leave_one_out(model, stored[row], item, user))[1:]
        np.testing.assert_allclose(why["past_share"][row], expected, atol=2e-5)
        window = stored[row][1:]
        assert why["past_item_id"][row].tolist() == [
            dataset.item_ids[i] if i >= 0 else "" for i in window
        ]
        assert why["score"][row] == pytest.approx(_score(model, stored[row], item, user), abs=1e-4)


def test_a_histories_shares_align_with_its_positions(dataset, stand_alone):
    model, explainer = stand_alone
    ids = dataset.item_ids
    # Padding, an unknown id, and eight known items: only the latest five are read.
    history = ["", ids[1], "unknown", ids[2], ids[3], ids[4], ids[5], "", ids[6], ids[7], ids[8]]
    indices = np.array([ids.index(i) if i in ids else -1 for i in history])
    why = explainer.explain_from_history([history], [ids[40]])
    expected = _shares(_leave_one_out(model, indices, 40))
    np.testing.assert_allclose(why["past_share"][0], expected, atol=2e-5)
    # The two oldest known items lie outside the window: removing them changes nothing.
    assert why["past_share"][0][[0, 1, 2, 3, 4, 7]].tolist() == [0] * 6
    assert np.abs(why["past_share"][0]).sum() == pytest.approx(1, abs=1e-5)


def test_modality_and_content_shares_are_blanking_the_content(dataset, stand_alone):
    model, explainer = stand_alone
    user, items = 2, [10, 11, 12, 13]
    history = Sequences.from_dataset(dataset, ["train"]).latest(LENGTH)[user]
    items = [i for i in items if i not in history]
    why = explainer.explain(
        [dataset.user_ids[user]] * len(items), [dataset.item_ids[i] for i in items]
    )
    assert why["modalities"].tolist() == ["image", "text"]
    present = {m: model.item_side.present[m].numpy() for m in model.modalities}
    content = keras.ops.convert_to_numpy(model.content_vectors())
    user_vector = keras.ops.convert_to_numpy(
        model.encode_histories(history[None], model.inference_vectors()[1], [user])
    )[0]
    for row, item in enumerate(items):
        whole = _score(model, history, item, user)
        lost = []
        for m in model.modalities:
            blanked = present[m].copy()
            blanked[item] = 0
            model.item_side.present[m].assign(blanked)
            lost.append(whole - _score(model, history, item, user))
            model.item_side.present[m].assign(present[m])
        np.testing.assert_allclose(why["modality_share"][row], _shares(lost), atol=2e-5)
        from_content = float(user_vector @ content[item])
        expected = _shares([from_content, whole - from_content])[0]
        assert why["content_share"][row] == pytest.approx(expected, abs=2e-5)
    # An item without one modality owes it nothing.
    lacking = int(np.flatnonzero(present["image"] == 0)[0])
    lacking_why = explainer.explain([dataset.user_ids[user]], [dataset.item_ids[lacking]])
    assert lacking_why["modality_share"][0][0] == 0
    assert lacking_why["modality_present"][0].tolist() == [False, bool(present["text"][lacking])]
    assert why["modality_present"].tolist() == [
        [bool(present[m][i]) for m in ("image", "text")] for i in items
    ]


def test_a_model_of_user_rows_explains_by_item_similarity(dataset):
    keras.utils.set_random_seed(0)
    model = MatrixFactorization.from_dataset(dataset, embedding_dim=8)
    user, item = 4, 30
    why = Explainer(model, dataset).explain([dataset.user_ids[user]], [dataset.item_ids[item]])
    seen = np.unique(
        dataset.interaction_pairs(["train"])[1][dataset.interaction_pairs(["train"])[0] == user]
    )
    users, items = (keras.ops.convert_to_numpy(v) for v in model.inference_vectors())
    assert why["past_item_id"][0].tolist() == [dataset.item_ids[i] for i in seen]
    expected_item = _softmax(items @ users[user], model.temperature) @ items
    expected = _shares(items[seen] @ (items[item] - expected_item))
    np.testing.assert_allclose(why["past_share"][0], expected, atol=1e-5)
    assert why["modality_share"].shape == (1, 0) and why["content_share"].tolist() == [0]


def test_unknown_users_and_items_get_no_explanation(dataset, stand_alone):
    _, explainer = stand_alone
    why = explainer.explain(["nobody", "user0001"], ["item0001", "no-such-item"])
    assert np.isnan(why["score"]).all()
    assert not why["past_share"].any() and not why["modality_share"].any()
    assert not why["content_share"].any() and set(why["past_item_id"].ravel()) == {""}
    empty = explainer.explain_from_history([["unknown", ""]], ["item0001"])
    assert np.isnan(empty["score"][0]) and not empty["past_share"].any()
    # An empty batch gives empty answers of the right shapes.
    nothing = explainer.explain([], [])
    assert nothing["past_share"].shape == (0, LENGTH) and nothing["modality_share"].shape == (0, 2)
    assert explainer.explain_from_history(np.zeros((0, 3), str), [])["past_share"].shape == (0, 3)
    with pytest.raises(ValueError, match="pair up row by row: 2 user_ids for 1 item_ids"):
        explainer.explain(["user0001", "user0002"], ["item0001"])
    with pytest.raises(ValueError, match="does not read histories"):
        Explainer(MatrixFactorization.from_dataset(dataset), dataset).explain_from_history(
            [["item0001"]], ["item0002"]
        )


@pytest.mark.large
def test_a_saved_model_explains_as_the_library_without_mmrec_tf(dataset, stand_alone, tmp_path):
    model, explainer = stand_alone
    path = export_recommender(model, dataset, tmp_path / "served")
    ids = dataset.item_ids
    request = {
        "users": ["user0001", "user0005", "nobody"],
        "items": [ids[3], ids[50], ids[7]],
        "histories": [[ids[1], ids[2], "", ids[9]], ["", "", "", "x"]],
        "history_items": [ids[4], ids[5]],
    }
    result = run_python(EXPLAIN, path, json.dumps(request), tmp_path / "out.npz")
    assert result.returncode == 0, result.stderr
    served = np.load(tmp_path / "out.npz")
    expected = {
        "user_": explainer.explain(request["users"], request["items"]),
        "history_": explainer.explain_from_history(request["histories"], request["history_items"]),
    }
    for prefix, outputs in expected.items():
        for key, value in outputs.items():
            if value.dtype.kind in "US":
                assert served[prefix + key].astype(str).tolist() == value.tolist()
            else:
                np.testing.assert_allclose(served[prefix + key], value, atol=1e-6)
    assert served["signature"].tolist() == sorted(
        ["past_share", "modality_share", "modality_present", "modalities", "content_share"]
        + ["score"]
    )
