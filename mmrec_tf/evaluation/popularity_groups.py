"""Recall and NDCG over the held-out items of each item popularity group."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.evaluation.metrics import hits_of, ndcg_from_hits, recall_from_hits

# Items by their number of training interactions (a user who had the item twice
# counts once, as in the masking): each group's name and the most an item of it
# has, in increasing order; the last group has no limit.
POPULARITY_GROUPS = (("cold", 0), ("sparse", 10), ("warm", None))


def item_popularity_groups(dataset: MultimodalDataset) -> np.ndarray:
    """int [num_items]: each item's group, an index into `POPULARITY_GROUPS`.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> np.bincount(item_popularity_groups(dataset), minlength=3).tolist()  # cold, sparse, warm
    [0, 44, 156]
    """
    _, items = dataset.interaction_pairs(["train"])
    counts = np.bincount(items, minlength=dataset.num_items)
    most = [limit for _, limit in POPULARITY_GROUPS[:-1]]
    return np.searchsorted(most, counts, side="left")


def metrics_by_popularity(top_k, relevant: list, item_groups: np.ndarray, k: int) -> dict:
    """`recall@k/<group>` and `ndcg@k/<group>` for each group of `POPULARITY_GROUPS`.

    `top_k` [users, ≥ k] is the full ranking the other metrics read (best
    first, seen items already left out), `relevant` each user's held-out
    items, `item_groups` [num_items] each item's group
    (`item_popularity_groups`). For group g, a user's relevant items are
    R_g = R ∩ g, and only users with R_g ≠ ∅ are averaged:

        recall@k/g = |L ∩ R_g| / |R_g|,
        ndcg@k/g = Σ_{r=1..k} [L_r ∈ R_g] / log2(r + 1) / IDCG(min(|R_g|, k)),

    the definitions of `recall_at_k` and `ndcg_at_k` with R_g for R. A group
    in which no user has a held-out item has no keys (a mean over no user is
    no number).

    Example:
    >>> top_k = np.array([[0, 1], [2, 0]])  # users 0 and 1, best first
    >>> relevant = [[1], [0, 3]]
    >>> groups = np.array([2, 1, 2, 1])  # items 1 and 3 sparse, 0 and 2 warm: no cold item
    >>> metrics_by_popularity(top_k, relevant, groups, k=2)
    {'recall@2/sparse': 0.5, 'ndcg@2/sparse': 0.315..., 'recall@2/warm': 1.0,
     'ndcg@2/warm': 0.630...}
    """
    top_k = np.asarray(top_k)[:, :k]
    item_groups = np.asarray(item_groups)
    hits = hits_of(top_k, relevant)
    sizes = [len(r) for r in relevant]
    owners = np.repeat(np.arange(len(relevant)), sizes)
    items = np.concatenate([np.zeros(0, np.int64)] + [np.fromiter(r, np.int64) for r in relevant])
    results = {}
    for group, (name, _) in enumerate(POPULARITY_GROUPS):
        in_group = item_groups[items] == group
        group_sizes = np.bincount(owners, weights=in_group, minlength=len(relevant))
        counted = group_sizes > 0
        if not counted.any():
            continue
        group_hits = (hits & (item_groups[top_k] == group))[counted]
        results[f"recall@{k}/{name}"] = float(
            recall_from_hits(group_hits, group_sizes[counted]).mean()
        )
        results[f"ndcg@{k}/{name}"] = float(ndcg_from_hits(group_hits, group_sizes[counted]).mean())
    return results
