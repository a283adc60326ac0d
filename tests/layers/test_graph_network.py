import numpy as np
import pytest
import tensorflow as tf
from graph_reference import numpy_graph_layer, random_graph
from layer_testing import run_layer_test

from mmrec_tf.layers import GraphNetwork


def numpy_stack(x, adjacency, network, mask=None):
    outputs = [x] if network.layer_combination == "mean" else []
    h = x
    for layer in network.graph_layers:
        h = numpy_graph_layer(h, adjacency, layer, mask)
        outputs.append(h)
    nodes = h if network.layer_combination == "last" else np.mean(outputs, axis=0)
    if network.readout is None:
        return nodes
    present = np.ones(nodes.shape[:-1], bool) if mask is None else mask
    present = present[..., None]
    if network.readout == "sum":
        return np.where(present, nodes, 0).sum(axis=-2)
    if network.readout == "mean":
        return np.where(present, nodes, 0).sum(axis=-2) / np.maximum(present.sum(axis=-2), 1)
    largest = np.where(present, nodes, -np.inf).max(axis=-2)
    return np.where(present.any(axis=-2), largest, 0)


@pytest.mark.parametrize("readout", ["sum", "mean", "max", None])
@pytest.mark.parametrize("combination", ["last", "mean"])
def test_batched_stack_matches_the_formula(readout, combination):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 6)).astype("float32")
    mask = rng.random((4, 3)) < 0.7
    mask[0], mask[1] = True, False
    network = GraphNetwork(6, num_layers=2, readout=readout, layer_combination=combination)
    out = network(x, mask=mask)
    expected = numpy_stack(x, np.ones((4, 3, 3)), network, mask)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    if readout is not None:
        assert out.shape == (4, 6) and (out.numpy()[1] == 0).all()


def test_sparse_graph_with_lightgcn_layer_mean():
    graph = random_graph(20, 60)
    x = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    network = GraphNetwork(4, num_layers=3, readout=None, layer_combination="mean", attention=False)
    out = network(x, graph)
    dense = tf.sparse.to_dense(graph).numpy()
    np.testing.assert_allclose(out, numpy_stack(x, dense, network), atol=1e-5)
    assert network(x, graph).shape == (20, 4)
    total = GraphNetwork(4, num_layers=1)(x, graph)
    assert total.shape == (4,)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="input size must equal units"):
        GraphNetwork(4, num_layers=2, layer_combination="mean")(np.ones((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="readout must be one of"):
        GraphNetwork(4, num_layers=2, readout="attention")
    with pytest.raises(ValueError, match="num_layers must be positive"):
        GraphNetwork(4, num_layers=0)


@pytest.mark.parametrize("readout", ["sum", None])
def test_layer_contract(tmp_path, readout):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5)).astype("float32")
    mask = rng.random((3, 4)) < 0.7
    shape = (3, 6) if readout else (3, 4, 6)
    run_layer_test(
        GraphNetwork,
        {"units": 6, "num_layers": 2, "readout": readout},
        {"node_features": x, "mask": mask},
        shape,
        tmp_path=tmp_path,
    )
