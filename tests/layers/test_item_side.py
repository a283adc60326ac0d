import keras
import numpy as np
import pytest

from mmrec_tf.layers import ContentTower, ItemSide

NUM_ITEMS = 7
DIMS = {"text": 3, "image": 2}


@pytest.fixture
def content():
    rng = np.random.default_rng(0)
    present = {
        "text": np.array([1, 1, 0, 1, 1, 0, 1], bool),
        "image": np.array([1, 0, 1, 1, 1, 0, 0], bool),
    }
    features = {
        m: (rng.normal(size=(NUM_ITEMS, d)) * present[m][:, None]).astype("float32")
        for m, d in DIMS.items()
    }
    return features, present


def _side(content, use_ids=True, standardize=False, **kwargs):
    features, present = content
    tower = ContentTower(DIMS, 4, standardize=standardize, name="content_tower")
    side = ItemSide(NUM_ITEMS, 4, tower, use_ids=use_ids, **kwargs)
    side.set_content(features, present)
    return side


def test_vectors_are_content_plus_ids(content):
    features, present = content
    side = _side(content)
    items, content_vectors = (v.numpy() for v in side.vectors())
    # The content part is the tower over the stored features, the ID part the table.
    expected_content = side.content_tower(features, present).numpy()
    np.testing.assert_allclose(content_vectors, expected_content, atol=1e-6)
    np.testing.assert_allclose(items, expected_content + side.item_embedding.numpy(), atol=1e-6)
    np.testing.assert_array_equal(content_vectors[5], np.zeros(4))  # no modality: zeros
    np.testing.assert_allclose(items[5], side.item_embedding.numpy()[5], atol=1e-7)
    # The features are stored, not trained; the ID table is trained.
    np.testing.assert_array_equal(side.features["text"].numpy(), features["text"])
    np.testing.assert_array_equal(side.present["image"].numpy(), present["image"])
    trainable = {w.path for w in side.trainable_weights}
    assert any("item_embedding" in p for p in trainable)
    assert not any("features" in p or "present" in p for p in trainable)


def test_vectors_at_are_rows_of_vectors(content):
    side = _side(content)
    items, content_vectors = (v.numpy() for v in side.vectors())
    indices = np.array([[3, 0, 6], [5, 5, 2]], np.int32)
    at_items, at_content = side.vectors_at(indices)
    assert tuple(at_items.shape) == (2, 3, 4) and tuple(at_content.shape) == (2, 3, 4)
    np.testing.assert_allclose(at_items.numpy(), items[indices], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(at_content.numpy(), content_vectors[indices], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        side.content_at(indices).numpy(), content_vectors[indices], rtol=1e-5, atol=1e-6
    )


def test_features_replace_the_stored_ones(content):
    features, present = content
    side = _side(content)
    replaced = {"text": features["text"] + 1.0}
    expected = side.content_tower({**features, **replaced}, present).numpy()
    np.testing.assert_allclose(side.content(features=replaced).numpy(), expected, atol=1e-6)


def test_set_content_measures_the_standardisation(content):
    features, present = content
    side = _side(content, standardize=True)
    observed = features["text"][present["text"]].astype(np.float64)
    np.testing.assert_allclose(
        side.content_tower.feature_mean["text"].numpy(), observed.mean(0), rtol=1e-5, atol=1e-7
    )


def test_a_side_of_one_part(content):
    features, present = content
    content_only = _side(content, use_ids=False)
    assert content_only.item_embedding is None
    items, content_vectors = content_only.vectors()
    np.testing.assert_array_equal(items.numpy(), content_vectors.numpy())
    indices = np.array([[1, 2]], np.int32)
    np.testing.assert_allclose(
        content_only.vectors_at(indices)[0].numpy(), items.numpy()[indices], atol=1e-6
    )

    ids_only = ItemSide(NUM_ITEMS, 4)
    assert ids_only.modalities == [] and ids_only.content() is None
    items, content_vectors = ids_only.vectors()
    assert content_vectors is None
    np.testing.assert_array_equal(items.numpy(), ids_only.item_embedding.numpy())
    at_items, at_content = ids_only.vectors_at(indices)
    assert at_content is None and ids_only.content_at(indices) is None
    np.testing.assert_array_equal(at_items.numpy(), ids_only.item_embedding.numpy()[indices])


def test_invalid_sides():
    with pytest.raises(ValueError, match="items need content or IDs"):
        ItemSide(NUM_ITEMS, 4, None, use_ids=False)
    with pytest.raises(ValueError, match=r"encoders \['audio'\] must be for modalities"):
        ItemSide(NUM_ITEMS, 4, ContentTower(DIMS, 4), encoders={"audio": keras.layers.Dense(2)})
    with pytest.raises(ValueError, match="must be for modalities"):
        ItemSide(NUM_ITEMS, 4, None, encoders={"text": keras.layers.Dense(3)})


@pytest.mark.parametrize("use_ids", [True, False])
def test_config_round_trip_gives_the_same_vectors(content, use_ids):
    side = _side(content, use_ids=use_ids, standardize=True, name="item_side")
    config = side.get_config()
    assert config["num_items"] == NUM_ITEMS and config["use_ids"] is use_ids
    copy = ItemSide.from_config(config)
    assert isinstance(copy.content_tower, ContentTower) and copy.modalities == side.modalities
    assert copy.get_config() == config
    copy.set_weights(side.get_weights())
    np.testing.assert_array_equal(copy.vectors()[0].numpy(), side.vectors()[0].numpy())

    ids_only = ItemSide(NUM_ITEMS, 4)
    copy = ItemSide.from_config(ids_only.get_config())
    assert copy.content_tower is None and copy.get_config() == ids_only.get_config()
