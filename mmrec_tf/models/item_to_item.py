"""Recommenders that score items from the user's history through an item-item matrix."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.histories import PADDING, Sequences, checked_histories


class ItemToItemRecommender:
    """Scores = profile × W: the user's profile over items (1 for each item in their
    history, or a recency weight) times an item-item weight matrix W [n, n].

    `score_users(user_indices)` uses each user's history in the split the model
    was fitted on; `score_histories(histories)` takes any histories (int
    [batch, L], oldest first, left-padded with −1), such as a user's latest
    interactions or a new user's, with no refitting. `recency` (τ, None for
    none) weights an item exp(−d / τ), d its distance from the latest item
    (0 for the latest); an item seen twice counts once, at its latest.

    Subclasses compute W (`EASE`, `ItemKNN`); one whose W is too large to hold
    ([n, n] float32 is 40 GB at 10⁵ items) keeps it in factored form and
    overrides `scores_from_profiles` (`ContentKNN`).
    """

    def __init__(self, weights: np.ndarray, sequences: Sequences, recency: float | None = None):
        weights = np.asarray(weights, np.float32)
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"weights must be a square item-item matrix, found {weights.shape}")
        self.weights = weights
        self._keep_histories(sequences, weights.shape[0], recency)

    def _keep_histories(self, sequences: Sequences, num_items: int, recency: float | None):
        """Keeps what `profiles` and `score_users` read: the fitted histories, the
        catalogue's size and τ."""
        if recency is not None and not recency > 0:
            raise ValueError(f"recency (τ) must be > 0 or None. Received: recency={recency}")
        self.sequences = sequences
        self.recency = recency
        self.num_items = num_items

    def profiles(self, histories) -> np.ndarray:
        """float32 [batch, num_items]: the users' profiles (see the class docstring)."""
        histories = checked_histories(histories, self.num_items)
        length = histories.shape[1]
        distance = np.broadcast_to(np.arange(length - 1, -1, -1), histories.shape)
        weight = (
            np.ones(histories.shape) if self.recency is None else np.exp(-distance / self.recency)
        )
        rows, cols = np.nonzero(histories != PADDING)
        profiles = np.zeros((len(histories), self.num_items), np.float32)
        np.maximum.at(profiles, (rows, histories[rows, cols]), weight[rows, cols])
        return profiles

    def score_histories(self, histories, user_indices=None) -> np.ndarray:
        """Scores [batch, num_items] from histories (int [batch, L], −1 pads); who the
        users are (`user_indices`) does not matter here."""
        return self.scores_from_profiles(self.profiles(histories))

    def scores_from_profiles(self, profiles: np.ndarray) -> np.ndarray:
        """Scores [batch, num_items] from profiles [batch, num_items]: profiles × W."""
        return profiles @ self.weights

    def ranking_scorer(self):
        """The function from user indices to their scores (`score_users`)."""
        return self.score_users

    def history_window(self) -> int:
        """0: `score_histories` reads a user's whole history."""
        return 0

    def score_users(self, user_indices) -> np.ndarray:
        """Scores [len(user_indices), num_items] from each user's fitted history."""
        users = np.asarray(user_indices, np.int64)
        longest = int(self.sequences.lengths[users].max(initial=0))
        return self.score_histories(self.sequences.latest(max(longest, 1), users))


def interaction_matrix(sequences: Sequences, num_items: int) -> np.ndarray:
    """float64 [num_users, num_items]: 1 where the user has the item in `sequences`."""
    users = np.repeat(np.arange(len(sequences.lengths)), sequences.lengths)
    matrix = np.zeros((len(sequences.lengths), num_items))
    matrix[users, sequences.items] = 1.0
    return matrix
