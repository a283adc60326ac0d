"""Fusing modality vectors by their mean over the modalities an item has."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class MaskedMeanFusion(keras.layers.Layer):
    """The mean of an item's present modality vectors: [batch, n, d] to [batch, d].

        fused = Σ_j m_j x_j / max(Σ_j m_j, 1)

    with m_j = 1 for a present modality and 0 for a masked (missing) one, so a
    missing modality neither counts nor dilutes the others; an item with no
    modality gets zeros. No weights (`WeightedAverageFusion` learns them).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import MaskedMeanFusion
    >>> x = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], "float32")
    >>> MaskedMeanFusion()(x, mask=np.array([[True, True, False]])).numpy().tolist()
    [[2.0, 3.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=-2)
        weights = ops.cast(mask, inputs.dtype)[..., None]
        total = ops.sum(inputs * weights, axis=-2)
        return total / ops.maximum(ops.sum(weights, axis=-2), ops.ones((), inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-2], input_shape[-1])
