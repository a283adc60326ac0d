import numpy as np
import pytest
from layer_testing import run_layer_test

from mmrec_tf.layers import HistoryEncoder
from mmrec_tf.layers.history_encoder import deletions


def _dense(x, layer, relu=False):
    out = x @ layer.kernel.numpy() + layer.bias.numpy()
    return np.maximum(out, 0) if relu else out


def _layer_norm(x, layer):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    normalised = (x - mean) / np.sqrt(variance + layer.epsilon)
    return normalised * layer.gamma.numpy() + layer.beta.numpy()


def numpy_history_encoder(x, present, encoder):
    """The docstring's formulas, one head, inference (no dropout)."""
    h = x * present[..., None] + encoder.positions.numpy()
    attention = encoder.attention
    q, k, v = (_dense(h, dense) for dense in (attention.query, attention.key, attention.value))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    scores = np.where(present[:, None, :], scores, -np.inf)
    peak = np.max(scores, axis=-1, keepdims=True)
    weights = np.where(
        present[:, None, :], np.exp(scores - np.where(np.isfinite(peak), peak, 0)), 0
    )
    total = weights.sum(-1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    h = _layer_norm(h + weights @ v, encoder.attention_norm)
    transformed = _dense(_dense(h, encoder.feedforward_in, relu=True), encoder.feedforward_out)
    h = _layer_norm(h + transformed, encoder.feedforward_norm)
    if encoder.pooling == "latest":
        user = h[:, -1]
    else:
        user = (h * present[..., None]).sum(1) / np.maximum(present.sum(1, keepdims=True), 1)
    return user * present.any(axis=1, keepdims=True)


@pytest.fixture
def histories():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 8)).astype("float32")
    present = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], bool)
    return x, present


@pytest.mark.parametrize("pooling", ["latest", "mean"])
def test_matches_numpy_reference(histories, pooling):
    x, present = histories
    encoder = HistoryEncoder(length=5, pooling=pooling, dropout=0.3)
    out = encoder(x, mask=present).numpy()
    np.testing.assert_allclose(out, numpy_history_encoder(x, present, encoder), atol=1e-5)
    np.testing.assert_array_equal(out[3], np.zeros(8))  # no history: zeros


def test_padding_content_is_ignored(histories):
    x, present = histories
    encoder = HistoryEncoder(length=5)
    changed = np.where(present[..., None], x, 100.0).astype("float32")
    np.testing.assert_allclose(encoder(x, mask=present), encoder(changed, mask=present), atol=1e-5)


def test_order_matters(histories):
    x, present = histories
    encoder = HistoryEncoder(length=5)
    reversed_ = x[:, ::-1].copy()
    assert not np.allclose(encoder(x), encoder(reversed_), atol=1e-4)


def test_layer_contract(histories, tmp_path):
    x, present = histories
    run_layer_test(
        HistoryEncoder,
        {"length": 5, "num_heads": 2, "dropout": 0.1, "pooling": "mean"},
        {"inputs": x, "mask": present},
        (4, 8),
        tmp_path=tmp_path,
    )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="pooling must be one of"):
        HistoryEncoder(5, pooling="first")
    with pytest.raises(ValueError, match="length must be ≥ 1"):
        HistoryEncoder(0)


@pytest.mark.parametrize("pooling", ["latest", "mean"])
@pytest.mark.parametrize("num_heads", [1, 2])
def test_without_each_is_the_encoding_of_each_history_less_one_item(pooling, num_heads):
    rng = np.random.default_rng(3)
    length = 4
    encoder = HistoryEncoder(length, num_heads=num_heads, pooling=pooling)
    x = rng.normal(size=(3, length + 1, 8)).astype("float32")
    # Full, one padding entry, and a single item.
    present = np.array([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool)
    without = np.asarray(encoder.without_each(x, present))
    assert without.shape == (3, length + 1, 8)
    for j in range(length + 1):
        # Entry j removed, the latest `length` of the rest read, as `call` reads them.
        kept = np.delete(np.arange(length + 1), j)[-length:]
        expected = np.asarray(encoder(x[:, kept], mask=present[:, kept]))
        np.testing.assert_allclose(without[:, j], expected, atol=1e-5)
    np.testing.assert_array_equal(deletions(2), [[1, 2], [0, 2], [0, 1]])
