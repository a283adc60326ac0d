"""Fusing modality vectors by a (learned) weighted average."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class WeightedAverageFusion(keras.layers.Layer):
    """Averages an item's modality vectors with weights: [batch, n, d] to [batch, d].

        output = Σ_j w_j m_j x_j / Σ_j w_j m_j

    with m_j = 0 for a masked (missing) modality, so the weights of the
    present ones are renormalised; an item with nothing present gives zeros.
    The weights are fixed (`weights`, non-negative, one per modality) or, when
    `weights` is None, learned: w = softmax(logits), the logits starting at
    zero (a plain mean).

    Args:
        weights: list of n non-negative floats, or None to learn them. Defaults to None.
        **kwargs: standard layer arguments.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import WeightedAverageFusion
    >>> x = np.stack([np.zeros((1, 2)), np.ones((1, 2))], axis=1).astype("float32")
    >>> WeightedAverageFusion(weights=[1.0, 3.0])(x).numpy().tolist()
    [[0.75, 0.75]]
    """

    def __init__(self, weights=None, **kwargs):
        super().__init__(**kwargs)
        if weights is not None:
            weights = [float(w) for w in weights]
            if not weights or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(
                    f"weights must be non-negative with a positive sum. Received: weights={weights}"
                )
        self.fixed_weights = weights
        self.supports_masking = True

    def build(self, input_shape):
        num_modalities = input_shape[-2]
        if self.fixed_weights is not None:
            if len(self.fixed_weights) != num_modalities:
                raise ValueError(
                    f"got {len(self.fixed_weights)} weights for {num_modalities} modalities"
                )
            self.logits = None
        else:
            self.logits = self.add_weight(
                name="logits", shape=(num_modalities,), initializer="zeros"
            )

    def call(self, inputs, mask=None):
        if self.logits is None:
            weights = ops.convert_to_tensor(np.asarray(self.fixed_weights), self.compute_dtype)
        else:
            weights = ops.cast(ops.softmax(self.logits), self.compute_dtype)
        weights = ops.broadcast_to(weights, ops.shape(inputs)[:-1])
        if mask is not None:
            weights = ops.where(ops.cast(mask, "bool"), weights, ops.zeros_like(weights))
        total = ops.sum(weights, axis=-1, keepdims=True)
        weights = weights / ops.where(total > 0, total, ops.ones_like(total))
        return ops.sum(weights[..., None] * inputs, axis=-2)

    @property
    def modality_weights(self):
        """The normalised weights in use (before masking), as a NumPy array."""
        if self.logits is None:
            return np.asarray(self.fixed_weights) / sum(self.fixed_weights)
        return ops.convert_to_numpy(ops.softmax(self.logits))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"weights": self.fixed_weights})
        return config

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-2], input_shape[-1])
