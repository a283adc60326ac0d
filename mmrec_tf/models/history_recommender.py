"""Users as their history: the multimodal item side with a sequence-aware user tower."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmrec_tf.data.histories import PADDING, Sequences, checked_histories, latest_known
from mmrec_tf.layers.history_encoder import HistoryEncoder
from mmrec_tf.models.multimodal_recommender import MultimodalRecommender
from mmrec_tf.models.recommender import rows_of


@keras.saving.register_keras_serializable(package="mmrec_tf")
class HistoryRecommender(MultimodalRecommender):
    """Encodes a user from their latest `history_length` interactions, in time order.

    Items are `MultimodalRecommender`'s (content, IDs, graphs: every option of
    it applies). A user is `HistoryEncoder` (self-attention over their latest
    items' vectors plus recency positions) applied to their history, plus
    their ID embedding with `use_user_ids`. Scores are dot products.

    Training batches carry each positive's history, the interactions before it
    (`bpr_triples(..., history_length=L)`): the model learns to rank what a
    user chose next from what they had done. The model stores every training
    user's latest history (`stored_histories`), so `score_users` ranks from
    what a user did up to the end of training; `score_histories` ranks from
    any history (a user's latest interactions, or a new user's) without
    refitting. `loss="softmax"` (the catalogue softmax) suits it best.

    Args:
        history_length: int. L. Defaults to 50.
        history_heads: int. Attention heads of the encoder. Defaults to 1.
        history_dropout: float. Defaults to 0.2.
        history_pooling: `"latest"` or `"mean"` (see `HistoryEncoder`). Defaults to `"latest"`.
        history_horizon: int. H: in training, a history ends 1 to H steps before the
            item to rank (`bpr_triples(..., history_horizon=H)`), so the model
            learns what a user chooses soon, not only next. Defaults to 1.
        use_user_ids: bool. Add a user ID embedding to the encoded history. Defaults to False.
        Everything else: `MultimodalRecommender`'s.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import bpr_triples, generate_demo_dataset, load_dataset
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> model = HistoryRecommender.from_dataset(dataset, embedding_dim=16, history_length=8,
    ...     loss="softmax")
    >>> model.compile(optimizer="adam", jit_compile=True)
    >>> _ = model.fit(bpr_triples(dataset, 256, seed=0, history_length=8), epochs=1, verbose=0)
    >>> model.score_histories(np.array([[3, 7, 1, 0, 5, 2]])).shape  # a new user's 6 items
    (1, 200)
    """

    OPTION_CHOICES = {
        **MultimodalRecommender.OPTION_CHOICES,
        "history_pooling": HistoryEncoder.POOLINGS,
    }

    def __init__(
        self,
        num_users,
        num_items,
        feature_dims,
        history_length=50,
        history_heads=1,
        history_dropout=0.2,
        history_pooling="latest",
        history_horizon=1,
        use_user_ids=False,
        **kwargs,
    ):
        super().__init__(num_users, num_items, feature_dims, **kwargs)
        self.history_length = history_length
        self.history_heads = history_heads
        self.history_dropout = history_dropout
        self.history_pooling = history_pooling
        if history_horizon < 1:
            raise ValueError(f"history_horizon must be ≥ 1. Received: {history_horizon}")
        self.history_horizon = history_horizon
        self.use_user_ids = use_user_ids
        self.history_encoder = HistoryEncoder(
            history_length,
            history_heads,
            history_dropout,
            history_pooling,
            name="history_encoder",
        )
        self.history_encoder.build((None, history_length, self.embedding_dim))
        self.stored_histories = self.add_weight(
            shape=(num_users, history_length),
            dtype="int32",
            trainable=False,
            initializer=keras.initializers.Constant(PADDING),
            name="stored_histories",
        )

    @classmethod
    def from_dataset(cls, dataset, features=None, present=None, *, split="train", **kwargs):
        """`MultimodalRecommender.from_dataset`, storing each user's latest `split` history."""
        model = super().from_dataset(dataset, features, present, split=split, **kwargs)
        histories = Sequences.from_dataset(dataset, [split]).latest(model.history_length)
        model.stored_histories.assign(histories)
        return model

    @property
    def example_coupling(self) -> str | None:
        return "each example carries the user's earlier interactions (its history)"

    def encode_histories(self, histories, items, user_indices=None, training=None):
        """User vectors [batch, d] from histories (int [batch, L], −1 pads) and the
        item vectors: `items` [num_items, d], or a function from item indices to
        their vectors (`batch_vectors`' `item_rows`)."""
        histories = ops.convert_to_tensor(histories, "int32")
        present = histories != PADDING
        item_rows = items if callable(items) else rows_of(items)
        tokens = item_rows(ops.maximum(histories, 0))
        users = self.history_encoder(tokens, mask=present, training=training)
        if self.use_user_ids and user_indices is not None:
            users = users + ops.take(self.user_embedding, user_indices, axis=0)
        return users

    def batch_users(self, user_rows, item_rows, inputs, training=None):
        histories = inputs.get("history")
        if histories is None:  # a batch without histories: the stored ones
            histories = ops.take(self.stored_histories, inputs["user_index"], axis=0)
        return self.encode_histories(histories, item_rows, inputs["user_index"], training)

    def _rank(self, tables, user_indices):
        _, items = tables
        histories = ops.take(self.stored_histories, user_indices, axis=0)
        users = self.encode_histories(histories, items, user_indices)
        return ops.matmul(users, ops.transpose(items))

    def score_histories(self, histories, user_indices=None) -> np.ndarray:
        """Scores [batch, num_items] from histories (int [batch, L'], oldest first;
        −1 entries are dropped wherever they are, then the latest L items are read),
        for known users (`user_indices`, whose ID embedding is added with
        `use_user_ids`) or new ones (None)."""
        histories = checked_histories(histories, self.num_items)
        histories = latest_known(histories, self.history_length).numpy()
        function = self._compiled("_history_scoring_function", self._score_histories)
        if user_indices is None:
            return function(histories).numpy()
        return function(histories, np.asarray(user_indices, np.int32)).numpy()

    def _score_histories(self, histories, user_indices=None):
        _, items = self.user_item_vectors(training=False)
        users = self.encode_histories(histories, items, user_indices)
        return ops.matmul(users, ops.transpose(items))

    def get_config(self):
        return {
            **super().get_config(),
            "history_length": self.history_length,
            "history_heads": self.history_heads,
            "history_dropout": self.history_dropout,
            "history_pooling": self.history_pooling,
            "history_horizon": self.history_horizon,
            "use_user_ids": self.use_user_ids,
        }
