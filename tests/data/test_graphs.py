import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data.graphs import (
    add_self_loops,
    interaction_graph,
    knn_graph,
    normalize_adjacency,
)


def test_interaction_graph_is_bipartite_symmetric_and_binary():
    graph = interaction_graph(np.array([0, 1, 1, 1]), np.array([2, 0, 0, 1]), 2, 3)
    dense = tf.sparse.to_dense(graph).numpy()
    expected = np.zeros((5, 5))
    for u, i in ((0, 2), (1, 0), (1, 1)):
        expected[u, 2 + i] = expected[2 + i, u] = 1
    np.testing.assert_array_equal(dense, expected)
    with pytest.raises(ValueError, match="item index 3 is out of range"):
        interaction_graph(np.array([0]), np.array([3]), 1, 3)


def test_knn_graph_matches_brute_force():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 8)).astype("float32")
    valid = np.ones(50, bool)
    valid[[3, 7]] = False
    graph = knn_graph(features, 4, valid=valid, chunk_size=16)
    dense = tf.sparse.to_dense(graph).numpy()
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    similarity[:, ~valid] = -np.inf
    for i in range(50):
        neighbours = set(np.flatnonzero(dense[i]))
        if not valid[i]:
            assert not neighbours
            continue
        assert neighbours == set(np.argsort(-similarity[i])[:4])
        np.testing.assert_allclose(
            dense[i, list(neighbours)], similarity[i, list(neighbours)], atol=1e-6
        )
    assert not dense[:, ~valid].any()


def test_normalisations_sparse_and_dense_agree_with_numpy():
    rng = np.random.default_rng(1)
    a = (rng.random((6, 6)) < 0.4) * rng.uniform(0.5, 2, (6, 6))
    a[5] = 0  # a node without edges
    row = a / np.where(a.sum(1, keepdims=True) > 0, a.sum(1, keepdims=True), 1)
    d, c = a.sum(1), a.sum(0)
    symmetric = a / np.sqrt(np.outer(np.where(d > 0, d, 1), np.where(c > 0, c, 1)))
    sparse = tf.sparse.from_dense(tf.constant(a, tf.float32))
    for method, expected in (("row", row), ("symmetric", symmetric)):
        np.testing.assert_allclose(
            normalize_adjacency(a.astype("float32"), method), expected, atol=1e-6
        )
        out = tf.sparse.to_dense(normalize_adjacency(sparse, method)).numpy()
        np.testing.assert_allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="method must be one of"):
        normalize_adjacency(a, "column")


def test_add_self_loops_keeps_existing_ones():
    graph = tf.SparseTensor([[0, 0], [0, 1], [2, 1]], [3.0, 1.0, 1.0], [3, 3])
    dense = tf.sparse.to_dense(add_self_loops(graph)).numpy()
    np.testing.assert_array_equal(dense, [[3, 1, 0], [0, 1, 0], [0, 1, 1]])
