import numpy as np
import pytest
from recommender_testing import run_recommender_test

from mmrec_tf.data import load_dataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.models import HistoryRecommender, load_recommender

# Trains a model in its fixture: the full suite runs it, the fast lane does not.
pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def trained(demo_dir, demo_features, tmp_path_factory):
    from mmrec_tf.training import load_features

    dataset = load_dataset(demo_dir)
    features, present = load_features(dataset, demo_features)
    model = run_recommender_test(
        HistoryRecommender,
        dataset,
        features,
        present,
        tmp_path=tmp_path_factory.mktemp("history"),
        epochs=8,
        learning_rate=0.005,
        embedding_dim=16,
        history_length=8,
        loss="softmax",
        item_graph_k=5,
    )
    return dataset, model


def test_scores_come_from_the_latest_training_history(trained):
    dataset, model = trained
    latest = Sequences.from_dataset(dataset, ["train"]).latest(8, [0, 3, 9])
    np.testing.assert_array_equal(model.user_side.stored_histories.numpy()[[0, 3, 9]], latest)
    np.testing.assert_allclose(
        model.score_users([0, 3, 9]), model.score_histories(latest), rtol=1e-5, atol=1e-5
    )


def test_histories_of_any_length_and_none(trained):
    dataset, model = trained
    history = np.array([[4, 17, 2]])
    padded = np.concatenate([np.full((1, 5), -1), history], axis=1)
    np.testing.assert_allclose(model.score_histories(history), model.score_histories(padded))
    latest_eight = [30, 31, 32, 33, 34, 4, 17, 2]
    longer = [[9, 8, *latest_eight]]  # only the latest 8 are read
    with_holes = [[30, -1, 31, 32, -1, 33, 34, 4, 17, -1, 2]]  # -1 entries are dropped
    for other in (longer, with_holes):
        np.testing.assert_allclose(
            model.score_histories(other), model.score_histories([latest_eight]), atol=1e-6
        )
    # No history and no user ID embedding: no evidence, every item scores 0.
    np.testing.assert_array_equal(model.score_histories(np.full((1, 8), -1)), 0.0)
    # Newer interactions change the ranking without refitting.
    assert not np.allclose(model.score_histories([[1, 2]]), model.score_histories([[1, 3]]))


def test_unknown_history_items_are_refused(trained):
    dataset, model = trained
    with pytest.raises(ValueError, match=f"history item index {dataset.num_items} is outside"):
        model.score_histories([[0, dataset.num_items]])


def test_reloaded_model_scores_histories_the_same(trained, tmp_path):
    _, model = trained
    path = tmp_path / "history.keras"
    model.save(path)
    reloaded = load_recommender(path)
    histories = np.array([[-1, 5, 6, 7], [1, 2, 3, 4]])
    np.testing.assert_allclose(
        reloaded.score_histories(histories), model.score_histories(histories), atol=1e-5
    )
    np.testing.assert_array_equal(
        reloaded.user_side.stored_histories.numpy(), model.user_side.stored_histories.numpy()
    )
