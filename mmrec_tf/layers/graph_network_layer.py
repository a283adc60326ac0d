"""Graph propagation with dot-product attention over each node's neighbours."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from mmrec_tf.data.graphs import self_loop_edges
from mmrec_tf.layers.masked_softmax import masked_softmax
from mmrec_tf.layers.philox_dropout import PhiloxDropout


@keras.saving.register_keras_serializable(package="mmrec_tf")
class GraphNetworkLayer(keras.layers.Layer):
    """One step of message passing over a graph: the document's X⁽ᵗ⁺¹⁾ = ReLU(Σ_j α_ij W X_j⁽ᵗ⁾).

    Nodes are first transformed, h = x · kernel + bias. Then, with
    `attention=True`:

        α_ij = softmax over the neighbours j of i of (h_i · h_j / √units)
        output_i = activation(Σ_j α_ij h_j)

    and with `attention=False`, output = activation(Â h), Â being the
    adjacency as given (normalise it first, e.g. with
    `mmrec_tf.data.normalize_adjacency`). Attention uses only which edges exist;
    the plain propagation also uses their weights.

    With `add_self_loops=True` every node is its own neighbour exactly once:
    a self loop already in the adjacency is kept as it is (never doubled), a
    missing one is added with weight 1. A node without neighbours gets
    activation(0).

    Two forms:

    * one graph: `node_features` [N, d] and `adjacency` [N, N], a
      `tf.SparseTensor` (edge lists, gathers and segment sums: memory linear
      in the number of edges, no N×N matrix is ever built) or a dense tensor
      (same result);
    * a batch of small dense graphs: `node_features` [batch, n, d] and
      `adjacency` [batch, n, n], or None for fully connected graphs (the
      modalities of an item). `mask` [batch, n] removes absent nodes from
      every neighbourhood and propagates.

    Args:
        units: int. Output size (and size of h).
        activation: activation applied to the aggregated messages. Defaults to `"relu"`.
        attention: bool. Attention-weighted (True) or plain adjacency (False)
            propagation. Defaults to True.
        use_bias: bool. Defaults to True.
        add_self_loops: bool. Defaults to True.
        dropout: float. Dropout on the attention weights (or edge weights)
            during training. Defaults to 0.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        **kwargs: standard layer arguments.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> from mmrec_tf.layers import GraphNetworkLayer
    >>> edges = tf.SparseTensor([[0, 1], [1, 0], [1, 2], [2, 1]], [1.0] * 4, [3, 3])
    >>> GraphNetworkLayer(4)(np.ones((3, 5), "float32"), edges).shape
    TensorShape([3, 4])

    References:
        The design document's graph network formula; Veličković et al.,
        "Graph Attention Networks", 2018, for attention restricted to neighbours.
    """

    def __init__(
        self,
        units,
        activation="relu",
        attention=True,
        use_bias=True,
        add_self_loops=True,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be positive. Received: units={units}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.attention = attention
        self.use_bias = use_bias
        self.add_self_loops = add_self_loops
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, node_features_shape, adjacency_shape=None):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(node_features_shape[-1], self.units),
            initializer=self.kernel_initializer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer
            )
        self.weights_dropout = PhiloxDropout(self.dropout, dtype=self.dtype_policy)

    def call(self, node_features, adjacency=None, mask=None, training=None):
        h = ops.matmul(node_features, self.kernel)
        if self.bias is not None:
            h = h + self.bias
        if isinstance(adjacency, tf.SparseTensor):
            if mask is not None:
                raise ValueError(
                    "mask is for the batched dense form; drop masked nodes' "
                    "edges from a sparse adjacency instead"
                )
            return self.activation(self._propagate_sparse(h, adjacency, training))
        return self.activation(self._propagate_dense(h, adjacency, mask, training))

    def _propagate_sparse(self, h, adjacency, training):
        # A static node count keeps the segment ops compilable by XLA.
        num_nodes = h.shape[0] if h.shape[0] is not None else ops.shape(h)[0]
        if self.add_self_loops:
            rows, cols, values, active = self_loop_edges(adjacency, num_nodes)
        else:
            rows, cols = adjacency.indices[:, 0], adjacency.indices[:, 1]
            values = ops.cast(adjacency.values, "float32")
            active = ops.ones_like(values, dtype="bool")
        messages = ops.take(h, cols, axis=0)
        if self.attention:
            logits = ops.sum(ops.take(h, rows, axis=0) * messages, axis=-1)
            logits = ops.cast(logits, "float32") / math.sqrt(self.units)
            # Softmax within each row's edges, shifted by the row maximum. An
            # inactive (duplicate) self loop has its twin's logit: the maximum
            # is unchanged, and its weight is zeroed.
            row_max = tf.math.unsorted_segment_max(logits, rows, num_nodes)
            exponentials = ops.exp(logits - ops.take(row_max, rows))
            exponentials = ops.where(active, exponentials, ops.zeros_like(exponentials))
            totals = tf.math.unsorted_segment_sum(exponentials, rows, num_nodes)
            values = exponentials / ops.take(totals, rows)
        values = ops.cast(self.weights_dropout(values, training=training), h.dtype)
        return tf.math.unsorted_segment_sum(values[:, None] * messages, rows, num_nodes)

    def _propagate_dense(self, h, adjacency, mask, training):
        num_nodes = ops.shape(h)[-2]
        eye = ops.eye(num_nodes, dtype="bool")
        if adjacency is None:
            weights = ops.ones((num_nodes, num_nodes))
            if not self.add_self_loops:
                weights = ops.where(eye, ops.zeros_like(weights), weights)
        else:
            weights = ops.cast(adjacency, "float32")
            if self.add_self_loops:
                has_loop = ops.not_equal(ops.diagonal(weights, axis1=-2, axis2=-1), 0)
                weights = ops.where(eye & ~has_loop[..., None, :], ops.ones_like(weights), weights)
        weights = ops.cast(weights, "float32")
        edges = ops.not_equal(weights, 0)
        if mask is not None:
            edges = edges & ops.cast(mask, "bool")[..., None, :]
            weights = ops.where(edges, weights, ops.zeros_like(weights))
        if self.attention:
            scores = ops.matmul(h, ops.swapaxes(h, -1, -2)) / math.sqrt(self.units)
            weights = masked_softmax(scores, edges)
        weights = ops.cast(self.weights_dropout(weights, training=training), h.dtype)
        return ops.matmul(weights, h)

    def compute_mask(self, node_features, adjacency=None, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "attention": self.attention,
                "use_bias": self.use_bias,
                "add_self_loops": self.add_self_loops,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config

    def compute_output_shape(self, node_features_shape, adjacency_shape=None):
        return (*node_features_shape[:-1], self.units)
