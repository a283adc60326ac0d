"""How user and item vectors pass along the graphs: what every strategy answers."""

from __future__ import annotations

import keras

from mmrec_tf.layers.stored_graph import StoredGraph


@keras.saving.register_keras_serializable(package="mmrec_tf")
class Propagation(keras.layers.Layer):
    """Propagation over the user-item graph (users then items as nodes) and the
    item-item graph: what every strategy (`LightGCNPropagation`,
    `AttentionPropagation`) holds and answers. Without graphs a strategy
    returns its inputs.

    A strategy holds the graphs (`StoredGraph`s, filled by `assign_graphs`)
    and maps `(users [U, d], items [N, d], ids, content)` to new user and
    item vectors, `ids` and `content` being the two parts of the items
    (either may be None) for the item-item graph. `couples_items` says
    whether an item's vector depends on other items (then a batch needs the
    whole table).

    Args:
        num_users, num_items: int.
        num_layers: int. User-item propagation steps (0: no user-item graph).
        num_edges: int. Edges of the user-item graph.
        num_item_edges: int. Edges of the item-item graph (0: none).

    Example:
    >>> Propagation(2, 3, num_item_edges=4).couples_items
    True
    """

    def __init__(self, num_users, num_items, num_layers=0, num_edges=0, num_item_edges=0, **kwargs):
        super().__init__(**kwargs)
        if num_layers and not num_edges:
            raise ValueError("num_graph_layers > 0 needs the graph: build with from_dataset")
        self.num_users = num_users
        self.num_items = num_items
        self.num_layers = num_layers
        self.num_edges = num_edges
        self.num_item_edges = num_item_edges
        self.graph = None
        self.item_graph = None
        if num_layers:
            self.graph = StoredGraph(num_users + num_items, num_edges, name="graph")
        if num_item_edges:
            self.item_graph = StoredGraph(num_items, num_item_edges, name="item_graph")
        self.built = True

    @property
    def couples_items(self) -> bool:
        return self.graph is not None or self.item_graph is not None

    def assign_graphs(self, graph=None, item_graph=None):
        """Stores the normalised user-item graph and the item-item graph (`tf.SparseTensor`s)."""
        for layer, value in ((self.graph, graph), (self.item_graph, item_graph)):
            if (layer is None) != (value is None):
                raise ValueError(f"{self.name} was built for other graphs")
            if layer is not None:
                layer.assign(value)

    def growth_roles(self) -> list:
        """See `Recommender.growth_roles`: the graphs are data."""
        graphs = [g for g in (self.graph, self.item_graph) if g is not None]
        return [role for graph in graphs for role in graph.growth_roles()]

    def call(self, users, items, ids, content, training=None):
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "num_items": self.num_items,
            "num_layers": self.num_layers,
            "num_edges": self.num_edges,
            "num_item_edges": self.num_item_edges,
        }
