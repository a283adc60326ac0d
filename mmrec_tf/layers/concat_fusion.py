"""Fusing modality vectors by concatenation."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.layers.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="mmrec_tf")
class ConcatFusion(keras.layers.Layer):
    """Concatenates an item's modality vectors: [batch, n, d] to [batch, n·d], then,
    with `output_dim`, projects them: [batch, n·d] to [batch, output_dim]
    (W [x_1; …; x_n] + b).

    A masked (missing) modality contributes zeros in its slot, so positions
    keep their meaning whatever is missing.

    Args:
        output_dim: int or None. The projection's size; None keeps the concatenation.
        kernel_initializer: the projection's initializer. Defaults to `"glorot_uniform"`.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import ConcatFusion
    >>> x = np.ones((2, 3, 4), "float32")
    >>> ConcatFusion()(x, mask=np.array([[1, 0, 1], [1, 1, 1]], bool)).numpy()[0].tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    >>> ConcatFusion(output_dim=5)(x).shape
    TensorShape([2, 5])
    """

    def __init__(self, output_dim=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection = None
        if output_dim is not None:
            self.projection = keras.layers.Dense(
                output_dim,
                kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy,
                name="projection",
            )

    def build(self, input_shape):
        if self.projection is not None:
            self.projection.build((input_shape[0], input_shape[-2] * input_shape[-1]))

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = ops.where(ops.cast(mask, "bool")[..., None], inputs, ops.zeros_like(inputs))
        batch = ops.shape(inputs)[0]
        concatenated = ops.reshape(inputs, (batch, inputs.shape[-2] * inputs.shape[-1]))
        return concatenated if self.projection is None else self.projection(concatenated)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim or input_shape[-2] * input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
