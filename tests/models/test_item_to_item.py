import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.evaluation import evaluate_ranking
from mmrec_tf.models import EASE, ItemKNN, MostPopular


@pytest.fixture(scope="module")
def dataset(demo_dir):
    return load_dataset(demo_dir)


def _train_matrix(dataset):
    users, items = dataset.interaction_pairs(["train"])
    x = np.zeros((dataset.num_users, dataset.num_items))
    x[users, items] = 1
    return x


def test_ease_solves_its_constrained_least_squares_column_by_column(dataset):
    # Column j of B minimises ‖x_j − X B_j‖² + λ‖B_j‖² with B_jj = 0: ridge regression of
    # x_j on the other columns, solved independently of the closed form.
    x, l2 = _train_matrix(dataset), 50.0
    model = EASE.from_dataset(dataset, l2=l2)
    for j in (0, 7, 42):
        others = np.delete(np.arange(dataset.num_items), j)
        a = x[:, others]
        solution = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights[others, j], solution, atol=1e-5)
        assert model.weights[j, j] == 0
    np.testing.assert_allclose(model.score_users([3]), x[[3]] @ model.weights, atol=1e-4)


def test_item_knn_keeps_each_items_nearest_neighbours(dataset):
    x = _train_matrix(dataset)
    model = ItemKNN.from_dataset(dataset, neighbours=5, shrink=2.0)
    norms = np.sqrt(x.sum(axis=0))
    cosine = (x.T @ x) / (np.outer(norms, norms) + 2.0 + 1e-12)
    np.fill_diagonal(cosine, 0)
    for i in (0, 11):
        kept = np.flatnonzero(model.weights[i])
        assert len(kept) >= 5 or np.count_nonzero(cosine[i]) < 5
        assert cosine[i, kept].min() >= np.sort(cosine[i])[-5] - 1e-6
        np.testing.assert_allclose(model.weights[i, kept], cosine[i, kept], atol=1e-6)


def test_recency_weights_the_latest_items_most():
    # One user; history oldest first: items 0, 1, 2 (item 2 the latest).
    sequences = Sequences(np.zeros(3, int), np.array([0, 1, 2]), num_users=1)
    identity = np.eye(4, dtype="float32")
    model = EASE(identity, sequences, recency=2.0)
    np.testing.assert_allclose(
        model.score_users([0])[0], [np.exp(-1.0), np.exp(-0.5), 1.0, 0.0], rtol=1e-6
    )
    # An item seen twice counts once, at its latest.
    np.testing.assert_allclose(model.profiles(np.array([[2, 0, 1, 2]]))[0, 2], 1.0)
    assert EASE(identity, sequences).profiles(np.array([[-1, 3]])).tolist() == [[0, 0, 0, 1]]


def test_histories_with_unknown_items_are_refused(dataset):
    model = EASE.from_dataset(dataset)
    with pytest.raises(ValueError, match="history item index 200 is outside 0…199"):
        model.score_histories(np.array([[1, 200]]))


@pytest.mark.parametrize("model_class", [EASE, ItemKNN])
def test_item_to_item_models_beat_popularity_and_use_the_latest_history(dataset, model_class):
    model = model_class.from_dataset(dataset)
    ours = evaluate_ranking(model.score_users, dataset, "valid")["recall@20"]
    popular = evaluate_ranking(MostPopular.from_dataset(dataset).score_users, dataset, "valid")
    assert ours > popular["recall@20"]
    # score_users is score_histories over the fitted (train) histories.
    sequences = Sequences.from_dataset(dataset, ["train"])
    histories = sequences.latest(int(sequences.lengths.max()), [0, 5])
    np.testing.assert_allclose(model.score_users([0, 5]), model.score_histories(histories))
