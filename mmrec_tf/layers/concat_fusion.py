"""Fusing modality vectors by concatenation."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class ConcatFusion(keras.layers.Layer):
    """Concatenates an item's modality vectors: [batch, n, d] to [batch, n·d].

    A masked (missing) modality contributes zeros in its slot, so positions
    keep their meaning whatever is missing.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import ConcatFusion
    >>> x = np.ones((2, 3, 4), "float32")
    >>> ConcatFusion()(x, mask=np.array([[1, 0, 1], [1, 1, 1]], bool)).numpy()[0].tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = ops.where(ops.cast(mask, "bool")[..., None], inputs, ops.zeros_like(inputs))
        batch = ops.shape(inputs)[0]
        return ops.reshape(inputs, (batch, inputs.shape[-2] * inputs.shape[-1]))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-2] * input_shape[-1])
