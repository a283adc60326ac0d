"""VBPR (He and McAuley, 2016): BPR-MF plus a linear map of item content."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmrec_tf.models.recommender import Recommender


@keras.saving.register_keras_serializable(package="mmrec_tf")
class VBPR(Recommender):
    """s(u, i) = [γ_u ; θ_u] · [γ_i ; E f_i]: ID factors plus a learned projection
    E of the item's content features f_i (modalities concatenated, as MMRec's
    VBPR does with image and text features).

    Args:
        num_users, num_items: int.
        feature_dim: int. Size of the concatenated content features.
        embedding_dim: int. Size of each half (ID and content). Defaults to 64.
        l2_regularization: float. Defaults to 1e-5.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.models import VBPR
    >>> model = VBPR.from_features(num_users=3, features=np.ones((5, 4)), embedding_dim=2)
    >>> model.score_users(np.array([0])).shape
    (1, 5)
    """

    def __init__(
        self, num_users, num_items, feature_dim, embedding_dim=64, l2_regularization=1e-5, **kwargs
    ):
        super().__init__(num_users, num_items, l2_regularization, **kwargs)
        self.feature_dim = feature_dim
        self.embedding_dim = embedding_dim
        self.user_embedding = self.add_weight(
            shape=(num_users, 2 * embedding_dim),
            initializer=keras.initializers.GlorotNormal(),
            name="user_embedding",
        )
        self.item_embedding = self.add_weight(
            shape=(num_items, embedding_dim),
            initializer=keras.initializers.GlorotNormal(),
            name="item_embedding",
        )
        self.features = self.add_weight(
            shape=(num_items, feature_dim), trainable=False, initializer="zeros", name="features"
        )
        self.projection = keras.layers.Dense(embedding_dim, use_bias=False, name="projection")
        # Built here, so that a saved model's weights have somewhere to load into.
        self.projection.build((None, feature_dim))
        self.built = True

    @classmethod
    def from_dataset(cls, dataset, features=None, present=None, **kwargs):
        """VBPR with every modality's features side by side (sorted by modality name)."""
        if not features:
            raise ValueError("VBPR needs item features: pass --features")
        stacked = np.concatenate([features[m] for m in sorted(features)], axis=1)
        return cls.from_features(dataset.num_users, stacked, **kwargs)

    @classmethod
    def from_features(cls, num_users, features, **kwargs):
        features = np.asarray(features, np.float32)
        model = cls(num_users, features.shape[0], features.shape[1], **kwargs)
        model.features.assign(features)
        return model

    def user_item_vectors(self, training=None):
        items = ops.concatenate([self.item_embedding, self.projection(self.features)], axis=1)
        return self.user_embedding, items

    def explanation_parts(self):
        """The content half of the item vectors, [0 ; E f_i]; no per-modality parts
        (the modalities are concatenated before E)."""
        content = ops.convert_to_numpy(self.projection(self.features))
        content = np.concatenate([np.zeros_like(content), content], axis=1)
        none = np.zeros((self.num_items, 0, content.shape[1]), np.float32)
        return content, none, np.zeros((self.num_items, 0), bool)

    def growth_roles(self) -> list:
        return [
            (self.user_embedding, "users"),
            (self.item_embedding, "items"),
            (self.features, "data"),
        ]

    def get_config(self):
        return {
            "feature_dim": self.feature_dim,
            "embedding_dim": self.embedding_dim,
            **super().get_config(),
        }
