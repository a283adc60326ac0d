import numpy as np
import pytest
import tensorflow as tf
from layer_testing import assert_masks_reproduce_in_xla, run_layer_test

from mmrec_tf.layers import PhiloxDropout

RATE = 0.2


def test_drops_the_rate_and_scales_what_it_keeps():
    x = np.random.default_rng(0).uniform(1, 2, size=(200, 500)).astype("float32")
    y = PhiloxDropout(RATE, seed=3)(x, training=True).numpy()
    kept = y != 0
    # 100,000 Bernoulli(0.8) draws: the kept share is 0.8 ± 0.0013 (1 s.d.).
    assert abs(kept.mean() - (1 - RATE)) < 0.006
    np.testing.assert_allclose(y[kept], x[kept] / (1 - RATE), rtol=1e-6)
    # Independent entries: rows and columns each keep about the same share.
    assert np.abs(kept.mean(axis=1) - (1 - RATE)).max() < 0.1


def test_inference_leaves_inputs_alone_and_training_draws_new_masks():
    x = np.ones((4, 64), "float32")
    layer = PhiloxDropout(RATE, seed=3)
    np.testing.assert_array_equal(layer(x), x)
    first, second = (layer(x, training=True).numpy() != 0 for _ in range(2))
    assert not np.array_equal(first, second)


def test_the_global_seed_reproduces_masks_in_xla():
    assert_masks_reproduce_in_xla(lambda: PhiloxDropout(RATE), tf.ones((8, 32)))


def test_invalid_rate():
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="rate"):
            PhiloxDropout(rate)


def test_layer_contract(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    eager = run_layer_test(
        PhiloxDropout, {"rate": RATE, "seed": 1}, {"inputs": x}, (3, 5), tmp_path=tmp_path
    )
    np.testing.assert_array_equal(eager, x)
