from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fixtures.make_reference_outputs import reference_spectrograms
from media_files import wav_bytes
from pretrained import load_or_skip

from mmrec_tf.data import decode_audio
from mmrec_tf.encoders import (
    AisfxInput,
    AudioEncoder,
    aisfx_audio_options,
    aisfx_sound_effects,
    load_aisfx_weights,
)
from mmrec_tf.encoders.aisfx import aisfx_embedding_net

FIXTURE = Path(__file__).parent.parent / "fixtures" / "aisfx_reference.npz"


def test_aisfx_network_matches_the_original():
    """Reference: aiSFX's own EmbeddingNet in torch (tests/fixtures/make_reference_outputs.py)."""
    encoder = load_or_skip(aisfx_sound_effects)
    network = encoder.backbone.layers[-1]
    reference = np.load(FIXTURE)["embeddings"]
    np.testing.assert_allclose(network(reference_spectrograms()), reference, atol=1e-4, rtol=1e-5)
    assert encoder.output_dim == 512


def test_aisfx_encodes_loader_spectrograms_and_tells_sounds_apart():
    encoder = load_or_skip(aisfx_sound_effects)
    options = aisfx_audio_options()
    t = np.arange(int(options.duration * options.sample_rate)) / options.sample_rate
    rng = np.random.default_rng(0)
    clips = {
        "low tone": 0.5 * np.sin(2 * np.pi * 220 * t),
        "low tone, louder": 0.9 * np.sin(2 * np.pi * 220 * t),
        "noise": 0.3 * rng.normal(size=len(t)).clip(-1, 1),
    }
    spectrograms = np.stack(
        [
            decode_audio(tf.constant(wav_bytes(c, options.sample_rate)), options).numpy()
            for c in clips.values()
        ]
    )
    assert spectrograms.shape == (3, 100, 96)
    e = encoder(spectrograms).numpy()
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.05


def test_aisfx_input_scale_matches_its_definition():
    options = aisfx_audio_options()
    layer = AisfxInput.for_options(options)
    band_power = np.full((1, 1, 96), 0.01, np.float32)
    log_mel = np.log(band_power * np.array(layer.band_sums, np.float32) + options.log_offset)
    expected = np.log10(0.01 * 1e4 + 1) / 9.457798957824707
    np.testing.assert_allclose(layer(log_mel), expected, rtol=1e-4)


def test_weight_mapping_needs_every_weight():
    with pytest.raises(KeyError):
        load_aisfx_weights(aisfx_embedding_net(), {})


@pytest.mark.parametrize(
    "make",
    [
        lambda: AudioEncoder.lstm(units=8, num_mel_bins=16),
        lambda: AudioEncoder.small_cnn(output_dim=8, num_mel_bins=16),
    ],
)
def test_small_audio_encoders_save_reload_and_train(make, tmp_path):
    encoder = make()
    inputs = keras.Input((20, 16))
    model = keras.Model(inputs, encoder(inputs))
    spectrograms = np.random.default_rng(0).normal(size=(4, 20, 16)).astype("float32")
    expected = model(spectrograms).numpy()
    assert expected.shape == (4, 8)
    model.save(tmp_path / "audio.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "audio.keras")(spectrograms), expected, atol=1e-5
    )
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    history = model.fit(spectrograms, np.ones((4, 8)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
