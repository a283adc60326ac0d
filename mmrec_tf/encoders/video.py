"""Video encoders: I3D, and an image encoder applied to each frame then pooled."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.encoders.backbone_encoder import BackboneEncoder
from mmrec_tf.encoders.i3d import i3d
from mmrec_tf.encoders.motion_correlation import MotionCorrelation

OUTPUTS = ("features", "logits")


@keras.saving.register_keras_serializable(package="mmrec_tf")
class VideoEncoder(BackboneEncoder):
    """Encodes clips with a 3-D network such as I3D.

    Inputs are the video loader's default output: [batch, frames, height,
    width, 3] with pixels in [0, 1]; they are mapped to [-1, 1] as I3D expects.
    The backbone returns a dict; `output` picks `features` (1024-d for I3D)
    or `logits` (Kinetics-400 classes).

    Build one with `VideoEncoder.i3d(...)` (random weights, to train) or
    `mmrec_tf.encoders.i3d_kinetics400()` (DeepMind's Kinetics-400 weights).

    Args:
        backbone: a Keras model from [-1, 1] clips to `{"features", "logits"}`.
        output: `"features"` or `"logits"`. Defaults to `"features"`.
        **kwargs: standard layer arguments (`trainable=False` freezes the backbone).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import VideoEncoder
    >>> encoder = VideoEncoder.i3d(num_frames=8, size=64)
    >>> encoder(np.random.rand(1, 8, 64, 64, 3)).shape
    TensorShape([1, 1024])
    """

    def __init__(self, backbone, output="features", trainable=True, **kwargs):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}. Received: output={output!r}")
        super().__init__(backbone, trainable=trainable, **kwargs)
        self.output_name = output

    @classmethod
    def i3d(cls, num_frames=16, size=224, output="features", **kwargs):
        """An I3D network with random weights, for clips of `num_frames` × `size` × `size`."""
        return cls(i3d(num_frames, size), output=output, **kwargs)

    @property
    def output_dim(self) -> int:
        return int(self.backbone.output[self.output_name].shape[-1])

    def call(self, video, training=None):
        clip = ops.cast(video, self.compute_dtype) * 2.0 - 1.0
        return self.backbone(clip, training=training)[self.output_name]

    def get_config(self):
        config = super().get_config()
        config["output"] = self.output_name
        return config


@keras.saving.register_keras_serializable(package="mmrec_tf")
class FramePoolingVideoEncoder(BackboneEncoder):
    """Encodes each frame with an image encoder and averages over time; optionally
    adds the clip's motion.

    The cheap alternative to I3D. Frame pooling alone sees what frames show,
    not how things move; with `max_displacement > 0` the output also holds
    `MotionCorrelation(max_displacement)`: how strongly the frames shift by
    each small displacement from one frame to the next (the dominant motion's
    direction and speed, parameter-free). Input [batch, frames, height,
    width, 3] in [0, 1]; output [batch, backbone.output_dim] followed by
    (2 · max_displacement + 1)² motion values.

    Args:
        backbone: the image encoder applied to every frame (an `ImageEncoder`,
            or any layer from images to vectors with an `output_dim`).
        max_displacement: int. 0 for frame pooling only. Defaults to 0.
        **kwargs: standard layer arguments (`trainable=False` freezes it).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import FramePoolingVideoEncoder, ImageEncoder
    >>> encoder = FramePoolingVideoEncoder(ImageEncoder.small(output_dim=16))
    >>> encoder(np.random.rand(2, 4, 32, 32, 3)).shape
    TensorShape([2, 16])
    >>> moving = FramePoolingVideoEncoder(ImageEncoder.small(output_dim=16), max_displacement=2)
    >>> moving(np.random.rand(2, 4, 32, 32, 3)).shape
    TensorShape([2, 41])
    """

    def __init__(self, backbone, max_displacement=0, trainable=True, **kwargs):
        super().__init__(backbone, trainable=trainable, **kwargs)
        self.max_displacement = max_displacement
        self.motion = MotionCorrelation(max_displacement) if max_displacement else None

    @property
    def output_dim(self) -> int:
        return self.backbone.output_dim + (self.motion.output_dim if self.motion else 0)

    def call(self, video, training=None):
        batch, frames = ops.shape(video)[0], ops.shape(video)[1]
        images = ops.reshape(video, (batch * frames, *video.shape[2:]))
        vectors = self.backbone(images, training=training)
        pooled = ops.mean(ops.reshape(vectors, (batch, frames, vectors.shape[-1])), axis=1)
        if self.motion is None:
            return pooled
        motion = ops.cast(self.motion(video), pooled.dtype)
        return ops.concatenate([pooled, motion], axis=-1)

    def get_config(self):
        config = super().get_config()
        config["max_displacement"] = self.max_displacement
        return config
