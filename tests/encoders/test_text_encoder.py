import keras
import numpy as np
import pytest

from mmrec_tf.encoders import TextEncoder


@pytest.fixture
def tokens():
    ids = np.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0], [0] * 6])
    return {"token_ids": ids, "padding_mask": ids > 0}


def _model(encoder):
    inputs = {
        "token_ids": keras.Input((6,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((6,), dtype="bool", name="padding_mask"),
    }
    return keras.Model(inputs, encoder(inputs))


def numpy_mean_pool(sequence, mask):
    real = mask[..., None].astype(np.float64)
    return (sequence * real).sum(1) / np.maximum(real.sum(1), 1)


def test_mean_pooling_normalisation_and_missing_text(tokens):
    encoder = TextEncoder.small(vocabulary_size=20, sequence_length=6, normalize=True)
    out = encoder(tokens).numpy()
    sequence = encoder.backbone(
        {
            "token_ids": tokens["token_ids"],
            "segment_ids": np.zeros_like(tokens["token_ids"]),
            "padding_mask": tokens["padding_mask"],
        }
    )["sequence_output"]
    pooled = numpy_mean_pool(sequence.numpy(), tokens["padding_mask"])
    expected = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert (out[2] == 0).all()
    cls = TextEncoder(encoder.backbone, pooling="cls")(tokens).numpy()
    np.testing.assert_allclose(cls[:2], sequence.numpy()[:2, 0], atol=1e-6)


def test_saves_reloads_and_trains_with_xla(tokens, tmp_path):
    model = _model(TextEncoder.small(vocabulary_size=20, sequence_length=6))
    expected = model(tokens).numpy()
    model.save(tmp_path / "text.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "text.keras")(tokens), expected, atol=1e-6
    )
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    before = model.get_weights()
    model.fit(tokens, np.ones((3, 64)), epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_frozen_encoder_does_not_train(tokens):
    model = _model(TextEncoder.small(vocabulary_size=20, sequence_length=6, trainable=False))
    assert not model.trainable_weights
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    model.fit(tokens, np.ones((3, 64)), epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_exact_gelu_survives_a_config_round_trip(tmp_path):
    encoder = TextEncoder.small(vocabulary_size=20, sequence_length=6, exact_gelu=True)
    clone = TextEncoder.from_config(encoder.get_config())
    layer = clone.backbone.transformer_layers[0]
    value = float(layer._feedforward_intermediate_dense.activation(np.float32(1.0)))
    assert value == pytest.approx(0.8413447, abs=1e-6)  # exact x·Φ(x); the tanh form: 0.8411920


def test_invalid_pooling():
    with pytest.raises(ValueError, match="pooling must be one of"):
        TextEncoder(None, pooling="max")
