"""BPR matrix factorisation (Rendle et al., 2009)."""

from __future__ import annotations

import keras

from mmrec_tf.models.recommender import Recommender


@keras.saving.register_keras_serializable(package="mmrec_tf")
class MatrixFactorization(Recommender):
    """User and item ID embeddings scored by their dot product, trained with BPR.

    Args:
        num_users, num_items: int. Sizes of the embedding tables.
        embedding_dim: int. Defaults to 64.
        l2_regularization: float. Weight of the batch vectors' squared norms. Defaults to 1e-5.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.models import MatrixFactorization
    >>> model = MatrixFactorization(num_users=3, num_items=5, embedding_dim=4)
    >>> model.score_users(np.array([0, 2])).shape
    (2, 5)
    """

    def __init__(self, num_users, num_items, embedding_dim=64, l2_regularization=1e-5, **kwargs):
        super().__init__(num_users, num_items, l2_regularization, **kwargs)
        self.embedding_dim = embedding_dim
        # Xavier-normal, as MMRec initialises BPR-MF.
        self.user_embedding = self.add_weight(
            shape=(num_users, embedding_dim),
            initializer=keras.initializers.GlorotNormal(),
            name="user_embedding",
        )
        self.item_embedding = self.add_weight(
            shape=(num_items, embedding_dim),
            initializer=keras.initializers.GlorotNormal(),
            name="item_embedding",
        )
        self.built = True

    def user_item_vectors(self, training=None):
        return self.user_embedding, self.item_embedding

    def growth_roles(self) -> list:
        return [(self.user_embedding, "users"), (self.item_embedding, "items")]

    def get_config(self):
        return {"embedding_dim": self.embedding_dim, **super().get_config()}
