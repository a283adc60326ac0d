import numpy as np
import pytest
import tensorflow as tf
from graph_reference import numpy_graph_layer, random_graph
from layer_testing import run_layer_test

from mmrec_tf.layers import GraphNetworkLayer


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("add_self_loops", [True, False])
def test_sparse_matches_the_formula_and_the_dense_form(attention, add_self_loops):
    graph = random_graph(30, 120)
    x = np.random.default_rng(1).normal(size=(30, 7)).astype("float32")
    layer = GraphNetworkLayer(5, attention=attention, add_self_loops=add_self_loops)
    sparse_out = layer(x, graph).numpy()
    dense = tf.sparse.to_dense(graph).numpy()
    np.testing.assert_allclose(sparse_out, numpy_graph_layer(x, dense, layer), atol=1e-5)
    np.testing.assert_allclose(layer(x, dense), sparse_out, atol=1e-5)
    # The isolated node has no neighbour: activation(0), or only itself with self loops.
    if not add_self_loops:
        assert (sparse_out[-1] == 0).all()


def test_existing_self_loops_are_not_counted_twice():
    x = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    with_loop = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], [1.0, 1.0, 1.0], [2, 2])
    without_loop = tf.SparseTensor([[0, 1], [1, 0]], [1.0, 1.0], [2, 2])
    layer = GraphNetworkLayer(2, kernel_initializer="identity", activation=None)
    np.testing.assert_allclose(layer(x, with_loop), layer(x, without_loop), atol=1e-6)
    # Each row attends to itself and its neighbour: two terms, not three.
    logits = np.array([1.0, 0.0]) / np.sqrt(2)
    alpha = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(layer(x, with_loop)[0], alpha, atol=1e-6)


def test_plain_propagation_uses_edge_weights():
    x = np.eye(3, dtype="float32")
    graph = tf.SparseTensor([[0, 1], [0, 2], [2, 2]], [0.25, 0.75, 3.0], [3, 3])
    layer = GraphNetworkLayer(3, attention=False, kernel_initializer="identity", activation=None)
    expected = [[1.0, 0.25, 0.75], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]
    np.testing.assert_allclose(layer(x, graph), expected, atol=1e-6)


def test_never_builds_a_dense_matrix_from_a_sparse_graph():
    num_nodes = 2_000_000  # a dense [N, N] float32 matrix would need 16 TB
    graph = tf.SparseTensor(
        [[0, 1], [1, 0], [5, 1_999_999]], [1.0, 1.0, 1.0], [num_nodes, num_nodes]
    )
    x = tf.ones((num_nodes, 2))
    out = GraphNetworkLayer(2)(x, graph)
    assert out.shape == (num_nodes, 2) and np.isfinite(out.numpy()[:6]).all()


@pytest.mark.parametrize("attention", [True, False])
def test_batched_small_graphs_match_the_formula(attention):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5, 6)).astype("float32")
    adjacency = (rng.random((4, 5, 5)) < 0.5).astype("float32")
    mask = rng.random((4, 5)) < 0.8
    mask[3] = False
    layer = GraphNetworkLayer(3, attention=attention)
    np.testing.assert_allclose(
        layer(x, adjacency, mask=mask), numpy_graph_layer(x, adjacency, layer, mask), atol=1e-5
    )
    fully_connected = np.ones((4, 5, 5), "float32")
    np.testing.assert_allclose(
        layer(x, None, mask=mask), numpy_graph_layer(x, fully_connected, layer, mask), atol=1e-5
    )


def test_mask_with_sparse_graph_is_refused():
    with pytest.raises(ValueError, match="mask is for the batched dense form"):
        GraphNetworkLayer(2)(
            np.ones((2, 2), "float32"),
            tf.SparseTensor([[0, 1]], [1.0], [2, 2]),
            mask=np.ones(2, bool),
        )


def test_layer_contract_sparse_graph(tmp_path):
    graph = random_graph(12, 30)
    x = np.random.default_rng(3).normal(size=(12, 4)).astype("float32")
    run_layer_test(
        GraphNetworkLayer,
        {"units": 6, "dropout": 0.1},
        {"node_features": x, "adjacency": graph},
        (12, 6),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("attention", [True, False])
def test_layer_contract_batched_graphs(tmp_path, attention):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 5)).astype("float32")
    adjacency = (rng.random((3, 4, 4)) < 0.6).astype("float32")
    run_layer_test(
        GraphNetworkLayer,
        {"units": 6, "attention": attention},
        {"node_features": x, "adjacency": adjacency},
        (3, 4, 6),
        tmp_path=tmp_path,
    )
