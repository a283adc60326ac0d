"""LightGCN's parameter-free smoothing as a propagation strategy."""

from __future__ import annotations

import keras

from mmrec_tf.layers.propagation import Propagation


@keras.saving.register_keras_serializable(package="mmrec_tf")
class LightGCNPropagation(Propagation):
    """Smoothing over the normalised user-item graph Â (He et al., 2020):

        [U'; V'] = mean(X, ÂX, …, Â^L X),   X = [U; V]

    and one step over the item-item graph Â_I (k nearest neighbours in content,
    as LATTICE and FREEDOM build it), added to the items: V' += Â_I E, E the
    item ID embeddings (their content vectors for a model without IDs). No
    weights. Arguments as `Propagation`'s.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> strategy = LightGCNPropagation(1, 1, num_layers=1, num_edges=2)
    >>> strategy.assign_graphs(tf.SparseTensor([[0, 1], [1, 0]], [1.0, 1.0], [2, 2]))
    >>> users, items = strategy(np.array([[1.0]]), np.array([[3.0]]), None, None)
    >>> float(users[0, 0]), float(items[0, 0])
    (2.0, 2.0)
    """

    def call(self, users, items, ids, content, training=None):
        if self.graph is not None:
            nodes = self.graph.propagate([users, items], self.num_layers)
            users, items = nodes[: self.num_users], nodes[self.num_users :]
        if self.item_graph is not None:
            items = items + self.item_graph.step(content if ids is None else ids)
        return users, items
