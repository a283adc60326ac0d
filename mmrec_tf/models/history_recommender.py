"""Users as their history: the multimodal item side with `HistoryUsers` as the user side."""

from __future__ import annotations

import inspect

import keras
import numpy as np
from keras import ops

from mmrec_tf.data.histories import Sequences, checked_histories, latest_known
from mmrec_tf.layers.history_encoder import HistoryEncoder
from mmrec_tf.layers.history_users import HistoryUsers
from mmrec_tf.models.multimodal_recommender import MultimodalRecommender


@keras.saving.register_keras_serializable(package="mmrec_tf")
class HistoryRecommender(MultimodalRecommender):
    """Encodes a user from their latest `history_length` interactions, in time order.

    `MultimodalRecommender` with `HistoryUsers` as its user side: items are
    the same (content tower, IDs, propagation: every option applies); a user
    is `HistoryEncoder` (self-attention over their latest items' vectors plus
    recency positions) applied to their history, plus their ID embedding
    with `use_user_ids`. Scores are dot products.

    Training batches carry each positive's history, the interactions before it
    (`bpr_triples(..., **model.sampler_options())`): the model learns to rank
    what a user chose next from what they had done. The model stores every
    training user's latest history, so `score_users` ranks from what a user
    did up to the end of training; `score_histories` ranks from any history (a
    user's latest interactions, or a new user's) without refitting.
    `loss="softmax"` (the catalogue softmax) suits it best.

    Args: `MultimodalRecommender`'s, and the options of its user side,
    `HistoryUsers`: `history_length` (L, 50), `history_heads` (1),
    `history_dropout` (0.2), `history_pooling` (`"latest"` or `"mean"`, see
    `HistoryEncoder`), `history_horizon` (H, 1: in training, a history ends 1
    to H steps before the item to rank, so the model learns what a user chooses
    soon, not only next) and `use_user_ids` (False: add a user ID embedding to
    the encoded history).

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import bpr_triples, generate_demo_dataset, load_dataset
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> model = HistoryRecommender.from_dataset(dataset, embedding_dim=16, history_length=8,
    ...     loss="softmax")
    >>> model.compile(optimizer="adam", jit_compile=True)
    >>> batches = bpr_triples(dataset, 256, seed=0, **model.sampler_options())
    >>> _ = model.fit(batches, epochs=1, verbose=0)
    >>> model.score_histories(np.array([[3, 7, 1, 0, 5, 2]])).shape  # a new user's 6 items
    (1, 200)
    """

    OPTION_CHOICES = {
        **MultimodalRecommender.OPTION_CHOICES,
        "history_pooling": HistoryEncoder.POOLINGS,
    }

    # The user side; its constructor's options (beyond the sizes) are the model's.
    USER_SIDE = HistoryUsers

    def __init__(self, num_users, num_items, feature_dims, **kwargs):
        names = user_side_options(self.USER_SIDE)
        # Read by make_user_side, during MultimodalRecommender's construction.
        self._history_options = {name: kwargs.pop(name) for name in names if name in kwargs}
        super().__init__(num_users, num_items, feature_dims, **kwargs)

    def make_user_side(self):
        return self.USER_SIDE(
            self.num_users, self.embedding_dim, name="user_side", **self._history_options
        )

    @classmethod
    def from_dataset(cls, dataset, features=None, present=None, *, split="train", **kwargs):
        """`MultimodalRecommender.from_dataset`, storing each user's latest `split` history."""
        model = super().from_dataset(dataset, features, present, split=split, **kwargs)
        histories = Sequences.from_dataset(dataset, [split]).latest(model.history_length)
        model.user_side.stored_histories.assign(histories)
        return model

    @property
    def history_length(self) -> int:
        return self.user_side.history_length

    def history_window(self) -> int:
        return self.history_length

    def history_reader(self):
        return self.user_side.history_encoder, self.history_length

    def serving_users(self, dataset, seen_splits, users, items):
        """Known users are their latest interactions in the splits serving treats as
        seen (`seen_splits`), encoded with the exported item vectors `items`."""
        _, known = super().serving_users(dataset, seen_splits, users, items)
        sequences = Sequences.from_dataset(dataset, list(seen_splits))
        known[sequences.lengths > 0] = True
        users = self.encode_histories(
            sequences.latest(self.history_length),
            items,
            np.arange(dataset.num_users, dtype=np.int32),
        )
        return ops.convert_to_numpy(users), known

    def encode_histories(self, histories, items, user_indices=None, training=None):
        """`HistoryUsers.encode`: user vectors [batch, d] from histories (int [batch, L],
        −1 pads) and the item vectors ([num_items, d], or a function of indices)."""
        return self.user_side.encode(histories, items, user_indices, training)

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
        side = self.user_side.get_config()
        return {
            **super().get_config(),
            **{name: side[name] for name in user_side_options(self.USER_SIDE)},
        }


def user_side_options(user_side) -> list[str]:
    """The names of a user side's options: its constructor's arguments with defaults."""
    parameters = inspect.signature(user_side.__init__).parameters.values()
    return [p.name for p in parameters if p.default is not inspect.Parameter.empty]
