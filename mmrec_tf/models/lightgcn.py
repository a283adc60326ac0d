"""LightGCN (He et al., 2020): ID embeddings smoothed over the user-item graph."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.data.graphs import interaction_graph, normalize_adjacency
from mmrec_tf.layers.stored_graph import StoredGraph
from mmrec_tf.models.recommender import Recommender


@keras.saving.register_keras_serializable(package="mmrec_tf")
class LightGCN(Recommender):
    """E⁽ˡ⁺¹⁾ = Â E⁽ˡ⁾ over the symmetric-normalised user-item graph, and the
    mean of E⁽⁰⁾ … E⁽ᴸ⁾ as the final user and item vectors (no weights, no
    activation). The graph is kept in the model (as non-trainable weights), so
    a saved model serves without the training data.

    Args:
        num_users, num_items: int.
        num_edges: int. Number of (directed) edges of the graph; `from_interactions`
            sets it.
        embedding_dim: int. Defaults to 64.
        num_layers: int. L, the propagation steps. Defaults to 2.
        l2_regularization: float. Defaults to 1e-4.
    """

    def __init__(
        self,
        num_users,
        num_items,
        num_edges,
        embedding_dim=64,
        num_layers=2,
        l2_regularization=1e-4,
        **kwargs,
    ):
        super().__init__(num_users, num_items, l2_regularization, **kwargs)
        self.num_edges = num_edges
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        initializer = keras.initializers.GlorotUniform()
        self.embedding = self.add_weight(
            shape=(num_users + num_items, embedding_dim), initializer=initializer, name="embedding"
        )
        self.graph = StoredGraph(num_users + num_items, num_edges, name="graph")
        self.built = True

    @classmethod
    def from_dataset(cls, dataset, features=None, present=None, *, split="train", **kwargs):
        """LightGCN over `dataset`'s `split` interactions (content is not used)."""
        users, items = dataset.interactions(split)
        return cls.from_interactions(users, items, dataset.num_users, dataset.num_items, **kwargs)

    @classmethod
    def from_interactions(cls, users, items, num_users, num_items, **kwargs):
        graph = normalize_adjacency(interaction_graph(users, items, num_users, num_items))
        model = cls(num_users, num_items, int(graph.values.shape[0]), **kwargs)
        model.graph = StoredGraph.from_sparse(graph, name="graph")
        return model

    @property
    def example_coupling(self) -> str | None:
        return "it propagates over the graph of every training interaction"

    def user_item_vectors(self, training=None):
        final = self.graph.propagate(self.embedding, self.num_layers)
        return final[: self.num_users], final[self.num_users :]

    def call(self, inputs, training=None):
        scores = super().call(inputs, training=training)
        if training:
            # LightGCN regularises the layer-0 embeddings of the batch.
            for key, index in (
                ("user_norm", inputs["user_index"]),
                ("positive_item_norm", inputs["positive_item"]),
                ("negative_item_norm", inputs["negative_item"]),
            ):
                offset = 0 if key == "user_norm" else self.num_users
                vectors = ops.take(self.embedding, index + offset, axis=0)
                scores[key] = ops.sum(ops.square(vectors), axis=-1)
        return scores

    def growth_roles(self) -> list:
        # Every non-trainable weight is a graph: `from_interactions` replaces the
        # constructor's graph, which stays tracked (and saved) beside it.
        return [(self.embedding, "users+items")] + [(w, "data") for w in self.non_trainable_weights]

    def get_config(self):
        return {
            "num_edges": self.num_edges,
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            **super().get_config(),
        }
