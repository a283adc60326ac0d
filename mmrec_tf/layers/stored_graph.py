"""A fixed sparse graph held as layer weights, with LightGCN-style propagation."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# Neighbours summed per dense slab in `step` (see `_RowChunks`). Measured on
# ml-100k-mm's user-item graph (160,048 edges, 64-d, XLA, one thread), two
# steps forward and backward: edge list 14.8 ms, width 4: 5.6, 8: 4.3,
# 16: 4.1, 32: 18.4 (XLA stops fusing the gather into the sum).
CHUNK_WIDTH = 16


@keras.saving.register_keras_serializable(package="mmrec_tf")
class StoredGraph(keras.layers.Layer):
    """Holds a weighted edge list as non-trainable weights and propagates over it.

    `step(x)` is one propagation step ÂX; `propagate(x, num_layers)` returns
    the mean of X, ÂX, …, Â^L X (LightGCN's layer combination;
    `num_layers=1, include_input=False` gives one plain step). Memory is
    linear in edges, and both run under XLA. Keeping the graph in the model
    means a saved model needs no training data to serve.

    How a step runs: each node's neighbours are cut into rows of
    `CHUNK_WIDTH` (the last one padded with zero weights), so the gather of
    neighbour vectors and its weighted sum fuse into one dense reduction; a
    segment sum over those rows (about edges / 14 of them) finishes it. The
    gradient, Âᵀ G, runs the same way over the transposed graph instead of
    scattering one gradient row per edge, the slowest part of the plain
    gather and segment sum. The row layout is derived from the edge list
    (when the graph is set or loaded), not saved.

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
        self._forget_layout()

    @classmethod
    def from_sparse(cls, graph: tf.SparseTensor, **kwargs) -> StoredGraph:
        layer = cls(int(graph.dense_shape[0]), int(graph.values.shape[0]), **kwargs)
        layer.assign(graph)
        return layer

    def assign(self, graph: tf.SparseTensor):
        """Stores `graph` (a `tf.SparseTensor` with this layer's nodes and edge count)."""
        if (
            int(graph.dense_shape[0]) != self.num_nodes
            or int(graph.values.shape[0]) != self.num_edges
        ):
            raise ValueError(
                f"{self.name} holds {self.num_nodes} nodes and {self.num_edges} edges; the graph "
                f"has {int(graph.dense_shape[0])} and {int(graph.values.shape[0])}"
            )
        indices = np.asarray(graph.indices)
        self.rows.assign(indices[:, 0].astype(np.int32))
        self.cols.assign(indices[:, 1].astype(np.int32))
        self.values.assign(np.asarray(graph.values, np.float32))
        self._forget_layout()

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._forget_layout()

    def sparse(self) -> tf.SparseTensor:
        """The stored graph as a `tf.SparseTensor` (for `GraphNetworkLayer`)."""
        indices = tf.cast(tf.stack([self.rows, self.cols], axis=1), tf.int64)
        return tf.SparseTensor(indices, tf.convert_to_tensor(self.values), [self.num_nodes] * 2)

    def step(self, x):
        """One propagation step, ÂX.

        `x` is [num_nodes, d], or a list of tensors whose rows, in order, are
        the nodes (such as `[users, items]`): faster than concatenating them.
        """
        parts = [tf.convert_to_tensor(p) for p in (x if isinstance(x, list | tuple) else [x])]
        blocks = tuple(int(p.shape[0]) for p in parts)
        if sum(blocks) != self.num_nodes:
            raise ValueError(f"{self.name} has {self.num_nodes} nodes; received {blocks} rows")
        forward, backward = self._layout(blocks)

        @tf.custom_gradient
        def propagate_once(*parts):
            def gradient(upstream):
                return tf.split(backward.apply([upstream], self.num_nodes), blocks)

            return forward.apply(parts, self.num_nodes), gradient

        return propagate_once(*parts)

    def propagate(self, x, num_layers, include_input=True):
        """The mean of the propagation layers (X itself first when `include_input`).

        `x` as in `step`.
        """
        parts = [tf.convert_to_tensor(p) for p in (x if isinstance(x, list | tuple) else [x])]
        layers = [tf.concat(parts, 0)] if include_input else []
        x = parts
        for _ in range(num_layers):
            x = self.step(x)
            layers.append(x)
        return ops.mean(ops.stack(layers), axis=0)

    def call(self, x):
        return self.step(x)

    def growth_roles(self) -> list:
        """See `mmrec_tf.models.Recommender.growth_roles`: the edges are data."""
        return [(self.rows, "data"), (self.cols, "data"), (self.values, "data")]

    def get_config(self):
        return {"num_nodes": self.num_nodes, "num_edges": self.num_edges, **super().get_config()}

    def _forget_layout(self):
        # A cache derived from the weights, kept out of Keras' tracking (not saved).
        object.__setattr__(self, "_layouts", {})

    def _layout(self, blocks):
        """The row layouts of Â, its columns cut into `blocks`, and of Âᵀ (one block)."""
        if blocks not in self._layouts:
            with tf.init_scope():  # read the weights eagerly, even while tracing
                rows = self.rows.numpy()
                cols = self.cols.numpy()
                values = self.values.numpy()
            whole = (self.num_nodes,)
            transpose = _RowChunks(cols, rows, values, self.num_nodes, whole)
            forward = _RowChunks(rows, cols, values, self.num_nodes, blocks)
            if blocks == whole and forward.same_as(transpose):
                transpose = forward  # symmetric: one layout serves both ways
            self._layouts[blocks] = (forward, transpose)
        return self._layouts[blocks]


class _RowChunks:
    """A sparse matrix as dense rows of `CHUNK_WIDTH` neighbours.

    The columns are cut into `blocks` (the parts the input arrives in, such
    as users and items). Node r's edges into block b, in column order, fill
    ⌈count / width⌉ chunk rows; `apply(parts)` sums weight × part[neighbour]
    along each chunk row, then segment-sums chunk rows into their nodes.
    Gathering from each part, rather than from their concatenation, keeps
    XLA from fusing the concatenation into the gather (3 × slower, measured).
    """

    def __init__(self, rows, cols, values, num_nodes, blocks, width=CHUNK_WIDTH):
        block_starts = np.cumsum(blocks) - np.asarray(blocks)
        block = np.searchsorted(np.cumsum(blocks), cols, side="right")
        group = block.astype(np.int64) * num_nodes + rows  # chunk rows ordered by block, then row
        order = np.lexsort((cols, group))
        group, cols, values = group[order], cols[order], values[order]
        num_groups = len(blocks) * num_nodes
        count = np.bincount(group, minlength=num_groups)
        chunks_per_group = -(-count // width)
        first_edge = np.cumsum(count) - count
        first_chunk = np.cumsum(chunks_per_group) - chunks_per_group
        position = np.arange(len(group)) - first_edge[group]
        chunk = first_chunk[group] + position // width
        neighbours = np.zeros((int(chunks_per_group.sum()), width), np.int32)
        weights = np.zeros(neighbours.shape, np.float32)
        neighbours[chunk, position % width] = cols - block_starts[group // num_nodes]
        weights[chunk, position % width] = values
        owners = np.tile(np.arange(num_nodes, dtype=np.int32), len(blocks))
        owners = np.repeat(owners, chunks_per_group)
        chunks_per_block = chunks_per_group.reshape(len(blocks), num_nodes).sum(axis=1)
        self.block_chunks = tuple(int(c) for c in chunks_per_block)
        self._arrays = (neighbours, weights, owners)
        with tf.init_scope():
            self.neighbours, self.weights, self.owners = map(tf.constant, self._arrays)

    def same_as(self, other: _RowChunks) -> bool:
        return self.block_chunks == other.block_chunks and all(
            np.array_equal(a, b) for a, b in zip(self._arrays, other._arrays, strict=True)
        )

    def apply(self, parts, num_nodes):
        neighbours = tf.split(self.neighbours, self.block_chunks)
        weights = tf.split(self.weights, self.block_chunks)
        sums = [
            tf.reduce_sum(tf.gather(part, n) * tf.cast(w, part.dtype)[..., None], axis=1)
            for part, n, w in zip(parts, neighbours, weights, strict=True)
        ]
        return tf.math.unsorted_segment_sum(tf.concat(sums, 0), self.owners, num_nodes)
