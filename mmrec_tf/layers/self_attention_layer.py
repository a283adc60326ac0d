"""Self-attention across the modalities (or any set) of an item."""

from __future__ import annotations

import math

import keras
from keras import ops

from mmrec_tf.layers.initializers import clone_initializer
from mmrec_tf.layers.masked_softmax import masked_softmax
from mmrec_tf.layers.philox_dropout import PhiloxDropout


@keras.saving.register_keras_serializable(package="mmrec_tf")
class SelfAttentionLayer(keras.layers.Layer):
    """Scaled dot-product self-attention over a set of tokens, with masking.

    Each token (one per modality of an item) is projected by three separate
    Dense layers, `query`, `key` and `value`. Token i attends to the tokens j
    that are present:

        α_ij = softmax_j(q_i · k_j / √d_head)   over unmasked j
        output_i = Σ_j α_ij v_j

    With `num_heads > 1`, `units` is split across heads (d_head = units /
    num_heads) and a Dense layer named `output` (the attribute
    `output_dense`) merges the heads; with one head there is no output
    projection.

    Masking: `mask` ([batch, n] booleans, False for a missing modality) removes
    keys: a masked token gets exactly zero weight. An item with every token
    masked gives zeros (never NaN). The mask propagates to the next layer
    (Keras masking).

    Args:
        units: int. Size of the query, key and value projections and of the output.
        num_heads: int. Number of attention heads; must divide `units`. Defaults to 1.
        dropout: float. Dropout rate on the attention weights during training.
            Defaults to 0.
        use_bias: bool. Whether the projections have biases. Defaults to True.
        kernel_initializer: initializer of the projection kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the projection biases. Defaults to `"zeros"`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [batch, n, d] tokens.
        mask: optional [batch, n] booleans, False for a missing token.
        return_attention_scores: also return α [batch, heads, n, n].
        queries: optional [batch, m, d]: compute only these tokens' outputs,
            attending over `inputs` (default: every token of `inputs`). A model
            that reads one position, as `HistoryEncoder` reads the latest, saves
            the other n − 1 rows of α. The output has m rows; the Keras mask
            it carries is still the inputs' (Keras computes it without this
            argument), so do not rely on it.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import SelfAttentionLayer
    >>> layer = SelfAttentionLayer(8, num_heads=2)
    >>> tokens = np.random.rand(4, 3, 16).astype("float32")  # 4 items, 3 modalities
    >>> present = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], bool)
    >>> outputs, scores = layer(tokens, mask=present, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(scores.shape)
    ((4, 3, 8), (4, 2, 3, 3))

    References:
        Vaswani et al., "Attention Is All You Need", 2017 (the α_ij formula).
    """

    def __init__(
        self,
        units,
        num_heads=1,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1 or num_heads < 1 or units % num_heads:
            raise ValueError(
                "units must be a positive multiple of num_heads. "
                f"Received: units={units}, num_heads={num_heads}"
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
        self.units = units
        self.num_heads = num_heads
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        def dense(name, shape, index):
            # Each projection its own initializer: a shared one starts them identical.
            layer = keras.layers.Dense(
                self.units,
                use_bias=self.use_bias,
                kernel_initializer=clone_initializer(self.kernel_initializer, index),
                bias_initializer=clone_initializer(self.bias_initializer, index),
                name=name,
                dtype=self.dtype_policy,
            )
            layer.build(shape)
            return layer

        self.query = dense("query", input_shape, 0)
        self.key = dense("key", input_shape, 1)
        self.value = dense("value", input_shape, 2)
        # Named "output"; the attribute cannot be, as Layer.output is Keras's own.
        self.output_dense = None
        if self.num_heads > 1:
            self.output_dense = dense("output", (*input_shape[:-1], self.units), 3)
        self.attention_dropout = PhiloxDropout(self.dropout, dtype=self.dtype_policy)

    def call(self, inputs, mask=None, return_attention_scores=False, training=None, queries=None):
        query = self.query(inputs if queries is None else queries)
        return self.attend(
            query, self.key(inputs), self.value(inputs), mask, return_attention_scores, training
        )

    def attend(self, query, key, value, mask=None, return_attention_scores=False, training=None):
        """What `call` does after its projections: `query` [batch, n_q, units] attends
        over `key` and `value` [batch, n, units] (`mask` [batch, n]). For a caller
        that projects once what many sequences share (`HistoryEncoder.without_each`)."""
        query = self._split_heads(query)
        key, value = self._split_heads(key), self._split_heads(value)
        head_size = self.units // self.num_heads
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) / math.sqrt(head_size)
        if mask is None:
            allowed = ops.ones_like(scores, dtype="bool")
        else:
            allowed = ops.cast(mask, "bool")[:, None, None, :]
        weights = masked_softmax(scores, allowed)
        weights = ops.cast(self.attention_dropout(weights, training=training), self.compute_dtype)
        attended = ops.matmul(weights, value)  # [batch, heads, n, head_size]
        batch, _, n, _ = ops.shape(attended)
        outputs = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (batch, n, self.units))
        if self.output_dense is not None:
            outputs = self.output_dense(outputs)
            if mask is not None:
                # Keep "no modality at all gives zeros" true despite the output bias.
                any_present = ops.any(ops.cast(mask, "bool"), axis=-1)[:, None, None]
                outputs = ops.where(any_present, outputs, ops.zeros_like(outputs))
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def _split_heads(self, x):
        batch, n = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, n, self.num_heads, self.units // self.num_heads))
        return ops.transpose(x, (0, 2, 1, 3))
