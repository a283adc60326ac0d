"""Encoders for text, images, audio and video; TF Hub models; pretrained-weight imports."""

from mmrec_tf.encoders.pretrained import minilm, minilm_directory
from mmrec_tf.encoders.text import TextEncoder

__all__ = ["TextEncoder", "minilm", "minilm_directory"]
