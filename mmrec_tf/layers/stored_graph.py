"""A fixed sparse graph held as layer weights, with LightGCN-style propagation."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class StoredGraph(keras.layers.Layer):
    """Holds a weighted edge list as non-trainable weights and propagates over it.

    `propagate(x, num_layers)` returns the mean of X, ÂX, …, Â^L X (LightGCN's
    layer combination; `num_layers=1, include_input=False` gives one plain
    step ÂX). Gathers and segment sums only: memory linear in edges, and
    XLA-compilable. Keeping the graph in the model means a saved model needs
    no training data to serve.

    Args:
        num_nodes: int.
        num_edges: int.

    Example:
    >>> import tensorflow as tf
    >>> from mmrec_tf.layers import StoredGraph
    >>> graph = StoredGraph.from_sparse(tf.SparseTensor([[0, 1], [1, 0]], [1.0, 1.0], [2, 2]))
    >>> graph.propagate(tf.constant([[1.0], [3.0]]), num_layers=1).numpy().tolist()
    [[2.0], [2.0]]
    """

    def __init__(self, num_nodes, num_edges, **kwargs):
        super().__init__(**kwargs)
        self.num_nodes = num_nodes
        self.num_edges = num_edges
        self.rows = self.add_weight(
            shape=(num_edges,), dtype="int32", trainable=False, initializer="zeros", name="rows"
        )
        self.cols = self.add_weight(
            shape=(num_edges,), dtype="int32", trainable=False, initializer="zeros", name="cols"
        )
        self.values = self.add_weight(
            shape=(num_edges,), trainable=False, initializer="zeros", name="values"
        )

    @classmethod
    def from_sparse(cls, graph: tf.SparseTensor, **kwargs) -> StoredGraph:
        layer = cls(int(graph.dense_shape[0]), int(graph.values.shape[0]), **kwargs)
        indices = np.asarray(graph.indices)
        layer.rows.assign(indices[:, 0].astype(np.int32))
        layer.cols.assign(indices[:, 1].astype(np.int32))
        layer.values.assign(np.asarray(graph.values, np.float32))
        return layer

    def sparse(self) -> tf.SparseTensor:
        """The stored graph as a `tf.SparseTensor` (for `GraphNetworkLayer`)."""
        indices = tf.cast(tf.stack([self.rows, self.cols], axis=1), tf.int64)
        return tf.SparseTensor(indices, tf.convert_to_tensor(self.values), [self.num_nodes] * 2)

    def step(self, x):
        """One propagation step, ÂX."""
        messages = ops.take(x, self.cols, axis=0) * ops.cast(self.values, x.dtype)[:, None]
        return ops.segment_sum(messages, self.rows, num_segments=self.num_nodes)

    def propagate(self, x, num_layers, include_input=True):
        """The mean of the propagation layers (X itself first when `include_input`)."""
        x = tf.convert_to_tensor(x)  # a Keras variable (embeddings) becomes a tensor
        layers = [x] if include_input else []
        for _ in range(num_layers):
            x = self.step(x)
            layers.append(x)
        return ops.mean(ops.stack(layers), axis=0)

    def call(self, x):
        return self.step(x)

    def get_config(self):
        return {"num_nodes": self.num_nodes, "num_edges": self.num_edges, **super().get_config()}
