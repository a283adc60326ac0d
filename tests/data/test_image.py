import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data import ImageOptions, decode_image


def _png(pixels):
    return tf.io.encode_png(np.asarray(pixels, np.uint8)).numpy()


def test_png_decodes_exactly_and_normalisations_match_numpy():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(8, 6, 3)).astype(np.uint8)
    encoded = _png(pixels)
    unit = decode_image(encoded, ImageOptions(size=(8, 6))).numpy()
    np.testing.assert_allclose(unit, pixels / 255.0, atol=1e-6)
    symmetric = decode_image(encoded, ImageOptions(size=(8, 6), normalization="symmetric"))
    np.testing.assert_allclose(symmetric, pixels / 127.5 - 1, atol=1e-6)
    imagenet = decode_image(encoded, ImageOptions(size=(8, 6), normalization="imagenet"))
    expected = (pixels / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(imagenet, expected, atol=1e-5)
    raw = decode_image(encoded, ImageOptions(size=(8, 6), normalization="raw"))
    np.testing.assert_allclose(raw, pixels, atol=1e-4)


def test_resize_of_a_constant_image_keeps_the_colour():
    encoded = tf.io.encode_jpeg(tf.fill([40, 30, 3], tf.constant(100, tf.uint8)), quality=100)
    image = decode_image(encoded, ImageOptions(size=(7, 9), normalization="raw")).numpy()
    assert image.shape == (7, 9, 3)
    np.testing.assert_allclose(image, 100, atol=1.5)


def test_format_comes_from_the_bytes_grey_and_rgba_become_rgb():
    grey = tf.io.encode_png(np.full((4, 4, 1), 50, np.uint8)).numpy()
    rgba = tf.io.encode_png(np.full((4, 4, 4), 200, np.uint8)).numpy()
    for encoded, value in ((grey, 50), (rgba, 200)):
        out = decode_image(encoded, ImageOptions(size=(4, 4), normalization="raw")).numpy()
        assert out.shape == (4, 4, 3)
        np.testing.assert_allclose(out, value, atol=1e-4)


@pytest.mark.parametrize("contents", [b"", b"hello, I am text", None])
def test_bad_bytes_raise(contents):
    if contents is None:  # a truncated JPEG
        jpeg = tf.io.encode_jpeg(tf.zeros([64, 64, 3], tf.uint8)).numpy()
        contents = jpeg[: len(jpeg) // 2]
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(contents)


def test_options_are_validated():
    with pytest.raises(ValueError, match="normalization must be one of"):
        ImageOptions(normalization="zscore")
    with pytest.raises(ValueError, match="size must be"):
        ImageOptions(size=(0, 3))
