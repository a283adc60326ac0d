import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.layers import StoredGraph
from tests.graph_reference import random_graph


def _dense(graph):
    return tf.sparse.to_dense(tf.sparse.reorder(graph)).numpy().astype(np.float64)


def _symmetric_graph(num_nodes, num_edges, seed=0):
    graph = random_graph(num_nodes, num_edges, seed=seed)
    return tf.sparse.reorder(tf.sparse.add(graph, tf.sparse.transpose(graph)))


@pytest.mark.parametrize(
    "make_graph", [random_graph, _symmetric_graph], ids=["directed", "symmetric"]
)
def test_propagation_and_its_gradient_match_numpy(make_graph):
    # 60 nodes and up to 400 edges: several nodes have more neighbours than one chunk row.
    graph = make_graph(60, 400)
    adjacency = _dense(graph)
    x = np.random.default_rng(1).normal(size=(60, 5))
    layer = StoredGraph.from_sparse(graph)
    upstream = np.random.default_rng(2).normal(size=(60, 5))

    x_tensor = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        output = layer.propagate(x_tensor, num_layers=2)
        weighted = tf.reduce_sum(output * upstream)
    gradient = tape.gradient(weighted, x_tensor)

    mean_operator = (np.eye(60) + adjacency + adjacency @ adjacency) / 3
    np.testing.assert_allclose(output.numpy(), mean_operator @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gradient.numpy(), mean_operator.T @ upstream, rtol=1e-5, atol=1e-5)


def test_xla_step_and_gradient_equal_eager():
    layer = StoredGraph.from_sparse(random_graph(40, 300))
    x = tf.constant(np.random.default_rng(0).normal(size=(40, 3)), tf.float32)

    def step_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer.step(x)
            loss = tf.reduce_sum(tf.square(y))
        return y, tape.gradient(loss, x)

    eager = step_and_gradient(x)
    compiled = tf.function(step_and_gradient, jit_compile=True)(x)
    for a, b in zip(eager, compiled, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_saved_and_reloaded_graph_propagates_the_same(tmp_path):
    graph = random_graph(30, 120)
    inputs = keras.Input((4,), batch_size=30)
    model = keras.Model(inputs, StoredGraph.from_sparse(graph, name="graph")(inputs))
    x = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    expected = _dense(graph) @ x
    path = tmp_path / "graph.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(
        reloaded.get_layer("graph").rows.numpy(), model.get_layer("graph").rows.numpy()
    )


def test_assign_replaces_the_graph_and_its_layout():
    first, second = random_graph(20, 60, seed=0), random_graph(20, 60, seed=1)
    assert first.values.shape == second.values.shape
    layer = StoredGraph.from_sparse(first)
    x = tf.constant(np.random.default_rng(0).normal(size=(20, 3)), tf.float32)
    np.testing.assert_allclose(layer.step(x).numpy(), _dense(first) @ x.numpy(), atol=1e-5)
    layer.assign(second)  # the layout cached for the first graph must not be reused
    np.testing.assert_allclose(layer.step(x).numpy(), _dense(second) @ x.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="holds 20 nodes and 63 edges; the graph has 20 and 43"):
        layer.assign(random_graph(20, 40))
