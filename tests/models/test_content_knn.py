import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.evaluation.cold_start import hold_out_items
from mmrec_tf.models import ContentKNN


@pytest.fixture(scope="module")
def dataset(demo_dir):
    return load_dataset(demo_dir)


@pytest.fixture(scope="module")
def content(dataset):
    """Random features; items 0-9 lack text (rows of noise that must not count),
    items 5-14 lack the image (zero rows), items 5-9 have no content at all."""
    rng = np.random.default_rng(0)
    n = dataset.num_items
    features = {"text": rng.normal(size=(n, 6)) + 2.0, "image": rng.normal(size=(n, 3)) - 1.0}
    features["image"][5:15] = 0.0
    present = {"text": np.arange(n) >= 10}
    return features, present


def _reference_vectors(features, present):
    """v_i of the issue's definition, item by item."""
    blocks = []
    for modality in sorted(features):
        x = features[modality]
        has = present[modality]
        mean = np.mean([x[i] for i in range(len(x)) if has[i]], axis=0)
        block = np.zeros_like(x)
        for i in range(len(x)):
            if has[i]:
                block[i] = (x[i] - mean) / np.linalg.norm(x[i] - mean)
        blocks.append(block)
    vectors = np.concatenate(blocks, axis=1)
    for i in range(len(vectors)):
        if np.linalg.norm(vectors[i]) > 0:
            vectors[i] /= np.linalg.norm(vectors[i])
    return vectors


def _reference_scores(vectors, history, weights=None):
    """cos(v_i, the (weighted) mean of v_h over the history's items), 0 for no content."""
    weights = np.ones(len(history)) if weights is None else weights
    mean = sum(w * vectors[h] for h, w in zip(history, weights, strict=True)) / sum(weights)
    scores = []
    for v in vectors:
        norm = np.linalg.norm(v) * np.linalg.norm(mean)
        scores.append(v @ mean / norm if norm > 0 else 0.0)
    return np.array(scores)


def _present(features, given):
    """The presence the issue defines: `given`, else rows not all zero."""
    return {m: given.get(m, np.any(x != 0, axis=1)) for m, x in features.items()}


def _train_items(dataset, user):
    users, items = dataset.interaction_pairs(["train"])
    return items[users == user].tolist()


def test_scores_and_ranking_are_the_reference_cosine(dataset, content):
    features, present = content
    model = ContentKNN.from_dataset(dataset, features, present)
    vectors = _reference_vectors(features, _present(features, present))
    np.testing.assert_allclose(model.vectors, vectors, atol=1e-6)
    scores = model.score_users([0, 3])
    for row, user in enumerate([0, 3]):
        expected = _reference_scores(vectors, _train_items(dataset, user))
        np.testing.assert_allclose(scores[row], expected, atol=1e-5)
        np.testing.assert_array_equal(
            np.argsort(-scores[row], kind="stable")[:20], np.argsort(-expected, kind="stable")[:20]
        )
    # Items 5-9 have no content: score 0 for everyone.
    assert not scores[:, 5:10].any()


def test_absent_rows_count_as_missing_whatever_they_hold(dataset, content):
    features, present = content
    model = ContentKNN.from_dataset(dataset, features, present)
    zeroed = {**features, "text": np.where(present["text"][:, None], features["text"], 0.0)}
    # Without `present`, the rows that are all zero are the missing ones: the same vectors.
    np.testing.assert_allclose(ContentKNN.from_dataset(dataset, zeroed).vectors, model.vectors)
    # Noise in the text rows flagged absent changes nothing.
    assert np.abs(features["text"][:10]).min() > 0
    np.testing.assert_array_equal(model.vectors[5:15, :3], 0.0)  # image slots (sorted first)
    np.testing.assert_array_equal(model.vectors[:10, 3:], 0.0)  # text slots


def test_a_row_filled_with_the_mean_counts_as_missing(dataset, content):
    # As ml-100k-mm's reference poster features are for the films without a poster:
    # the centred row is float32 rounding residue, which must not become a unit vector.
    features, present = content
    image = features["image"].astype(np.float32)
    others = np.any(image != 0, axis=1)
    others[[20, 21]] = False
    image[[20, 21]] = image[others].mean(axis=0)
    model = ContentKNN.from_dataset(dataset, {**features, "image": image}, present)
    np.testing.assert_array_equal(model.vectors[[20, 21], :3], 0.0)
    np.testing.assert_allclose(np.linalg.norm(model.vectors[[20, 21], 3:], axis=1), 1.0, rtol=1e-6)


def test_a_cold_item_is_scored_from_its_content(dataset, content):
    features, present = content
    split = hold_out_items(dataset, 0.05, seed=2)
    model = ContentKNN.from_dataset(split.dataset, features, present)
    user = int(split.users[0])
    cold = split.items
    assert not np.isin(split.dataset.interaction_items, cold).any()
    vectors = _reference_vectors(features, _present(features, present))
    expected = _reference_scores(vectors, _train_items(split.dataset, user))
    scores = model.score_users([user])[0]
    np.testing.assert_allclose(scores[cold], expected[cold], atol=1e-5)
    with_content = cold[np.linalg.norm(vectors[cold], axis=1) > 0]
    assert len(with_content) and np.abs(scores[with_content]).min() > 0


def test_a_new_users_history_with_recency(dataset, content):
    features, present = content
    model = ContentKNN.from_dataset(dataset, features, present, recency=2.0)
    vectors = _reference_vectors(features, _present(features, present))
    # Oldest first, -1 pads; item 40 seen twice counts once, at its latest (distance 0).
    scores = model.score_histories(np.array([[-1, 40, 17, 3, 40]]))[0]
    weights = np.exp(-np.array([2.0, 1.0, 0.0]) / 2.0)  # items 17, 3, 40
    np.testing.assert_allclose(scores, _reference_scores(vectors, [17, 3, 40], weights), atol=1e-5)
    assert not model.score_histories(np.array([[-1, -1]])).any()  # empty history: zeros


def test_errors_name_the_problem(dataset, content):
    features, present = content
    with pytest.raises(ValueError, match="needs item features"):
        ContentKNN.from_dataset(dataset, {})
    with pytest.raises(ValueError, match=r"image features must be \[num_items=200, d\]"):
        ContentKNN.from_dataset(dataset, {**features, "image": features["image"][:-1]})
    with pytest.raises(ValueError, match=r"present\['text'\] must be \[num_items=200\]"):
        ContentKNN.from_dataset(dataset, features, {"text": present["text"][:10]})
    with pytest.raises(ValueError, match="no item has audio features"):
        ContentKNN.from_dataset(dataset, {**features, "audio": np.zeros((200, 2))})
    with pytest.raises(ValueError, match="recency"):
        ContentKNN.from_dataset(dataset, features, recency=0.0)
