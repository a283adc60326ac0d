"""A clip's global motion: the correlation of each frame with the next, shifted."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class MotionCorrelation(keras.layers.Layer):
    """How well each frame matches the next one moved by δ, for every small δ.

    Frames are reduced to a `grid_size` × `grid_size` grid (area averaging)
    and centred per frame and channel, z_t = f_t − mean_x f_t. Then, for
    every displacement δ = (dy, dx) with |dy|, |dx| ≤ `max_displacement`:

        c(δ) = Σ_{t,x} z_t(x) · z_{t+1}(x + δ)  /  Σ_{t,x} z_t(x) · z_t(x)

    (positions wrap around the frame). Content that moves by δ between
    frames makes c(δ) large whatever its colour or where it is: c is
    FlowNet's correlation layer pooled over the whole clip, the dominant
    motion's histogram. Parameter-free; frame appearance is left to a frame
    encoder (`FramePoolingVideoEncoder(..., max_displacement=r)` joins both).
    A clip of one frame, or whose frames are each constant (contrast below
    1/1000 of the pixel range), gives zeros.

    Input [batch, frames, height, width, channels]; output
    [batch, (2 · max_displacement + 1)²], displacements in row-major order
    (dy from −r to r, then dx).

    Args:
        max_displacement: int. r, in grid cells. Defaults to 3.
        grid_size: int. Defaults to 16.
        **kwargs: standard layer arguments.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import MotionCorrelation
    >>> clip = np.zeros((1, 4, 16, 16, 1), "float32")
    >>> for t in range(4):
    ...     clip[0, t, 4:8, 2 * t : 2 * t + 4] = 1.0  # a square moving right
    >>> c = MotionCorrelation(max_displacement=2)(clip).numpy().reshape(5, 5)
    >>> [int(i) for i in np.unravel_index(c.argmax(), c.shape)]  # dy = 0, dx = +2
    [2, 4]
    """

    def __init__(self, max_displacement=3, grid_size=16, **kwargs):
        super().__init__(**kwargs)
        if max_displacement < 1:
            raise ValueError(f"max_displacement must be ≥ 1. Received: {max_displacement}")
        if grid_size <= max_displacement:
            raise ValueError(
                f"grid_size must exceed max_displacement. Received: {grid_size} ≤ "
                f"{max_displacement}"
            )
        self.max_displacement = max_displacement
        self.grid_size = grid_size

    @property
    def output_dim(self) -> int:
        return (2 * self.max_displacement + 1) ** 2

    def call(self, video):
        video = ops.cast(video, self.compute_dtype)
        frames = video.shape[1]
        if frames is not None and frames < 2:
            return ops.zeros((ops.shape(video)[0], self.output_dim), self.compute_dtype)
        # Area averaging as two matrix products: any frame size, and XLA compiles it
        # (tf.image's area resize does not compile).
        rows = ops.convert_to_tensor(_area_weights(video.shape[2], self.grid_size), video.dtype)
        cols = ops.convert_to_tensor(_area_weights(video.shape[3], self.grid_size), video.dtype)
        clip = ops.einsum("gh,bthwc,kw->btgkc", rows, video, cols)
        clip = clip - ops.mean(clip, axis=(2, 3), keepdims=True)
        now, later = clip[:, :-1], clip[:, 1:]
        energy = ops.sum(now * now, axis=(1, 2, 3, 4))
        r = self.max_displacement
        correlations = [
            # roll by −δ: the shifted frame at x holds the next frame at x + δ.
            ops.sum(now * ops.roll(later, (-dy, -dx), axis=(2, 3)), axis=(1, 2, 3, 4))
            for dy in range(-r, r + 1)
            for dx in range(-r, r + 1)
        ]
        correlations = ops.stack(correlations, axis=-1)
        # Below a contrast of 1/1000 of the pixel range a clip counts as constant:
        # dividing its rounding noise by itself would make up a motion.
        count = ops.cast(ops.size(now) // ops.shape(now)[0], energy.dtype)
        visible = energy[:, None] > 1e-6 * count
        safe = ops.where(visible, energy[:, None], ops.ones_like(energy[:, None]))
        return ops.where(visible, correlations / safe, ops.zeros_like(correlations))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"max_displacement": self.max_displacement, "grid_size": self.grid_size})
        return config


def _area_weights(size: int, cells: int) -> np.ndarray:
    """[cells, size]: row i averages the pixels under cell i, by how much each overlaps it."""
    edges = np.linspace(0.0, size, cells + 1)
    pixels = np.arange(size)
    overlap = np.clip(
        np.minimum(edges[1:, None], pixels[None, :] + 1.0)
        - np.maximum(edges[:-1, None], pixels[None, :]),
        0.0,
        None,
    )
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
