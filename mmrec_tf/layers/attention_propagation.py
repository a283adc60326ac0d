"""The design document's attention message passing as a propagation strategy."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.layers.graph_network import GraphNetwork
from mmrec_tf.layers.propagation import Propagation


@keras.saving.register_keras_serializable(package="mmrec_tf")
class AttentionPropagation(Propagation):
    """The document's message passing, X⁽ᵗ⁺¹⁾ = ReLU(Σⱼ αᵢⱼ⁽ᵗ⁾ W⁽ᵗ⁾ X⁽ᵗ⁾ⱼ), αᵢⱼ a
    softmax over i's neighbours of (W Xᵢ)·(W Xⱼ)/√d (`GraphNetwork`, sparse):

    * over the user-item graph, `num_layers` layers, each node's output the
      mean of X⁽⁰⁾ … X⁽ᵀ⁾;
    * one layer over the item-item graph whose nodes are the items' content
      vectors (their ID embeddings without content), added to the items.

    Args: `Propagation`'s, and `embedding_dim` (the nodes' size).

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> strategy = AttentionPropagation(4, 1, 1, num_layers=1, num_edges=2)
    >>> strategy.assign_graphs(tf.SparseTensor([[0, 1], [1, 0]], [1.0, 1.0], [2, 2]))
    >>> users, items = strategy(np.ones((1, 4), "float32"), np.ones((1, 4), "float32"), None, None)
    >>> items.shape
    TensorShape([1, 4])
    """

    def __init__(self, embedding_dim, num_users, num_items, **kwargs):
        super().__init__(num_users, num_items, **kwargs)
        self.embedding_dim = embedding_dim
        nodes = num_users + num_items
        self.graph_network = None
        self.item_graph_network = None
        if self.graph is not None:
            self.graph_network = GraphNetwork(
                embedding_dim,
                self.num_layers,
                readout=None,
                layer_combination="mean",
                name="graph_network",
            )
            self.graph_network.build((nodes, embedding_dim), (nodes, nodes))
        if self.item_graph is not None:
            self.item_graph_network = GraphNetwork(
                embedding_dim, 1, readout=None, name="item_graph_network"
            )
            self.item_graph_network.build((num_items, embedding_dim), (num_items, num_items))

    def call(self, users, items, ids, content, training=None):
        if self.graph_network is not None:
            nodes = ops.concatenate([users, items], axis=0)
            nodes = self.graph_network(nodes, self.graph.sparse(), training=training)
            users, items = nodes[: self.num_users], nodes[self.num_users :]
        if self.item_graph_network is not None:
            nodes = ids if content is None else content
            items = items + self.item_graph_network(
                nodes, self.item_graph.sparse(), training=training
            )
        return users, items

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim}
