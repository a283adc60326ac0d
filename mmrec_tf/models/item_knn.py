"""ItemKNN: item-item cosine similarity, each item's k nearest neighbours."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.models.item_to_item import ItemToItemRecommender, interaction_matrix


class ItemKNN(ItemToItemRecommender):
    """W_ij = cos(i, j) over the users' interaction vectors, kept for the `neighbours`
    most similar j of each history item i (W_ii = 0; ties at the k-th similarity
    are all kept); scores = profile × W.

    `shrink` damps similarities built on few common users:
    cos'(i, j) = XᵢᵀXⱼ / (‖Xᵢ‖‖Xⱼ‖ + shrink).

    Args (of `from_dataset`):
        neighbours: int. Similar items kept per item. Defaults to 100.
        shrink: float. Defaults to 0.
        recency: τ of the recency weights exp(−d / τ), or None. Defaults to None.
        split: the interactions fitted on. Defaults to `"train"`.

    Example:
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset
    >>> import tempfile
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> ItemKNN.from_dataset(dataset, neighbours=20).score_users([0]).shape
    (1, 200)
    """

    @classmethod
    def from_dataset(
        cls,
        dataset: MultimodalDataset,
        neighbours: int = 100,
        shrink: float = 0.0,
        recency: float | None = None,
        split: str = "train",
    ) -> ItemKNN:
        if neighbours < 1:
            raise ValueError(f"neighbours must be ≥ 1. Received: neighbours={neighbours}")
        sequences = Sequences.from_dataset(dataset, [split])
        x = interaction_matrix(sequences, dataset.num_items)
        norms = np.sqrt(x.sum(axis=0))
        similarity = (x.T @ x) / (np.outer(norms, norms) + shrink + 1e-12)
        np.fill_diagonal(similarity, 0.0)
        keep = min(neighbours, dataset.num_items - 1)
        # Row i keeps its `keep` largest similarities: i's neighbours j.
        threshold = -np.partition(-similarity, keep - 1, axis=1)[:, keep - 1 : keep]
        weights = np.where(similarity >= threshold, similarity, 0.0)
        return cls(weights, sequences, recency)
