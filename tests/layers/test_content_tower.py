import keras
import numpy as np
import pytest

from mmrec_tf.layers import ContentTower
from mmrec_tf.layers.content_tower import FUSIONS

DIMS = {"text": 3, "image": 2}


@pytest.fixture
def content():
    """Six items: both modalities, one missing each, and one with none (the last)."""
    rng = np.random.default_rng(0)
    present = {
        "text": np.array([1, 1, 0, 1, 1, 0], bool),
        "image": np.array([1, 0, 1, 1, 1, 0], bool),
    }
    features = {}
    for m, d in DIMS.items():
        # Off-centre and unevenly scaled, so that standardising changes something.
        x = rng.normal(loc=2.0, scale=[0.5, 3.0, 1.0][:d], size=(6, d)).astype("float32")
        x[~present[m]] = 1e3  # garbage where the modality is missing
        features[m] = x
    return features, present


def _randomize_biases(tower, seed=1):
    """Dense biases start at zero; random ones make the reference check them too."""
    rng = np.random.default_rng(seed)
    for projection in tower.projections.values():
        projection.bias.assign(rng.normal(size=projection.bias.shape).astype("float32"))


def numpy_mean_tower(tower, features, present, standardize):
    """fusion="attention" without self-attention: the mean over the present modalities
    of (z_m W_m + b_m), z_m standardised by the present rows' mean and std."""
    total = np.zeros((len(present["text"]), tower.embedding_dim))
    count = np.zeros((len(present["text"]), 1))
    for m in DIMS:
        x = features[m].astype(np.float64)
        if standardize:
            observed = x[present[m]]
            x = (x - observed.mean(axis=0)) / np.maximum(observed.std(axis=0), 1e-6)
        projection = tower.projections[m]
        t = x @ projection.kernel.numpy() + projection.bias.numpy()
        total += present[m][:, None] * t
        count += present[m][:, None]
    return total / np.maximum(count, 1)


@pytest.mark.parametrize("standardize", [False, True])
def test_mean_fusion_matches_numpy(content, standardize):
    features, present = content
    tower = ContentTower(
        DIMS, 4, fusion="attention", use_self_attention=False, standardize=standardize
    )
    _randomize_biases(tower)
    tower.adapt(features, present)
    out = tower(features, present).numpy()
    expected = numpy_mean_tower(tower, features, present, standardize)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # Items 1 and 2 have one modality each: exactly that modality's projection.
    assert not np.allclose(out[1], out[2])
    np.testing.assert_array_equal(out[5], np.zeros(4))  # no modality: zeros, not the biases


def test_adapt_measures_present_rows_only(content):
    features, present = content
    tower = ContentTower(DIMS, 4, use_self_attention=False, standardize=True)
    tower.adapt(features, present)
    for m in DIMS:
        observed = features[m][present[m]].astype(np.float64)
        np.testing.assert_allclose(tower.feature_mean[m].numpy(), observed.mean(0), rtol=1e-5)
        np.testing.assert_allclose(tower.feature_scale[m].numpy(), 1 / observed.std(0), rtol=1e-5)
    plain = ContentTower(DIMS, 4, use_self_attention=False)
    plain.adapt(features, present)  # nothing to measure
    assert plain.feature_mean == {} and plain.feature_scale == {}


@pytest.mark.parametrize("use_self_attention", [False, True])
@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_every_fusion_gives_item_vectors(content, fusion, use_self_attention):
    features, present = content
    tower = ContentTower(DIMS, 4, fusion=fusion, use_self_attention=use_self_attention)
    out = tower(features, present).numpy()
    assert out.shape == (6, 4) and np.isfinite(out).all()
    # A missing modality's features are never read.
    changed = {m: np.where(present[m][:, None], f, -7.0) for m, f in features.items()}
    np.testing.assert_allclose(tower(changed, present).numpy(), out, atol=1e-5)
    # A present modality's features are.
    moved = {**features, "text": features["text"] + 1.0}
    assert not np.allclose(tower(moved, present).numpy()[present["text"]], out[present["text"]])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="fusion must be one of .*Received: fusion='sum'"):
        ContentTower(DIMS, 4, fusion="sum")
    with pytest.raises(ValueError, match="at least one modality"):
        ContentTower({}, 4)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_config_round_trip_gives_the_same_outputs(content, fusion):
    features, present = content
    tower = ContentTower(DIMS, 4, fusion=fusion, num_heads=2, standardize=True, name="tower")
    tower.adapt(features, present)
    _randomize_biases(tower)
    config = tower.get_config()
    assert {k: config[k] for k in ("feature_dims", "embedding_dim", "fusion", "num_heads")} == {
        "feature_dims": DIMS,
        "embedding_dim": 4,
        "fusion": fusion,
        "num_heads": 2,
    }
    assert config["use_self_attention"] and config["standardize"]
    copy = ContentTower.from_config(config)
    assert copy.get_config() == config
    assert not np.allclose(copy(features, present), tower(features, present))  # fresh weights
    copy.set_weights(tower.get_weights())
    np.testing.assert_array_equal(copy(features, present), tower(features, present))


def test_seeded_initializer_is_reproducible_and_projections_differ(content):
    dims = {"a": 3, "b": 3, "c": 3}  # same shapes: a shared initializer would give equal kernels

    def kernels(initializer):
        tower = ContentTower(dims, 4, kernel_initializer=initializer)
        return [tower.projections[m].kernel.numpy() for m in tower.modalities]

    seeded = keras.initializers.GlorotUniform(seed=7)
    first, second = kernels(seeded), kernels(keras.initializers.GlorotUniform(seed=7))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    for kernels_of_a_tower in (first, kernels("glorot_uniform")):
        for i in range(3):
            for j in range(i):
                assert not np.allclose(kernels_of_a_tower[i], kernels_of_a_tower[j])
    assert not np.allclose(first[0], kernels(keras.initializers.GlorotUniform(seed=8))[0])


def test_feature_dropout_drops_features_in_training_only(content):
    features, present = content
    tower = ContentTower(DIMS, 4, use_self_attention=False, feature_dropout=0.5)
    _randomize_biases(tower)
    plain = ContentTower.from_config({**tower.get_config(), "feature_dropout": 0.0})
    plain.set_weights(tower.get_weights())
    # Inference: the same as without dropout.
    np.testing.assert_allclose(tower(features, present), plain(features, present), atol=1e-6)
    # Training: features with entries dropped give other vectors.
    keras.utils.set_random_seed(3)
    out = tower(features, present, training=True).numpy()
    assert not np.allclose(out[:5], plain(features, present).numpy()[:5])
    np.testing.assert_array_equal(out[5], np.zeros(4))  # still no content: zeros
    with pytest.raises(ValueError, match=r"feature_dropout must be in \[0, 1\)"):
        ContentTower(DIMS, 4, feature_dropout=1.0)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_an_item_without_content_has_zeros_whatever_the_fusion(content, fusion):
    features, present = content
    tower = ContentTower(DIMS, 4, fusion=fusion)
    for weight in tower.weights:  # biases included: a trained tower's are not zero
        weight.assign(np.random.default_rng(0).normal(size=weight.shape).astype("float32"))
    np.testing.assert_array_equal(tower(features, present).numpy()[5], np.zeros(4))
