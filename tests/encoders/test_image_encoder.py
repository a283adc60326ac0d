from pathlib import Path

import keras
import numpy as np
import pytest
from fixtures.make_reference_outputs import reference_images
from pretrained import load_or_skip

from mmrec_tf.encoders import ImageEncoder, mobilenet_v2_imagenet, torchvision_mobilenet_v2
from mmrec_tf.encoders.mobilenet_v2 import load_torchvision_weights

FIXTURE = Path(__file__).parent.parent / "fixtures" / "mobilenet_v2_reference.npz"


def _unit_images():
    """The reference images, mapped back to [0, 1] pixels (the loader's default)."""
    return (reference_images() * [0.229, 0.224, 0.225] + [0.485, 0.456, 0.406]).astype("float32")


def test_mobilenet_v2_matches_torchvision():
    """Reference: torchvision's forward pass in torch (tests/fixtures/make_reference_outputs.py)."""
    reference = np.load(FIXTURE)
    encoder = load_or_skip(mobilenet_v2_imagenet)
    features = encoder(_unit_images()).numpy()
    np.testing.assert_allclose(features, reference["features"], atol=1e-4, rtol=1e-4)
    assert encoder.output_dim == 1280
    top = mobilenet_v2_imagenet(include_top=True)
    logits = top(_unit_images()).numpy()
    np.testing.assert_allclose(logits, reference["logits"], atol=2e-4, rtol=1e-4)
    # The second load reads the converted Keras weights from the cache.
    np.testing.assert_array_equal(mobilenet_v2_imagenet()(_unit_images()), features)


def test_torchvision_padding_differs_from_keras_applications():
    """Symmetric padding matters: shifting the padding changes the output."""
    model = torchvision_mobilenet_v2()
    images = reference_images(count=1, size=64).astype("float32")
    first_pad = model.get_layer("features_0_pad")
    assert first_pad.padding == ((1, 1), (1, 1))
    assert model(images).shape == (1, 1280)


def test_weight_mapping_rejects_mismatches():
    model = torchvision_mobilenet_v2()
    with pytest.raises(KeyError):
        load_torchvision_weights(model, {})


def test_small_encoder_saves_reloads_and_trains(tmp_path):
    encoder = ImageEncoder.small(output_dim=8)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, encoder(inputs))
    images = np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32")
    expected = model(images).numpy()
    model.save(tmp_path / "image.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "image.keras")(images), expected, atol=1e-6
    )
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    history = model.fit(images, np.ones((4, 8)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    frozen = ImageEncoder.small(output_dim=8, trainable=False)
    assert not frozen.trainable_weights and frozen.backbone.trainable is False


@pytest.mark.parametrize("name", ["VGG16", "MobileNetV2", "ResNet50", "EfficientNetB0"])
def test_keras_applications_backbones_by_name(name):
    encoder = ImageEncoder.from_keras_applications(name, weights=None, input_shape=(64, 64, 3))
    out = encoder(np.random.default_rng(0).random((1, 64, 64, 3)).astype("float32"))
    assert out.shape == (1, encoder.output_dim) and np.isfinite(out.numpy()).all()


def test_keras_applications_preprocessing_is_applied():
    encoder = ImageEncoder.from_keras_applications("VGG16", weights=None, input_shape=(32, 32, 3))
    white = np.ones((1, 2, 2, 3), "float32")
    # VGG16: RGB to BGR, minus the ImageNet channel means, on [0, 255] pixels.
    expected = 255.0 - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(encoder._preprocess(white)[0, 0, 0], expected, atol=1e-3)


def test_local_weights_file_loads(tmp_path):
    source = ImageEncoder.from_keras_applications(
        "MobileNetV2", weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path / "mobilenet.weights.h5"
    source.backbone.save_weights(path)
    loaded = ImageEncoder.from_keras_applications(
        "MobileNetV2", weights=str(path), input_shape=(32, 32, 3)
    )
    images = np.random.default_rng(1).random((1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(images), source(images), atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="name must be one of"):
        ImageEncoder.from_keras_applications("AlexNet", weights=None)
    with pytest.raises(ValueError, match="preprocessing must be"):
        ImageEncoder(None, preprocessing="caffe")
