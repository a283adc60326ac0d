"""Dropout whose mask XLA on CPU draws fast."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class PhiloxDropout(keras.layers.Layer):
    """Inverted dropout, as `keras.layers.Dropout`, with its mask drawn by Philox.

    While training, each entry is kept with probability 1 − rate and scaled:

        y = x · m / (1 − rate),   m ~ Bernoulli(1 − rate)

    and y = x otherwise. Keras's `Dropout` (TensorFlow backend) draws its mask
    with TensorFlow's auto-selected generator, which XLA on CPU compiles to a
    slow one: for a [512, 50, 64] tensor on one thread we measured 48 ms for
    the mask alone against 2.5 ms with Philox (TF 2.21). The
    seeds come from a `keras.random.SeedGenerator`, so
    `keras.utils.set_random_seed` makes runs reproducible as with Keras's
    layer.

    Args:
        rate: float in [0, 1). The fraction of entries dropped.
        seed: int or None. Seed of the layer's generator.

    Example:
    >>> import numpy as np
    >>> layer = PhiloxDropout(0.5, seed=1)
    >>> x = np.ones((2, 4), "float32")
    >>> bool(np.all(layer(x) == x))  # inference: unchanged
    True
    >>> sorted(set(np.asarray(layer(x, training=True)).ravel().tolist())) in ([0.0, 2.0], [2.0])
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        draws = tf.random.stateless_uniform(
            ops.shape(inputs), seed, dtype=inputs.dtype, alg="philox"
        )
        kept = draws >= ops.cast(self.rate, inputs.dtype)
        return ops.where(kept, inputs / (1 - self.rate), ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
