import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_testing import assert_masks_reproduce_in_xla, run_layer_test

from mmrec_tf.layers import FeatureDropoutDense

RATE = 0.25


def identity_layer(features, groups, seed=3):
    """A layer whose output is its dropped input: the masks are visible."""
    layer = FeatureDropoutDense(features, RATE, groups=groups, seed=seed, use_bias=False)
    layer.build((None, features))
    layer.kernel.assign(np.eye(features, dtype="float32"))
    return layer


def test_inference_is_dense():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5)).astype("float32")
    layer = FeatureDropoutDense(3, RATE)
    y = layer(x).numpy()
    kernel, bias = (w.numpy() for w in layer.weights)
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_rows_of_a_group_share_a_mask_and_groups_draw_their_own():
    # 4 groups of 25 rows, and 3 rows more: the fifth mask.
    x = np.random.default_rng(0).uniform(1, 2, size=(103, 400)).astype("float32")
    y = identity_layer(400, groups=4)(x, training=True).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - RATE), rtol=1e-6)
    masks = []
    for start, stop in ((0, 25), (25, 50), (50, 75), (75, 100), (100, 103)):
        group = kept[start:stop]
        assert (group == group[0]).all(), (start, stop)
        masks.append(group[0])
    masks = np.array(masks)
    # 5 × 400 Bernoulli(0.75) draws: 0.75 ± 0.01 (1 s.d.).
    assert abs(masks.mean() - (1 - RATE)) < 0.04
    assert len({m.tobytes() for m in masks}) == 5


def test_leading_dimensions_and_fewer_rows_than_groups():
    x = np.ones((2, 3, 6), "float32")
    layer = identity_layer(6, groups=16)
    y = layer(x, training=True).numpy()
    assert y.shape == (2, 3, 6)
    # 6 rows, 16 groups: all rows are the remainder, one mask.
    rows = y.reshape(6, 6) != 0
    assert (rows == rows[0]).all()


def test_kernel_gradient_is_the_masked_features():
    # d(sum y)/dW[j, k] = Σ_r x_rj m_g(r),j / (1 − rate): the kept share of each column.
    x = np.random.default_rng(1).uniform(1, 2, size=(40, 8)).astype("float32")
    masks_layer = identity_layer(8, groups=4, seed=5)
    masked = masks_layer(x, training=True).numpy()
    layer = FeatureDropoutDense(2, RATE, groups=4, seed=5, use_bias=False)
    layer.build((None, 8))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(x, training=True))
    gradient = tape.gradient(total, layer.kernel).numpy()
    np.testing.assert_allclose(gradient, np.repeat(masked.sum(0)[:, None], 2, 1), rtol=1e-5)


def test_the_global_seed_reproduces_masks_in_xla():
    assert_masks_reproduce_in_xla(lambda: identity_layer(32, groups=2, seed=None), tf.ones((8, 32)))


def test_a_dense_layers_weights_load():
    dense = keras.layers.Dense(3, name="projection")
    dense.build((None, 4))
    layer = FeatureDropoutDense(3, RATE, name="projection")
    layer.build((None, 4))
    layer.set_weights(dense.get_weights())
    x = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(layer(x), dense(x), rtol=1e-6)
    assert [w.path for w in layer.weights] == [w.path for w in dense.weights]


def test_invalid_arguments():
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="rate"):
            FeatureDropoutDense(2, rate)
    with pytest.raises(ValueError, match="groups"):
        FeatureDropoutDense(2, RATE, groups=0)


def test_layer_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    run_layer_test(
        FeatureDropoutDense,
        {"units": 4, "rate": RATE, "groups": 2, "seed": 1},
        {"inputs": x},
        (3, 4),
        tmp_path=tmp_path,
    )
