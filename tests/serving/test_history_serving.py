"""A model that reads histories, exported: `recommend_from_history` and `recommend` in a
process that never imports mmrec_tf give the in-memory model's rankings."""

import json

import keras
import numpy as np
import pytest
from cli_process import run_python

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.models import HistoryRecommender
from mmrec_tf.serving import export_recommender

# Trains a model in its fixture: the full suite runs it, the fast lane does not.
pytestmark = pytest.mark.large

SERVE = """
import json, sys
import numpy as np
import tensorflow as tf

request = json.loads(sys.argv[2])
served = tf.saved_model.load(sys.argv[1])
k = tf.constant(request["k"], tf.int32)
histories = served.recommend_from_history(tf.constant(request["histories"]), k)
users = served.recommend(tf.constant(request["users"]), k)
assert "mmrec_tf" not in sys.modules
def arrays(outputs, prefix):
    return {
        prefix + name: value.numpy().astype(str) if value.dtype == tf.string else value.numpy()
        for name, value in outputs.items()
    }
np.savez(sys.argv[3], **arrays(histories, "history_"), **arrays(users, "user_"))
"""

LENGTH = 6


@pytest.fixture(scope="module")
def served(demo_dir, tmp_path_factory):
    dataset = load_dataset(demo_dir)
    keras.utils.set_random_seed(0)
    model = HistoryRecommender.from_dataset(
        dataset, embedding_dim=8, history_length=LENGTH, loss="softmax"
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    model.fit(bpr_triples(dataset, 256, seed=0, history_length=LENGTH), epochs=2, verbose=0)
    path = export_recommender(model, dataset, tmp_path_factory.mktemp("served") / "model")
    return dataset, model, path


def _serve(path, request, tmp_path):
    out = tmp_path / "out.npz"
    result = run_python(SERVE, path, json.dumps(request), out)
    assert result.returncode == 0, result.stderr
    return np.load(out)


def _expected_top(model, histories, k):
    """The in-memory ranking: scores from the histories, their items left out."""
    scores = model.score_histories(histories)
    for row, history in enumerate(histories):
        scores[row, [i for i in history if i >= 0]] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return top, np.take_along_axis(scores, top, axis=1)


def test_recommend_from_history_ranks_as_the_model(served, tmp_path):
    dataset, model, path = served
    ids = dataset.item_ids
    histories = [
        # A new user's history longer than the window: only the latest 6 count.
        [ids[i] for i in (1, 2, 3, 4, 5, 6, 7, 8, 9)],
        # Padding and ids the model does not know: ignored, and counted.
        ["", "no-such-item", ids[10], ids[11], "", "another-unknown", ids[12], "", ""],
        # Nothing known: popular items.
        ["", "", "", "", "", "", "", "", "unknown"],
    ]
    out = _serve(path, {"histories": histories, "users": ["user0001"], "k": 5}, tmp_path)
    indices = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9], [-1, -1, 10, 11, -1, -1, 12, -1, -1]])
    top, scores = _expected_top(model, indices, 5)
    served_ids = out["history_item_id"].astype(str)
    assert served_ids[:2].tolist() == [[ids[i] for i in row] for row in top]
    np.testing.assert_allclose(out["history_score"][:2], scores, rtol=1e-5, atol=1e-5)
    assert out["history_ignored_items"].tolist() == [0, 2, 1]
    assert out["history_empty_history"].tolist() == [False, False, True]
    popular = np.argsort(-dataset.item_popularity(), kind="stable")[:5]
    assert sorted(served_ids[2]) == sorted(ids[i] for i in popular)


def test_recommend_uses_a_known_users_latest_history(served, tmp_path):
    dataset, model, path = served
    out = _serve(path, {"histories": [[""]], "users": ["user0001", "user0002"], "k": 5}, tmp_path)
    users = [dataset.user_ids.index(u) for u in ("user0001", "user0002")]
    latest = Sequences.from_dataset(dataset, ["train"])
    scores = model.score_users(users)
    for row, user in enumerate(users):
        items = latest.items[latest.starts[user] : latest.starts[user] + latest.lengths[user]]
        scores[row, items] = -np.inf  # every training item is seen
    top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    assert out["user_item_id"].astype(str).tolist() == [
        [dataset.item_ids[i] for i in row] for row in top
    ]
    np.testing.assert_allclose(
        out["user_score"], np.take_along_axis(scores, top, axis=1), rtol=1e-5, atol=1e-5
    )
