"""ContentKNN: items scored by the cosine of their content to the user's history."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.models.item_to_item import ItemToItemRecommender

# A row within this distance of its modality's mean, relative to the modality's
# largest row, is the mean itself (stored for an item that lacks the modality,
# as ml-100k-mm's reference features do for the posterless films), not content:
# its slots are zeros. Normalising its rounding residue would make every such
# item a copy of the others.
AT_THE_MEAN = 1e-5


class ContentKNN(ItemToItemRecommender):
    """A parameter-free content baseline: score(u, i) = cos(v_i, Σ_h w_h v_h) over
    the user's history items h, the anchor a new item is judged against.

    Each item's vector v_i concatenates, over the modalities in sorted order,
    its features x_i^m mean-centred (μ_m: the mean over the items that have
    modality m) and unit-normalised, zeros where the item lacks m (or where
    x_i^m is μ_m, as a missing row filled with the mean is: `AT_THE_MEAN`);
    the concatenation is unit-normalised again:

        v_i = normalise([normalise(x_i^m − μ_m) for m in sorted(modalities)]).

    With w_h = 1 (no `recency`) the score is the cosine between v_i and the
    mean of the history's vectors, whose direction is that of their sum. As
    ‖v_i‖ = 1 (0 for an item with no content, which scores 0), ranking one
    user's items by the score is ranking them by v_i · Σ_h w_h v_h; the score
    returned is that dot product divided by ‖Σ_h w_h v_h‖, the cosine itself,
    in [−1, 1] (0 for an empty history). `recency` (τ) weights a history item
    w_h = exp(−d / τ), d its distance from the latest item
    (`ItemToItemRecommender`).

    Only content is read, so an item nobody interacted with (a cold item) is
    scored like any other, and a new user from their history alone
    (`score_histories`). The item-item matrix W = V Vᵀ is never formed:
    scores are (profiles × V) × Vᵀ, memory [batch, n] plus V [n, Σ d_m].

    Args (of `from_dataset`):
        features: {modality: float [num_items, d]}, as `load_features` gives them.
        present: {modality: bool [num_items]}, whether each item has the modality.
            Defaults to (for every modality not in it) the rows not all zero.
        split: the interactions whose histories `score_users` reads. Defaults
            to `"train"`.
        recency: τ of the recency weights exp(−d / τ), or None. Defaults to None.

    Example:
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset
    >>> import tempfile
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> rng = np.random.default_rng(0)
    >>> features = {"text": rng.normal(size=(200, 8)), "image": rng.normal(size=(200, 4))}
    >>> model = ContentKNN.from_dataset(dataset, features)
    >>> scores = model.score_histories([[3, 7]])  # a new user who saw items 3 and 7
    >>> scores.shape, bool(np.abs(scores).max() <= 1 + 1e-6)
    ((1, 200), True)
    """

    def __init__(self, vectors: np.ndarray, sequences: Sequences, recency: float | None = None):
        """`vectors`: float [num_items, D], the items' v_i (see the class docstring)."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be [num_items, D], found shape {vectors.shape}")
        self.vectors = vectors
        self._keep_histories(sequences, len(vectors), recency)

    @classmethod
    def from_dataset(
        cls,
        dataset: MultimodalDataset,
        features: dict,
        present: dict | None = None,
        *,
        split: str = "train",
        recency: float | None = None,
    ) -> ContentKNN:
        vectors = content_vectors(features, present or {}, dataset.num_items)
        return cls(vectors, Sequences.from_dataset(dataset, [split]), recency)

    def scores_from_profiles(self, profiles: np.ndarray) -> np.ndarray:
        """cos(v_i, profile × V) for every item i: (profile × V / ‖profile × V‖) × Vᵀ."""
        pooled = profiles @ self.vectors
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, np.finfo(np.float32).tiny)) @ self.vectors.T


def content_vectors(features: dict, present: dict, num_items: int) -> np.ndarray:
    """float32 [num_items, Σ d_m]: the items' v_i (`ContentKNN`), modalities in sorted
    order; `present` lacking a modality: the rows not all zero have it."""
    if not features:
        raise ValueError(
            "ContentKNN needs item features ({modality: [num_items, d]}, as load_features "
            "gives them). Received none"
        )
    parts = []
    for modality in sorted(features):
        x = np.asarray(features[modality], np.float64)
        if x.ndim != 2 or len(x) != num_items:
            raise ValueError(
                f"{modality} features must be [num_items={num_items}, d]. Received shape {x.shape}"
            )
        has = np.asarray(present[modality] if modality in present else np.any(x != 0, axis=1))
        if has.shape != (num_items,):
            raise ValueError(
                f"present[{modality!r}] must be [num_items={num_items}] flags. "
                f"Received shape {has.shape}"
            )
        has = has.astype(bool)
        if not has.any():
            raise ValueError(f"no item has {modality} features (every row absent or zero)")
        centred = np.where(has[:, None], x - x[has].mean(axis=0), 0.0)
        largest = np.linalg.norm(x[has], axis=1).max()
        parts.append(_unit_rows(centred, smallest=AT_THE_MEAN * largest))
    return _unit_rows(np.concatenate(parts, axis=1)).astype(np.float32)


def _unit_rows(x: np.ndarray, smallest: float = 0.0) -> np.ndarray:
    """Each row divided by its norm; a row of norm ≤ `smallest` becomes zeros."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > smallest, x / np.where(norms > smallest, norms, 1.0), 0.0)
