"""Graphs for recommendation: user-item, item-item similarity, normalisation, self loops.

Every graph is an [N, N] `tf.SparseTensor`, indices in row-major order, as
`GraphNetworkLayer` takes it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NORMALIZATIONS = ("symmetric", "row")


def interaction_graph(users, items, num_users: int, num_items: int) -> tf.SparseTensor:
    """The bipartite user-item graph over `num_users + num_items` nodes.

    Node u is user u; node `num_users + i` is item i. Each interacting pair
    gets an edge of weight 1 both ways (repeated interactions count once).

    Example:
    >>> g = interaction_graph(np.array([0, 0, 1]), np.array([1, 1, 0]), 2, 2)
    >>> g.indices.numpy().tolist()
    [[0, 3], [1, 2], [2, 1], [3, 0]]
    """
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    _check_ids(users, num_users, "user")
    _check_ids(items, num_items, "item")
    rows = np.concatenate([users, num_users + items])
    cols = np.concatenate([num_users + items, users])
    return _sparse_from_pairs(rows, cols, np.ones(len(rows), np.float32), num_users + num_items)


def knn_graph(features, k: int, *, valid=None, chunk_size: int = 2048) -> tf.SparseTensor:
    """Item-item graph linking each item to its `k` most cosine-similar items.

    As LATTICE and FREEDOM build from content features. Edge (i, j) has the
    cosine similarity of i and j as weight; an item is never its own
    neighbour. Items whose `valid` flag is False (a missing modality) have
    neither outgoing nor incoming edges. Computed in chunks of rows, so memory
    is `chunk_size` × N, never N × N.

    Args:
        features: [N, d] array.
        k: int. Neighbours per item.
        valid: optional [N] booleans.
        chunk_size: int. Rows compared at once.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        raise ValueError(f"features must be [N, d]. Received shape {features.shape}")
    num_items = len(features)
    valid = np.ones(num_items, bool) if valid is None else np.asarray(valid, bool)
    norms = np.linalg.norm(features, axis=1)
    valid = valid & (norms > 0)
    if not 1 <= k < max(valid.sum(), 2):
        raise ValueError(
            f"k must be in [1, number of valid items). Received: k={k}, {valid.sum()} valid items"
        )
    unit = np.where(valid[:, None], features / np.maximum(norms, 1e-12)[:, None], 0)
    rows, cols, weights = [], [], []
    for start in range(0, num_items, chunk_size):
        stop = min(start + chunk_size, num_items)
        similarity = unit[start:stop] @ unit.T
        similarity[:, ~valid] = -np.inf
        similarity[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        chunk_rows = np.repeat(np.arange(start, stop), k)
        keep = valid[chunk_rows]
        rows.append(chunk_rows[keep])
        cols.append(neighbours.reshape(-1)[keep])
        weights.append(np.take_along_axis(similarity, neighbours, axis=1).reshape(-1)[keep])
    return _sparse_from_pairs(
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(weights).astype(np.float32),
        num_items,
    )


def normalize_adjacency(adjacency, method: str = "symmetric"):
    """Normalises an adjacency by node degrees; sparse in, sparse out.

    * `"symmetric"`: Â_ij = A_ij / √(d_i c_j), with d the row sums and c the
      column sums (D^-1/2 A D^-1/2 for a symmetric A, as GCN and LightGCN use);
    * `"row"`: Â_ij = A_ij / d_i (each row sums to 1: a mean over neighbours).

    Nodes of degree zero keep zero rows.

    Example:
    >>> a = tf.constant([[0.0, 1.0], [1.0, 1.0]])
    >>> normalize_adjacency(a, "row").numpy().tolist()
    [[0.0, 1.0], [0.5, 0.5]]
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"method must be one of {NORMALIZATIONS}. Received: method={method!r}")
    if isinstance(adjacency, tf.SparseTensor):
        rows, cols = adjacency.indices[:, 0], adjacency.indices[:, 1]
        row_sums = tf.math.unsorted_segment_sum(adjacency.values, rows, adjacency.dense_shape[0])
        if method == "row":
            scale = _safe_reciprocal(tf.gather(row_sums, rows))
        else:
            col_sums = tf.math.unsorted_segment_sum(
                adjacency.values, cols, adjacency.dense_shape[1]
            )
            scale = tf.math.rsqrt(tf.gather(row_sums, rows) * tf.gather(col_sums, cols))
            scale = tf.where(tf.math.is_finite(scale), scale, 0.0)
        return tf.SparseTensor(adjacency.indices, adjacency.values * scale, adjacency.dense_shape)
    adjacency = tf.convert_to_tensor(adjacency, tf.float32)
    row_sums = tf.reduce_sum(adjacency, axis=-1, keepdims=True)
    if method == "row":
        return adjacency * _safe_reciprocal(row_sums)
    col_sums = tf.reduce_sum(adjacency, axis=-2, keepdims=True)
    return adjacency * tf.sqrt(_safe_reciprocal(row_sums) * _safe_reciprocal(col_sums))


def recommender_graphs(dataset, features, present, num_graph_layers, item_graph_k, split="train"):
    """(user-item graph or None, item-item graph or None) of a recommender over
    `dataset`: the normalised graph of the `split` interactions (users then items
    as nodes) when `num_graph_layers > 0`; `content_knn_graph` of `features` when
    `item_graph_k > 0`."""
    graph = item_graph = None
    if num_graph_layers:
        users, items = dataset.interactions(split)
        graph = normalize_adjacency(
            interaction_graph(users, items, dataset.num_users, dataset.num_items)
        )
    if item_graph_k and not features:
        raise ValueError(
            "item_graph_k > 0 builds an item-item graph from content, and the model has "
            'none (pass --features and a non-empty "modalities", or set item_graph_k to 0)'
        )
    if item_graph_k:
        item_graph = content_knn_graph(features, present, item_graph_k)
    return graph, item_graph


def content_knn_graph(features: dict, present: dict, k: int) -> tf.SparseTensor:
    """The item-item graph of content: each modality's k-nearest-neighbour graph
    (`knn_graph` over the items that have it), symmetric-normalised, averaged over
    modalities (as LATTICE and FREEDOM build it)."""
    graphs = [
        normalize_adjacency(knn_graph(features[m], k, valid=present[m])) for m in sorted(features)
    ]
    total = graphs[0]
    for graph in graphs[1:]:
        total = tf.sparse.add(total, graph)
    return tf.sparse.map_values(lambda v: v / len(graphs), total)


def add_self_loops(adjacency: tf.SparseTensor) -> tf.SparseTensor:
    """Gives every node exactly one self loop: kept where present, weight 1 where not.

    The same rule `GraphNetworkLayer(add_self_loops=True)` applies; use this to
    normalise A + I before a plain propagation, as GCN does.
    """
    rows, cols, values, active = self_loop_edges(adjacency, adjacency.dense_shape[0])
    keep = tf.where(active)[:, 0]
    indices = tf.stack([tf.gather(rows, keep), tf.gather(cols, keep)], axis=1)
    return tf.sparse.reorder(
        tf.SparseTensor(indices, tf.gather(values, keep), adjacency.dense_shape)
    )


def self_loop_edges(adjacency: tf.SparseTensor, num_nodes):
    """(rows, cols, values, active) of a sparse adjacency plus one loop per node.

    Each node's appended loop is active (weight 1) only where the node had no
    loop, so no loop counts twice. Shapes depend only on the number of edges
    and nodes, which keeps them static for XLA.
    """
    rows, cols = adjacency.indices[:, 0], adjacency.indices[:, 1]
    values = tf.cast(adjacency.values, tf.float32)
    is_loop = tf.cast(tf.equal(rows, cols), tf.int32)
    has_loop = tf.math.unsorted_segment_max(is_loop, rows, num_nodes) > 0
    nodes = tf.range(num_nodes, dtype=rows.dtype)
    loop_active = tf.logical_not(has_loop)
    return (
        tf.concat([rows, nodes], 0),
        tf.concat([cols, nodes], 0),
        tf.concat([values, tf.cast(loop_active, tf.float32)], 0),
        tf.concat([tf.ones_like(values, tf.bool), loop_active], 0),
    )


def _safe_reciprocal(x):
    return tf.math.divide_no_nan(tf.ones_like(x), x)


def _sparse_from_pairs(rows, cols, values, num_nodes) -> tf.SparseTensor:
    """A row-major SparseTensor; a repeated (row, col) keeps its first value."""
    keys = rows * num_nodes + cols
    unique_keys, first = np.unique(keys, return_index=True)
    indices = np.stack([unique_keys // num_nodes, unique_keys % num_nodes], axis=1)
    return tf.SparseTensor(indices.astype(np.int64), values[first], [num_nodes, num_nodes])


def _check_ids(ids, count, kind):
    if ids.size and (ids.min() < 0 or ids.max() >= count):
        bad = ids[(ids < 0) | (ids >= count)][0]
        raise ValueError(f"{kind} index {bad} is out of range for {count} {kind}s")
