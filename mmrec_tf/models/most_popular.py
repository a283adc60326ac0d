"""The most-popular baseline."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset


class MostPopular:
    """Recommends the items with the most training interactions to everyone.

    Example:
    >>> model = MostPopular(np.array([2, 0, 1, 2]), num_items=3)
    >>> model.score_users(np.array([0, 1])).tolist()
    [[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]
    """

    def __init__(self, items: np.ndarray, num_items: int):
        self.popularity = np.bincount(np.asarray(items), minlength=num_items).astype(np.float64)

    @classmethod
    def from_dataset(cls, dataset: MultimodalDataset, split: str = "train") -> MostPopular:
        return cls(dataset.interactions(split)[1], dataset.num_items)

    def score_users(self, user_indices) -> np.ndarray:
        return np.tile(self.popularity, (len(user_indices), 1))
