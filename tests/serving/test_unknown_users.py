"""A user with no training interaction is an unknown user: served and evaluated as one."""

import numpy as np
import tensorflow as tf
from conftest import write_dataset

from mmrec_tf.data import load_dataset
from mmrec_tf.evaluation import evaluate_ranking, history_scorer
from mmrec_tf.models import MatrixFactorization
from mmrec_tf.serving import export_recommender

ITEMS = [{"item_id": f"i{n}", "title": f"Title {n}"} for n in range(6)]
# u1 and u2 trained; "late" arrives in the test split only (no training row is trained).
INTERACTIONS = [
    {"user_id": "u1", "item_id": "i0", "split": "train"},
    {"user_id": "u1", "item_id": "i1", "split": "train"},
    {"user_id": "u2", "item_id": "i1", "split": "train"},
    {"user_id": "u2", "item_id": "i2", "split": "valid"},
    {"user_id": "u1", "item_id": "i3", "split": "test"},
    {"user_id": "late", "item_id": "i4", "split": "test"},
]


def _model(dataset):
    model = MatrixFactorization(dataset.num_users, dataset.num_items, embedding_dim=4)
    # The untrained row of "late" would put i4 first: it must never be read.
    late = dataset.user_index["late"]
    model.user_embedding.assign(np.eye(dataset.num_users, 4, dtype=np.float32))
    item_rows = np.zeros((dataset.num_items, 4), np.float32)
    item_rows[4, late] = 100.0
    item_rows[5, 0] = 1.0  # u1 likes i5
    model.item_embedding.assign(item_rows)
    return model


def test_export_serves_a_user_without_training_interactions_the_popular_items(tmp_path):
    dataset = load_dataset(write_dataset(tmp_path / "data", ITEMS, INTERACTIONS))
    served = tf.saved_model.load(
        str(export_recommender(_model(dataset), dataset, tmp_path / "export"))
    )
    out = served.recommend(tf.constant(["u1", "late", "nobody"]), tf.constant(2))
    assert out["known_user"].numpy().tolist() == [True, False, False]
    items = out["item_id"].numpy().astype(str).tolist()
    assert items[0][0] == "i5"
    # Popularity of training: i1 (2 users), then i0 (1); "late" is served as "nobody".
    assert items[1] == items[2] == ["i1", "i0"]
    scores = served.score(tf.constant(["late", "u1"]), tf.constant(["i4", "i5"]))["score"]
    assert np.isnan(scores[0].numpy()) and scores[1].numpy() == 1.0
    vectors = served.embed_users(tf.constant(["late", "u1"]))["user_vector"].numpy()
    np.testing.assert_array_equal(vectors[0], 0.0)
    assert vectors[1][0] == 1.0


def test_an_unknown_user_of_the_dataset_is_never_served_what_they_have_seen(tmp_path):
    dataset = load_dataset(write_dataset(tmp_path / "data", ITEMS, INTERACTIONS))
    path = export_recommender(
        _model(dataset), dataset, tmp_path / "export", seen_splits=("train", "valid", "test")
    )
    served = tf.saved_model.load(str(path))
    out = served.recommend(tf.constant(["late", "nobody"]), tf.constant(6))
    assert out["known_user"].numpy().tolist() == [False, False]
    # "late" saw i4 (in test): every other item, by popularity; k' = 5 for the batch.
    items = out["item_id"].numpy().astype(str).tolist()
    assert items[0] == ["i1", "i0", "i2", "i3", "i5"]
    assert items[1] == ["i1", "i0", "i2", "i3", "i4"]  # "nobody" has seen nothing


def test_evaluation_scores_a_user_without_training_interactions_by_popularity(tmp_path):
    dataset = load_dataset(write_dataset(tmp_path / "data", ITEMS, INTERACTIONS))
    score = history_scorer(_model(dataset), dataset)
    late = dataset.user_index["late"]
    scores = np.asarray(score(np.array([0, late])))
    np.testing.assert_allclose(scores[1], dataset.item_popularity())
    np.testing.assert_allclose(scores[0], np.asarray(_model(dataset).score_users(np.array([0])))[0])
    # With its untrained row, "late" would find i4 first (hit@1 = 1 for one user of two).
    assert evaluate_ranking(score, dataset, "test", ks=(1,))["hit@1"] == 0.0
