import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.evaluation import history_scorer
from mmrec_tf.models import EASE, MostPopular


@pytest.fixture(scope="module")
def dataset(demo_dir):
    return load_dataset(demo_dir)


def test_train_history_is_the_models_own_scores(dataset):
    model = EASE.from_dataset(dataset)
    assert history_scorer(model, dataset, "train") == model.score_users


def test_train_plus_valid_history_holds_the_valid_items(dataset):
    model = EASE.from_dataset(dataset, recency=5.0)
    score = history_scorer(model, dataset, "train+valid", "test")
    sequences = Sequences.from_dataset(dataset, ["train", "valid"])
    users = np.array([0, 4])
    expected = model.score_histories(sequences.latest(int(sequences.lengths.max()), users))
    np.testing.assert_allclose(score(users), expected)
    # Users with valid items are ranked differently from their train history alone.
    with_valid = np.unique(dataset.interactions("valid")[0])[:5]
    assert not np.allclose(score(with_valid), model.score_users(with_valid))


def test_protocol_errors_name_the_problem(dataset):
    with pytest.raises(ValueError, match="needs a model that reads histories"):
        history_scorer(MostPopular.from_dataset(dataset), dataset, "train+valid")
    with pytest.raises(ValueError, match="is for the test split"):
        history_scorer(EASE.from_dataset(dataset), dataset, "train+valid", "valid")
    with pytest.raises(ValueError, match="history must be one of"):
        history_scorer(EASE.from_dataset(dataset), dataset, "latest")
