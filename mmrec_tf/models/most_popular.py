"""The most-popular baseline."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset


class MostPopular:
    """Recommends the items with the most training interactions to everyone.

    With `epsilon`, the counts get Laplace noise of scale 1/ε: adding or
    removing one interaction changes one count by one, so the counts, and
    everything computed from them, are ε-differentially private per
    interaction (the Laplace mechanism; pure DP, δ = 0). The noise comes
    from `seed`, or by default from the operating system, never stored.

    Example:
    >>> model = MostPopular(np.array([2, 0, 1, 2]), num_items=3)
    >>> model.score_users(np.array([0, 1])).tolist()
    [[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]
    >>> private = MostPopular(np.array([2, 0, 1, 2]), num_items=3, epsilon=1.0, seed=0)
    >>> private.score_users(np.array([0])).round(2).tolist()
    [[1.32, 0.38, -0.5]]
    """

    def __init__(self, items: np.ndarray, num_items: int, epsilon: float | None = None, seed=None):
        self.popularity = np.bincount(np.asarray(items), minlength=num_items).astype(np.float64)
        if epsilon is not None:
            if not epsilon > 0:
                raise ValueError(f"epsilon must be > 0. Received: {epsilon}")
            noise = np.random.default_rng(seed).laplace(0.0, 1.0 / epsilon, num_items)
            self.popularity += noise

    @classmethod
    def from_dataset(
        cls, dataset: MultimodalDataset, split: str = "train", epsilon=None, seed=None
    ) -> MostPopular:
        return cls(dataset.interactions(split)[1], dataset.num_items, epsilon, seed)

    def ranking_scorer(self):
        """The function from user indices to their scores (`score_users`)."""
        return self.score_users

    def history_window(self) -> None:
        """None: the same scores for everyone, not read from a history."""
        return None

    def score_users(self, user_indices) -> np.ndarray:
        return np.tile(self.popularity, (len(user_indices), 1))
