"""Cold start: items nobody interacted with in training, ranked from their content alone."""

from __future__ import annotations

import dataclasses

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.evaluation.metrics import hits_of, ndcg_from_hits, recall_from_hits


@dataclasses.dataclass
class ColdStartSplit:
    """A dataset with some items' interactions taken out entirely.

    Attributes:
        dataset: the dataset without any interaction of the held-out items (in
            any split): what the model trains and validates on. The catalogue
            is unchanged, so the held-out items keep their content.
        items: held-out item indices, sorted.
        users, held_items: the removed interactions (user and item indices).
    """

    dataset: MultimodalDataset
    items: np.ndarray
    users: np.ndarray
    held_items: np.ndarray


def hold_out_items(
    dataset: MultimodalDataset, fraction: float = 0.1, seed: int = 0
) -> ColdStartSplit:
    """Chooses `fraction` of the items that have interactions (seeded) and removes
    all their interactions."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1). Received: fraction={fraction}")
    candidates = np.unique(dataset.interaction_items)
    count = max(1, int(round(fraction * len(candidates))))
    items = np.sort(np.random.default_rng(seed).choice(candidates, count, replace=False))
    held = np.isin(dataset.interaction_items, items)
    kept = {
        field: None if getattr(dataset, field) is None else getattr(dataset, field)[~held]
        for field in ("interaction_users", "interaction_items", "ratings", "timestamps", "splits")
    }
    return ColdStartSplit(
        dataclasses.replace(dataset, **kept),
        items,
        dataset.interaction_users[held],
        dataset.interaction_items[held],
    )


def evaluate_cold_start(
    split: ColdStartSplit,
    scores: np.ndarray,
    k: int = 20,
    *,
    num_random_orders: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """Ranks only the held-out items for every user who interacted with any of them.

    `scores` [num_users, len(split.items)] are the model's scores of the
    held-out items (columns in `split.items` order), computed from content
    alone. Returns Recall@k and NDCG@k of the model; of a random order (mean
    over `num_random_orders` seeded shuffles); and of the popularity order,
    which needs the held-out interactions themselves (an oracle: in practice a
    new item's popularity is unknown), as a reference of what interaction
    counts alone would give.
    """
    if np.shape(scores)[1:] != (len(split.items),):
        raise ValueError(
            f"scores must be [users, {len(split.items)}]: one column per held-out item, in "
            f"split.items order. Received: {np.shape(scores)}"
        )
    column = {item: c for c, item in enumerate(split.items.tolist())}
    users = np.unique(split.users)
    relevant = [
        sorted({column[i] for i in split.held_items[split.users == u].tolist()}) for u in users
    ]
    sizes = np.array([len(r) for r in relevant], float)
    k = min(k, len(split.items))

    def measure(order):
        hits = hits_of(order[:, :k], relevant)
        return recall_from_hits(hits, sizes).mean(), ndcg_from_hits(hits, sizes).mean()

    results = {}
    chosen = np.asarray(scores)[users]
    order = np.argsort(-chosen, axis=1, kind="stable")
    results[f"model/recall@{k}"], results[f"model/ndcg@{k}"] = measure(order)
    rng = np.random.default_rng(seed)
    random = np.array(
        [
            measure(np.stack([rng.permutation(len(split.items)) for _ in users]))
            for _ in range(num_random_orders)
        ]
    ).mean(axis=0)
    results[f"random/recall@{k}"], results[f"random/ndcg@{k}"] = random
    counts = np.bincount(
        np.array([column[i] for i in split.held_items.tolist()]), minlength=len(split.items)
    )
    popular = np.tile(np.argsort(-counts, kind="stable"), (len(users), 1))
    results[f"popularity_oracle/recall@{k}"], results[f"popularity_oracle/ndcg@{k}"] = measure(
        popular
    )
    results["users"] = float(len(users))
    results["items"] = float(len(split.items))
    return {name: float(value) for name, value in results.items()}
