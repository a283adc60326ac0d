"""Encoders for text, images, audio and video; TF Hub models; pretrained-weight imports."""

from mmrec_tf.encoders.aisfx import AisfxInput, aisfx_embedding_net, load_aisfx_weights
from mmrec_tf.encoders.audio import AudioEncoder, aisfx_audio_options
from mmrec_tf.encoders.hub import HubEncoder
from mmrec_tf.encoders.i3d import i3d, load_kinetics_weights
from mmrec_tf.encoders.image import ImageEncoder
from mmrec_tf.encoders.mobilenet_v2 import torchvision_mobilenet_v2
from mmrec_tf.encoders.motion_correlation import MotionCorrelation
from mmrec_tf.encoders.pretrained import (
    aisfx_sound_effects,
    aisfx_weights_path,
    i3d_kinetics400,
    i3d_weights_path,
    minilm,
    minilm_directory,
    mobilenet_v2_imagenet,
    mobilenet_v2_weights_path,
)
from mmrec_tf.encoders.text import TextEncoder
from mmrec_tf.encoders.video import FramePoolingVideoEncoder, VideoEncoder

__all__ = [
    "AisfxInput",
    "AudioEncoder",
    "aisfx_audio_options",
    "aisfx_embedding_net",
    "aisfx_sound_effects",
    "aisfx_weights_path",
    "load_aisfx_weights",
    "FramePoolingVideoEncoder",
    "HubEncoder",
    "VideoEncoder",
    "i3d",
    "i3d_kinetics400",
    "i3d_weights_path",
    "load_kinetics_weights",
    "ImageEncoder",
    "MotionCorrelation",
    "TextEncoder",
    "minilm",
    "minilm_directory",
    "mobilenet_v2_imagenet",
    "mobilenet_v2_weights_path",
    "torchvision_mobilenet_v2",
]
