"""A user as their history: self-attention over the vectors of their latest items."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.layers.initializers import clone_initializer
from mmrec_tf.layers.philox_dropout import PhiloxDropout
from mmrec_tf.layers.self_attention_layer import SelfAttentionLayer


@keras.saving.register_keras_serializable(package="mmrec_tf")
class HistoryEncoder(keras.layers.Layer):
    """Encodes a history of item vectors [batch, L, d] (oldest first, left-padded)
    into one user vector [batch, d].

    A Transformer block over the sequence (Kang & McAuley's SASRec, without
    the causal mask: only the final representation is used, so every item may
    see every other):

        H⁰ = X + P                         (P: a learned vector per recency
                                             position, position L−1 the latest)
        H¹ = LayerNorm(H⁰ + SelfAttention(H⁰))   (α = softmax(q·k/√d), separate
                                                  query, key, value; padding masked)
        H² = LayerNorm(H¹ + W₂ ReLU(W₁ H¹))
        user = H²[:, L−1]                  (`pooling="latest"`; `"mean"`: the
                                             mean over the present positions)

    with dropout on H⁰ and on both residual branches while training. A history
    with no item gives zeros.

    Args:
        length: int. L, the history window.
        num_heads: int. Attention heads. Defaults to 1.
        dropout: float. Defaults to 0.2.
        pooling: `"latest"` or `"mean"`. Defaults to `"latest"`.
        kernel_initializer: of the Dense kernels and the position vectors.
            Defaults to `"glorot_uniform"`.

    Example:
    >>> import numpy as np
    >>> encoder = HistoryEncoder(length=4)
    >>> items = np.random.rand(2, 4, 8).astype("float32")
    >>> present = np.array([[False, True, True, True], [False, False, False, True]])
    >>> tuple(encoder(items, mask=present).shape)
    (2, 8)
    """

    POOLINGS = ("latest", "mean")

    def __init__(
        self,
        length,
        num_heads=1,
        dropout=0.2,
        pooling="latest",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if length < 1:
            raise ValueError(f"length must be ≥ 1. Received: length={length}")
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling must be one of {self.POOLINGS}. Received: {pooling!r}")
        self.length = length
        self.num_heads = num_heads
        self.dropout = dropout
        self.pooling = pooling
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        units = input_shape[-1]
        self.positions = self.add_weight(
            shape=(self.length, units),
            initializer=clone_initializer(self.kernel_initializer, 0),
            name="positions",
        )
        self.attention = SelfAttentionLayer(
            units,
            self.num_heads,
            kernel_initializer=clone_initializer(self.kernel_initializer, 1),
            name="attention",
            dtype=self.dtype_policy,
        )
        self.attention.build(input_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            name="attention_norm", dtype=self.dtype_policy
        )
        self.attention_norm.build(input_shape)
        # Each Dense its own initializer: a shared one would start them identical.
        self.feedforward_in, self.feedforward_out = (
            keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=clone_initializer(self.kernel_initializer, index),
                name=name,
                dtype=self.dtype_policy,
            )
            for index, name, activation in (
                (2, "feedforward_in", "relu"),
                (3, "feedforward_out", None),
            )
        )
        self.feedforward_in.build(input_shape)
        self.feedforward_out.build(input_shape)
        self.feedforward_norm = keras.layers.LayerNormalization(
            name="feedforward_norm", dtype=self.dtype_policy
        )
        self.feedforward_norm.build(input_shape)
        self.dropout_layer = PhiloxDropout(self.dropout, dtype=self.dtype_policy)

    def call(self, inputs, mask=None, training=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        present = ops.cast(mask, inputs.dtype)[..., None]
        positions = ops.cast(self.positions, inputs.dtype)
        h = self.dropout_layer(inputs * present + positions, training=training)
        # Every step after attention is per position, so "latest" needs the
        # latest position's row alone: L times less attention to compute.
        queries = h[:, -1:] if self.pooling == "latest" else h
        attended = self.attention(h, mask=mask, training=training, queries=queries)
        return self._pooled(queries, attended, mask, training)

    def without_each(self, inputs, mask):
        """What `call` gives (inference) for a history of L + 1 items without each of them:
        `inputs` [batch, L + 1, d] and `mask` [batch, L + 1] in `call`'s order
        (oldest first, left-padded); row j of the result [batch, L + 1, d] encodes
        the latest L entries once entry j is removed (row 0: the latest L).

        With `pooling="latest"`, each item is projected once: the key and value
        projections are linear, so a shifted item's key is its own projection plus
        its new position's, x W + (p W + b), and the L + 1 histories cost what
        one does plus a gather, instead of L + 1 windows of projections (what
        leave-one-out explanations need; `deletions` gives the histories)."""
        if not self.built:
            self.build((None, self.length, inputs.shape[-1]))
        batch = ops.shape(inputs)[0]
        index = deletions(self.length)
        masks = ops.reshape(ops.take(mask, index, axis=1), (-1, self.length))
        if self.pooling != "latest":
            windows = ops.take(inputs, index, axis=1)
            windows = ops.reshape(windows, (-1, self.length, ops.shape(inputs)[-1]))
            return ops.reshape(
                self(windows, mask=masks), (batch, self.length + 1, inputs.shape[-1])
            )
        items = inputs * ops.cast(mask, inputs.dtype)[..., None]
        positions = ops.cast(self.positions, inputs.dtype)
        attention = self.attention

        def shifted(dense):  # [batch · (L + 1), L, units]: x W gathered, plus p W + b
            projected = ops.take(ops.matmul(items, dense.kernel), index, axis=1)
            return ops.reshape(projected + dense(positions), (-1, self.length, attention.units))

        queries = ops.take(items, index[:, -1], axis=1) + positions[-1]
        queries = ops.reshape(queries, (-1, 1, ops.shape(inputs)[-1]))
        attended = attention.attend(
            attention.query(queries), shifted(attention.key), shifted(attention.value), masks
        )
        return ops.reshape(
            self._pooled(queries, attended, masks), (batch, self.length + 1, inputs.shape[-1])
        )

    def _pooled(self, queries, attended, mask, training=None):
        """`call` after attention: the residual blocks, pooling, zeros for no history."""
        present = ops.cast(mask, queries.dtype)[..., None]
        h = self.attention_norm(queries + self.dropout_layer(attended, training=training))
        transformed = self.feedforward_out(self.feedforward_in(h))
        h = self.feedforward_norm(h + self.dropout_layer(transformed, training=training))
        if self.pooling == "latest":
            user = h[:, -1]
        else:
            user = ops.sum(h * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
        # A history without items is no evidence: zeros, not the position vectors' echo.
        return user * ops.cast(ops.any(mask, axis=1), user.dtype)[:, None]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "length": self.length,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "pooling": self.pooling,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def deletions(length: int):
    """int32 [length + 1, length]: row j gathers, from a history of `length` + 1
    entries (left-padded, the latest last), the latest `length` entries without
    entry j. Row 0 is the latest `length` themselves.

    Example:
    >>> deletions(2).tolist()
    [[1, 2], [0, 2], [0, 1]]
    """
    import numpy as np

    return np.array(
        [[p for p in range(length + 1) if p != j][-length:] for j in range(length + 1)], np.int32
    )
