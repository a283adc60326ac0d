import keras
import numpy as np
import pytest
from layer_testing import run_layer_test

from mmrec_tf.layers import SelfAttentionLayer


def project_dense(x, dense):
    out = x @ dense.kernel.numpy()
    return out + dense.bias.numpy() if dense.use_bias else out


def numpy_attention(x, mask, layer):
    """The formula: α_ij = softmax over unmasked j of q_i·k_j/√d_head; output_i = Σ_j α_ij v_j."""

    q, k, v = (project_dense(x, d) for d in (layer.query, layer.key, layer.value))
    batch, n, _ = x.shape
    heads, size = layer.num_heads, layer.units // layer.num_heads
    outputs = np.zeros((batch, n, layer.units))
    weights = np.zeros((batch, heads, n, n))
    for b in range(batch):
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            for i in range(n):
                present = [j for j in range(n) if mask[b, j]]
                if not present:
                    continue
                scores = np.array([q[b, i, cols] @ k[b, j, cols] / np.sqrt(size) for j in present])
                alpha = np.exp(scores - scores.max())
                alpha /= alpha.sum()
                weights[b, h, i, present] = alpha
                outputs[b, i, cols] = alpha @ v[b, present][:, cols]
    if layer.output_dense is not None:
        outputs = project_dense(outputs, layer.output_dense)
        outputs[~mask.any(axis=1)] = 0
    return outputs, weights


@pytest.fixture
def tokens():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 6)).astype("float32")
    mask = rng.random((5, 4)) < 0.7
    mask[0] = True
    mask[1] = [False, True, False, False]
    mask[2] = False  # an item with every modality missing
    return x, mask


@pytest.mark.parametrize("num_heads, use_bias", [(1, True), (2, True), (4, False)])
def test_matches_the_formula(tokens, num_heads, use_bias):
    x, mask = tokens
    layer = SelfAttentionLayer(8, num_heads=num_heads, use_bias=use_bias)
    outputs, weights = layer(x, mask=mask, return_attention_scores=True)
    expected_outputs, expected_weights = numpy_attention(x, mask, layer)
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-5)
    assert weights.shape == (5, num_heads, 4, 4)


def test_masked_keys_get_exactly_zero_weight_and_empty_items_give_zeros(tokens):
    x, mask = tokens
    for heads in (1, 2):
        outputs, weights = SelfAttentionLayer(8, num_heads=heads)(
            x, mask=mask, return_attention_scores=True
        )
        weights = weights.numpy()
        assert (weights[np.broadcast_to(~mask[:, None, None, :], weights.shape)] == 0).all()
        assert np.isfinite(outputs.numpy()).all()
        assert (outputs.numpy()[2] == 0).all()
        np.testing.assert_allclose(weights[0].sum(axis=-1), 1, atol=1e-6)


@pytest.mark.parametrize(
    "initializer",
    ["glorot_uniform", keras.initializers.GlorotUniform(seed=3)],
    ids=["by-name", "seeded-object"],
)
def test_query_key_value_start_different(initializer):
    layer = SelfAttentionLayer(4, num_heads=2, kernel_initializer=initializer)
    layer(np.zeros((1, 2, 4), "float32"))
    kernels = [d.kernel.numpy() for d in (layer.query, layer.key, layer.value, layer.output_dense)]
    for i in range(len(kernels)):
        for j in range(i):
            assert not np.allclose(kernels[i], kernels[j]), (i, j)
    assert [d.name for d in (layer.query, layer.key, layer.value)] == ["query", "key", "value"]
    assert layer.output_dense.name == "output"
    single = SelfAttentionLayer(4)
    single(np.zeros((1, 2, 3), "float32"))
    assert single.output_dense is None


def test_keras_masking_propagates(tokens):
    x, mask = tokens
    inputs = keras.Input((4, 6))
    masked = keras.layers.Masking(0.0)(inputs)
    attended = SelfAttentionLayer(8)(masked)
    assert attended._keras_mask is not None
    model = keras.Model(inputs, attended)
    x = x.copy()
    x[~mask] = 0
    expected = SelfAttentionLayer.from_config(model.layers[-1].get_config())
    expected.build((None, 4, 6))
    expected.set_weights(model.layers[-1].get_weights())
    np.testing.assert_allclose(model(x), expected(x, mask=mask), atol=1e-6)


@pytest.mark.parametrize("num_heads", [1, 2])
def test_queries_give_those_rows_of_the_full_output(tokens, num_heads):
    x, mask = tokens
    layer = SelfAttentionLayer(8, num_heads=num_heads)
    full = layer(x, mask=mask)
    latest = layer(x, mask=mask, queries=x[:, -1:])
    assert tuple(latest.shape) == (5, 1, 8)
    np.testing.assert_allclose(latest, full[:, -1:], atol=1e-6)


def test_dropout_only_in_training(tokens):
    x, mask = tokens
    layer = SelfAttentionLayer(8, dropout=0.5)
    inference = layer(x, mask=mask, training=False)
    np.testing.assert_allclose(inference, layer(x, mask=mask), atol=1e-6)
    assert not np.allclose(layer(x, mask=mask, training=True), inference)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        SelfAttentionLayer(6, num_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        SelfAttentionLayer(4, dropout=1.0)


@pytest.mark.parametrize("num_heads", [1, 2])
def test_layer_contract(tokens, tmp_path, num_heads):
    x, mask = tokens
    run_layer_test(
        SelfAttentionLayer,
        {"units": 8, "num_heads": num_heads, "dropout": 0.1},
        {"inputs": x, "mask": mask},
        (5, 4, 8),
        tmp_path=tmp_path,
    )
