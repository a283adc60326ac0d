import keras
import numpy as np
import pytest
from layer_testing import run_layer_test

from mmrec_tf.layers import ConcatFusion, MaskedMeanFusion, WeightedAverageFusion


@pytest.fixture
def modalities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3, 4)).astype("float32")
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0], [0, 1, 1]], bool)
    return x, mask


def test_concat_zeroes_missing_slots(modalities):
    x, mask = modalities
    expected = np.where(mask[..., None], x, 0).reshape(5, 12)
    np.testing.assert_allclose(ConcatFusion()(x, mask=mask), expected)
    np.testing.assert_allclose(ConcatFusion()(x), x.reshape(5, 12))


def test_masked_mean_ignores_missing_modalities(modalities):
    x, mask = modalities
    fused = MaskedMeanFusion()(x, mask=mask).numpy()
    np.testing.assert_allclose(fused[1], (x[1, 0] + x[1, 2]) / 2, atol=1e-6)
    np.testing.assert_array_equal(fused[3], np.zeros(4))  # no modality: zeros
    np.testing.assert_allclose(MaskedMeanFusion()(x), x.mean(axis=1), atol=1e-6)


def numpy_weighted_average(x, mask, weights):
    w = np.asarray(weights, np.float64)[None, :] * mask
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    return (w[..., None] * x).sum(axis=1)


def test_fixed_weights_renormalise_over_present_modalities(modalities):
    x, mask = modalities
    layer = WeightedAverageFusion(weights=[1.0, 2.0, 5.0])
    np.testing.assert_allclose(
        layer(x, mask=mask), numpy_weighted_average(x, mask, [1, 2, 5]), atol=1e-6
    )
    assert (layer(x, mask=mask).numpy()[3] == 0).all()
    np.testing.assert_allclose(layer.modality_weights, [0.125, 0.25, 0.625])


def test_learned_weights_start_as_a_mean_and_are_trained(modalities):
    x, mask = modalities
    layer = WeightedAverageFusion()
    np.testing.assert_allclose(
        layer(x, mask=mask), numpy_weighted_average(x, mask, [1, 1, 1]), atol=1e-6
    )
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    target = x[:, 2]  # the third modality alone
    model.fit(x, target, epochs=100, verbose=0)
    assert layer.modality_weights.argmax() == 2 and layer.modality_weights[2] > 0.8


def test_invalid_weights(modalities):
    x, _ = modalities
    with pytest.raises(ValueError, match="non-negative"):
        WeightedAverageFusion(weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="got 2 weights for 3 modalities"):
        WeightedAverageFusion(weights=[1.0, 1.0])(x)


def test_layer_contracts(modalities, tmp_path):
    x, mask = modalities
    inputs = {"inputs": x, "mask": mask}
    run_layer_test(ConcatFusion, {}, inputs, (5, 12), tmp_path=tmp_path, run_training=False)
    mean = run_layer_test(
        MaskedMeanFusion, {}, inputs, (5, 4), tmp_path=tmp_path, run_training=False
    )
    x, mask = modalities
    np.testing.assert_allclose(mean, numpy_weighted_average(x, mask, [1, 1, 1]), atol=1e-6)
    run_layer_test(WeightedAverageFusion, {}, inputs, (5, 4), tmp_path=tmp_path)
    run_layer_test(
        WeightedAverageFusion,
        {"weights": [0.2, 0.3, 0.5]},
        inputs,
        (5, 4),
        tmp_path=tmp_path,
        run_training=False,
    )


def test_concat_projects_to_output_dim(modalities, tmp_path):
    x, mask = modalities
    layer = ConcatFusion(output_dim=6, kernel_initializer=keras.initializers.GlorotUniform(3))
    layer(x)  # builds the projection
    layer.projection.bias.assign(np.arange(6, dtype="float32"))
    out = layer(x, mask=mask).numpy()
    concatenated = np.where(mask[..., None], x, 0).reshape(5, 12)
    kernel = layer.projection.kernel.numpy()
    np.testing.assert_allclose(out, concatenated @ kernel + np.arange(6), rtol=1e-5, atol=1e-5)
    # Seeded: the same kernel again.
    again = ConcatFusion(output_dim=6, kernel_initializer=keras.initializers.GlorotUniform(3))
    again(x)
    np.testing.assert_array_equal(again.projection.kernel.numpy(), kernel)
    assert layer.compute_output_shape((5, 3, 4)) == (5, 6)
    run_layer_test(
        ConcatFusion, {"output_dim": 6}, {"inputs": x, "mask": mask}, (5, 6), tmp_path=tmp_path
    )
