"""Encoders for text, images, audio and video; TF Hub models; pretrained-weight imports."""

from mmrec_tf.encoders.image import ImageEncoder
from mmrec_tf.encoders.mobilenet_v2 import torchvision_mobilenet_v2
from mmrec_tf.encoders.pretrained import (
    minilm,
    minilm_directory,
    mobilenet_v2_imagenet,
    mobilenet_v2_weights_path,
)
from mmrec_tf.encoders.text import TextEncoder

__all__ = [
    "ImageEncoder",
    "TextEncoder",
    "minilm",
    "minilm_directory",
    "mobilenet_v2_imagenet",
    "mobilenet_v2_weights_path",
    "torchvision_mobilenet_v2",
]
