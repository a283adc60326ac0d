"""The user side of a recommender whose users are their history."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.data.histories import PADDING
from mmrec_tf.layers.history_encoder import HistoryEncoder
from mmrec_tf.layers.user_ids import UserIds


@keras.saving.register_keras_serializable(package="mmrec_tf")
class HistoryUsers(keras.layers.Layer):
    """A user is `HistoryEncoder` over the vectors of their latest `history_length`
    items, in time order: u = HistoryEncoder([v_{h_1}; …; v_{h_L}]) (+ E[user]
    with `use_user_ids`).

    Answers what every user side does (see `UserIds`). It keeps every
    training user's latest history (`stored_histories`, int [num_users, L],
    −1 pads), from which users are ranked; training batches carry each
    positive's own history (`sampler_options`). The users' ID table is kept
    either way: it is the graph's user nodes when there is a user-item graph.

    Args:
        num_users, embedding_dim: int.
        history_length: int. L. Defaults to 50.
        history_heads: int. Defaults to 1.
        history_dropout: float. Defaults to 0.2.
        history_pooling: one of `HistoryEncoder.POOLINGS`. Defaults to `"latest"`.
        history_horizon: int. In training, a history ends 1 to H steps before the
            item to rank. Defaults to 1.
        use_user_ids: bool. Defaults to False.

    Example:
    >>> import numpy as np
    >>> users = HistoryUsers(3, 4, history_length=2)
    >>> items = np.ones((5, 4), "float32")
    >>> users.encode(np.array([[-1, 3], [0, 1]]), items).shape
    TensorShape([2, 4])
    """

    def __init__(
        self,
        num_users,
        embedding_dim,
        history_length=50,
        history_heads=1,
        history_dropout=0.2,
        history_pooling="latest",
        history_horizon=1,
        use_user_ids=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if history_horizon < 1:
            raise ValueError(f"history_horizon must be ≥ 1. Received: {history_horizon}")
        self.num_users = num_users
        self.embedding_dim = embedding_dim
        self.history_length = history_length
        self.history_heads = history_heads
        self.history_dropout = history_dropout
        self.history_pooling = history_pooling
        self.history_horizon = history_horizon
        self.use_user_ids = use_user_ids
        self.ids = UserIds(num_users, embedding_dim, name="ids")
        self.history_encoder = HistoryEncoder(
            history_length, history_heads, history_dropout, history_pooling, name="history_encoder"
        )
        self.history_encoder.build((None, history_length, embedding_dim))
        self.stored_histories = self.add_weight(
            shape=(num_users, history_length),
            dtype="int32",
            trainable=False,
            initializer=keras.initializers.Constant(PADDING),
            name="stored_histories",
        )
        self.built = True

    @property
    def example_coupling(self) -> str:
        return "each example carries the user's earlier interactions (its history)"

    def table(self):
        return self.ids.table()

    def encode(self, histories, items, user_indices=None, training=None):
        """User vectors [batch, d] from histories (int [batch, L], −1 pads) and the
        item vectors: `items` [num_items, d], or a function from item indices to
        their vectors; the ID embedding is added for `user_indices` with `use_user_ids`."""
        histories = ops.convert_to_tensor(histories, "int32")
        present = histories != PADDING
        safe = ops.maximum(histories, 0)
        tokens = items(safe) if callable(items) else ops.take(items, safe, axis=0)
        users = self.history_encoder(tokens, mask=present, training=training)
        if self.use_user_ids and user_indices is not None:
            users = users + ops.take(self.ids.table(), user_indices, axis=0)
        return users

    def batch(self, user_rows, item_rows, inputs, training=None):
        histories = inputs.get("history")
        if histories is None:  # a batch without histories: the stored ones
            histories = ops.take(self.stored_histories, inputs["user_index"], axis=0)
        return self.encode(histories, item_rows, inputs["user_index"], training)

    def ranked(self, users, items, user_indices):
        histories = ops.take(self.stored_histories, user_indices, axis=0)
        return self.encode(histories, items, user_indices)

    def sampler_options(self) -> dict:
        return {"history_length": self.history_length, "history_horizon": self.history_horizon}

    def growth_roles(self) -> list:
        return [*self.ids.growth_roles(), (self.stored_histories, "data")]

    def get_config(self):
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "embedding_dim": self.embedding_dim,
            "history_length": self.history_length,
            "history_heads": self.history_heads,
            "history_dropout": self.history_dropout,
            "history_pooling": self.history_pooling,
            "history_horizon": self.history_horizon,
            "use_user_ids": self.use_user_ids,
        }
