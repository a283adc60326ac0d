"""The user side of a recommender whose users are fitted: one trained vector per user."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class UserIds(keras.layers.Layer):
    """A user is their ID embedding: u = E[user] ([num_users, embedding_dim] trained).

    The user side of `MultimodalRecommender`. Every user side answers the
    same calls: `table()` (the users' rows as graph nodes), `batch(...)` (a
    training or scoring batch's user vectors), `ranked(...)` (users for
    ranking), `sampler_options()` (what its training batches must carry) and
    `example_coupling`.

    Example:
    >>> import numpy as np
    >>> users = UserIds(3, 2)
    >>> users.ranked(users.table(), None, np.array([0, 2])).shape
    TensorShape([2, 2])
    """

    example_coupling = None

    def __init__(self, num_users, embedding_dim, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_users = num_users
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.user_embedding = self.add_weight(
            shape=(num_users, embedding_dim),
            initializer=self.embeddings_initializer,
            name="user_embedding",
        )
        self.built = True

    def table(self):
        """[num_users, d]: every user's ID embedding (the graph's user nodes)."""
        return self.user_embedding

    def batch(self, user_rows, item_rows, inputs, training=None):
        """The batch's user vectors [batch, d], `user_rows` giving rows of `table()`
        (after any propagation)."""
        return user_rows(inputs["user_index"])

    def ranked(self, users, items, user_indices):
        """Vectors [n, d] of the users `user_indices`, from the (propagated) user table
        `users` and item table `items`."""
        return ops.take(users, user_indices, axis=0)

    def sampler_options(self) -> dict:
        """Options of `bpr_triples` that this side's batches need."""
        return {}

    def growth_roles(self) -> list:
        """See `Recommender.growth_roles`."""
        return [(self.user_embedding, "users")]

    def get_config(self):
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "embedding_dim": self.embedding_dim,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
