"""Decoding images: format sniffed from the bytes, resized, normalised."""

from __future__ import annotations

import dataclasses

import tensorflow as tf

NORMALIZATIONS = ("unit", "symmetric", "imagenet", "raw")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    """How images are decoded.

    Args:
        size: (height, width) after resizing. Defaults to (224, 224).
        normalization: `"unit"` scales pixels to [0, 1], `"symmetric"` to
            [-1, 1], `"imagenet"` subtracts ImageNet's mean and divides by its
            standard deviation (after scaling to [0, 1]), `"raw"` keeps
            [0, 255] (for `keras.applications` models, whose own
            `preprocess_input` expects it). Defaults to `"unit"`.
        resize_method: a `tf.image.resize` method. Defaults to `"bilinear"`,
            with antialiasing when shrinking.
    """

    size: tuple[int, int] = (224, 224)
    normalization: str = "unit"
    resize_method: str = "bilinear"

    def __post_init__(self):
        _check_size(self.size)
        check_normalization(self.normalization)


def decode_image(contents: tf.Tensor, options: ImageOptions | None = None) -> tf.Tensor:
    """Decodes one encoded image to a float32 [height, width, 3] tensor.

    The format (JPEG, PNG, GIF, BMP, WebP) comes from the bytes, not from a file
    name, so a PNG named `.jpg` decodes. Grey and RGBA images become RGB; an
    animated GIF gives its first frame. Works in graph mode (inside `tf.data` or
    a SavedModel signature).

    Raises:
        tf.errors.InvalidArgumentError: for bytes that are no image or a
            truncated one. The loaders turn it into a `MediaError` naming the file.

    Example:
    >>> png = tf.io.encode_png(tf.zeros([4, 6, 3], tf.uint8))
    >>> decode_image(png, ImageOptions(size=(2, 3))).shape
    TensorShape([2, 3, 3])
    """
    options = options or ImageOptions()
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, 3])
    return resize_and_normalize(image, options)


def resize_and_normalize(image: tf.Tensor, options: ImageOptions) -> tf.Tensor:
    """Resizes uint8 or [0, 255] float images ([..., h, w, 3]) and normalises them."""
    image = tf.image.resize(
        tf.cast(image, tf.float32), options.size, method=options.resize_method, antialias=True
    )
    # Antialiased resizing can overshoot [0, 255] slightly at sharp edges.
    return normalize_pixels(tf.clip_by_value(image, 0.0, 255.0), options.normalization)


def normalize_pixels(pixels: tf.Tensor, normalization: str) -> tf.Tensor:
    """Maps [0, 255] pixel values as `normalization` says (see `ImageOptions`)."""
    check_normalization(normalization)
    if normalization == "raw":
        return pixels
    if normalization == "symmetric":
        return pixels / 127.5 - 1.0
    unit = pixels / 255.0
    if normalization == "imagenet":
        return (unit - tf.constant(_IMAGENET_MEAN)) / tf.constant(_IMAGENET_STD)
    return unit


def check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}. "
            f"Received: normalization={normalization!r}"
        )


def _check_size(size) -> None:
    if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(
            f"size must be (height, width) of positive integers. Received: size={size}"
        )
