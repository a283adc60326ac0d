import numpy as np
import pytest
import tensorflow as tf
from graph_reference import numpy_graph_layer, random_graph

from mmrec_tf.data import load_dataset
from mmrec_tf.layers import AttentionPropagation, LightGCNPropagation, Propagation
from mmrec_tf.layers.propagations import PROPAGATIONS
from mmrec_tf.models import MultimodalRecommender

USERS, ITEMS, DIM = 4, 6, 3


def dense(graph):
    return tf.sparse.to_dense(tf.sparse.reorder(graph)).numpy().astype(np.float64)


@pytest.fixture
def graphs():
    """A weighted user-item graph (users then items as nodes) and an item-item graph."""
    return random_graph(USERS + ITEMS, 30, seed=0), random_graph(ITEMS, 10, seed=1)


@pytest.fixture
def vectors():
    rng = np.random.default_rng(2)
    users, ids, content = (rng.normal(size=(n, DIM)) for n in (USERS, ITEMS, ITEMS))
    return users.astype("float32"), ids.astype("float32"), content.astype("float32")


def _lightgcn(graphs, num_layers=2, item_graph=True):
    graph, item_graph_value = graphs
    strategy = LightGCNPropagation(
        USERS,
        ITEMS,
        num_layers=num_layers,
        num_edges=int(graph.values.shape[0]) if num_layers else 0,
        num_item_edges=int(item_graph_value.values.shape[0]) if item_graph else 0,
    )
    strategy.assign_graphs(graph if num_layers else None, item_graph_value if item_graph else None)
    return strategy


def test_lightgcn_matches_numpy(graphs, vectors):
    users, ids, content = vectors
    items = content + ids
    strategy = _lightgcn(graphs)
    out_users, out_items = (v.numpy() for v in strategy(users, items, ids, content))
    a, a_items = dense(graphs[0]), dense(graphs[1])
    x = np.concatenate([users, items]).astype(np.float64)
    nodes = (x + a @ x + a @ a @ x) / 3  # mean of X, ÂX, Â²X
    np.testing.assert_allclose(out_users, nodes[:USERS], rtol=1e-5, atol=1e-5)
    # The item-item step smooths the ID embeddings E when there are IDs.
    np.testing.assert_allclose(out_items, nodes[USERS:] + a_items @ ids, rtol=1e-5, atol=1e-5)


def test_lightgcn_item_graph_smooths_content_without_ids(graphs, vectors):
    """The bug this refactor fixed: without IDs the item-item graph was built and never used."""
    users, _, content = vectors
    strategy = _lightgcn(graphs, num_layers=0)
    out_users, out_items = (v.numpy() for v in strategy(users, content, None, content))
    np.testing.assert_array_equal(out_users, users)
    expected = content + dense(graphs[1]) @ content
    np.testing.assert_allclose(out_items, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(out_items - content).max() > 0.1


def test_attention_item_graph_reads_content_else_ids(graphs, vectors):
    users, ids, content = vectors
    graph, item_graph = graphs
    strategy = AttentionPropagation(
        DIM, USERS, ITEMS, num_item_edges=int(item_graph.values.shape[0])
    )
    strategy.assign_graphs(None, item_graph)
    layer = strategy.item_graph_network.graph_layers[0]
    a_items = dense(item_graph)
    for nodes, content_part in ((content, content), (ids, None)):
        _, out_items = strategy(users, content + ids, ids, content_part)
        expected = content + ids + numpy_graph_layer(nodes, a_items, layer)
        np.testing.assert_allclose(out_items.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(PROPAGATIONS))
def test_without_graphs_a_strategy_returns_its_inputs(name, vectors):
    users, ids, content = vectors
    strategy = PROPAGATIONS[name](DIM, num_users=USERS, num_items=ITEMS)
    assert isinstance(strategy, Propagation) and strategy.name == "propagation"
    assert not strategy.couples_items
    out_users, out_items = strategy(users, content + ids, ids, content)
    np.testing.assert_array_equal(out_users, users)
    np.testing.assert_array_equal(out_items, content + ids)


@pytest.mark.parametrize("cls", [LightGCNPropagation, AttentionPropagation])
def test_couples_items_and_config_round_trip(cls):
    extra = (DIM,) if cls is AttentionPropagation else ()
    for sizes, couples in (
        ({}, False),
        ({"num_layers": 2, "num_edges": 30}, True),
        ({"num_item_edges": 10}, True),
    ):
        strategy = cls(*extra, USERS, ITEMS, **sizes)
        assert strategy.couples_items is couples
        config = strategy.get_config()
        assert cls.from_config(config).get_config() == config
    assert Propagation(USERS, ITEMS, num_item_edges=10).couples_items


def test_assign_graphs_refuses_other_graphs(graphs):
    graph, item_graph = graphs
    edges = int(item_graph.values.shape[0])
    with_item_graph = LightGCNPropagation(USERS, ITEMS, num_item_edges=edges)
    with pytest.raises(ValueError, match="was built for other graphs"):
        with_item_graph.assign_graphs(graph, item_graph)  # no user-item graph here
    with pytest.raises(ValueError, match="was built for other graphs"):
        with_item_graph.assign_graphs(None, None)  # the item graph missing
    with pytest.raises(ValueError, match=f"holds 6 nodes and 9 edges; the graph has 6 and {edges}"):
        LightGCNPropagation(USERS, ITEMS, num_item_edges=9).assign_graphs(None, item_graph)
    with_item_graph.assign_graphs(None, item_graph)  # the right graph is stored
    np.testing.assert_allclose(dense(with_item_graph.item_graph.sparse()), dense(item_graph))
    with pytest.raises(ValueError, match="needs the graph"):
        LightGCNPropagation(USERS, ITEMS, num_layers=2)


@pytest.fixture(scope="module")
def demo(demo_dir):
    dataset = load_dataset(demo_dir)
    rng = np.random.default_rng(0)
    features = {m: rng.normal(size=(dataset.num_items, 5)) for m in ("text", "image")}
    return dataset, features


@pytest.mark.parametrize("use_ids", [False, True])
def test_model_item_graph_is_used_with_and_without_ids(demo, use_ids):
    dataset, features = demo
    model = MultimodalRecommender.from_dataset(
        dataset, features, embedding_dim=8, use_ids=use_ids, item_graph_k=3, num_graph_layers=0
    )
    assert model.propagation.graph is None and model.propagation.item_graph is not None
    users, items = (v.numpy().astype(np.float64) for v in model.user_item_vectors())
    content = model.content_vectors().numpy().astype(np.float64)
    a_items = dense(model.propagation.item_graph.sparse())
    np.testing.assert_array_equal(users, model.user_side.user_embedding.numpy())
    if use_ids:
        ids = model.item_side.item_embedding.numpy()
        expected = content + ids + a_items @ ids
        unsmoothed = content + ids
    else:
        expected = content + a_items @ content
        unsmoothed = content  # what the model gave before: the graph built and never used
    np.testing.assert_allclose(items, expected, rtol=1e-4, atol=1e-5)
    assert np.abs(items - unsmoothed).max() > 1e-2
