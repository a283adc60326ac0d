"""Image encoders: keras.applications backbones, torchvision-exact MobileNetV2, a small CNN."""

from __future__ import annotations

import importlib

import keras
import numpy as np
from keras import ops

from mmrec_tf.encoders.backbone_encoder import BackboneEncoder

# keras.applications constructor and the module holding its preprocess_input.
APPLICATIONS = {
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "MobileNetV2": "mobilenet_v2",
    "ResNet50": "resnet",
    "EfficientNetB0": "efficientnet",
}
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


@keras.saving.register_keras_serializable(package="mmrec_tf")
class ImageEncoder(BackboneEncoder):
    """Encodes images to vectors with a convolutional backbone.

    Inputs are the image loader's default output: [batch, height, width, 3]
    with pixels in [0, 1] (`ImageOptions(normalization="unit")`). The encoder
    applies its backbone's own preprocessing (`preprocessing`), runs it, and
    global-average-pools a feature map if the backbone returns one.

    Build one with `ImageEncoder.from_keras_applications("VGG16")` (as the
    design document uses; `weights="imagenet"` downloads when online, a path
    loads a local weights file, None starts from random weights),
    `ImageEncoder.small()` (a small CNN to train from scratch), or
    `mmrec_tf.encoders.mobilenet_v2_imagenet()` (torchvision's ImageNet
    weights, offline).

    Args:
        backbone: a Keras model from images to a feature vector or map.
        preprocessing: `"imagenet"` (ImageNet mean and standard deviation, as
            torchvision models expect), `"keras_applications.<module>"` (pixels
            scaled to [0, 255], then that module's `preprocess_input`), or
            `"none"`. Defaults to `"none"`.
        **kwargs: standard layer arguments (`trainable=False` freezes the backbone).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import ImageEncoder
    >>> ImageEncoder.small(output_dim=16)(np.random.rand(2, 32, 32, 3)).shape
    TensorShape([2, 16])
    """

    def __init__(self, backbone, preprocessing="none", trainable=True, **kwargs):
        _check_preprocessing(preprocessing)
        super().__init__(backbone, trainable=trainable, **kwargs)
        self.preprocessing = preprocessing

    @classmethod
    def from_keras_applications(cls, name, weights="imagenet", input_shape=(224, 224, 3), **kwargs):
        """A `keras.applications` backbone by name, without its classifier, average-pooled."""
        if name not in APPLICATIONS:
            raise ValueError(f"name must be one of {sorted(APPLICATIONS)}. Received: {name!r}")
        constructor = getattr(keras.applications, name)
        backbone = constructor(
            include_top=False, weights=weights, input_shape=input_shape, pooling="avg"
        )
        return cls(backbone, preprocessing=f"keras_applications.{APPLICATIONS[name]}", **kwargs)

    @classmethod
    def small(cls, output_dim=64, widths=(16, 32, 64), **kwargs):
        """A small CNN (3×3 convolutions, stride 2, batch norm, ReLU), random weights."""
        layers = []
        for width in widths:
            layers += [
                keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
            ]
        layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(output_dim)]
        backbone = keras.Sequential([keras.Input((None, None, 3)), *layers], name="small_cnn")
        return cls(backbone, **kwargs)

    def call(self, images, training=None):
        features = self.backbone(self._preprocess(images), training=training)
        if len(features.shape) == 4:
            features = ops.mean(features, axis=(1, 2))
        return features

    def _preprocess(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.preprocessing == "imagenet":
            return (images - _IMAGENET_MEAN) / _IMAGENET_STD
        if self.preprocessing.startswith("keras_applications."):
            module = importlib.import_module(
                f"keras.applications.{self.preprocessing.split('.', 1)[1]}"
            )
            return module.preprocess_input(images * 255.0)
        return images

    def get_config(self):
        config = super().get_config()
        config["preprocessing"] = self.preprocessing
        return config


def _check_preprocessing(preprocessing):
    modules = {f"keras_applications.{m}" for m in APPLICATIONS.values()}
    if preprocessing not in {"imagenet", "none"} | modules:
        raise ValueError(
            "preprocessing must be 'imagenet', 'none' or one of "
            f"{sorted(modules)}. Received: {preprocessing!r}"
        )
