"""NumPy references of the graph formulas, and random graphs, for tests."""

import numpy as np
import tensorflow as tf


def random_graph(num_nodes, num_edges, seed=0, self_loops=3):
    """A sparse graph with random weighted edges, some self loops, and one isolated node."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < num_edges:
        i, j = rng.integers(0, num_nodes - 1, size=2)  # the last node stays isolated
        if i != j:
            pairs.add((int(i), int(j)))
    pairs |= {(int(i), int(i)) for i in rng.choice(num_nodes - 1, self_loops, replace=False)}
    indices = np.array(sorted(pairs), np.int64)
    values = rng.uniform(0.5, 2.0, size=len(indices)).astype("float32")
    return tf.SparseTensor(indices, values, [num_nodes, num_nodes])


def numpy_graph_layer(x, dense_adjacency, layer, mask=None):
    """The formula on dense NumPy arrays, for [N, N] or [batch, n, n] graphs."""
    h = x @ layer.kernel.numpy() + (layer.bias.numpy() if layer.use_bias else 0)
    a = np.array(dense_adjacency, np.float64)
    n = a.shape[-1]
    if layer.add_self_loops:
        diagonal = np.diagonal(a, axis1=-2, axis2=-1)
        a[..., np.arange(n), np.arange(n)] = np.where(diagonal != 0, diagonal, 1.0)
    if mask is not None:
        a = a * mask[..., None, :]
    if layer.attention:
        scores = h @ np.swapaxes(h, -1, -2) / np.sqrt(layer.units)
        scores = np.where(a != 0, scores, -np.inf)
        peak = np.max(scores, axis=-1, keepdims=True)
        e = np.where(a != 0, np.exp(scores - np.where(np.isfinite(peak), peak, 0)), 0)
        total = e.sum(axis=-1, keepdims=True)
        a = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return np.maximum(a @ h, 0)
