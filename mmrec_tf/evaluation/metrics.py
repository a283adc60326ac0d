"""Top-K recommendation metrics, as the multimodal-recommendation literature defines them.

All take `top_k`, an int array [users, K] of recommended item indices (best
first), and `relevant`, a list with each user's held-out item indices.
"""

from __future__ import annotations

import numpy as np


def hits_of(top_k: np.ndarray, relevant: list) -> np.ndarray:
    """[users, K] booleans: whether each recommended item is relevant."""
    top_k = np.asarray(top_k)
    sizes = [len(r) for r in relevant]
    if not sum(sizes):
        return np.zeros(top_k.shape, bool)
    items = np.concatenate([np.fromiter(r, np.int64, len(r)) for r in relevant])
    # Membership through sorted (user, item) keys: no Python loop over users.
    width = int(max(top_k.max(initial=0), items.max())) + 1
    keys = np.sort(np.repeat(np.arange(len(relevant)), sizes) * width + items)
    queries = np.arange(len(top_k))[:, None] * width + top_k
    return keys[np.minimum(np.searchsorted(keys, queries), len(keys) - 1)] == queries


def recall_at_k(top_k, relevant) -> np.ndarray:
    """Per user: relevant items in the top K / the user's number of relevant items."""
    return recall_from_hits(hits_of(top_k, relevant), _sizes(relevant))


def precision_at_k(top_k, relevant) -> np.ndarray:
    """Per user: relevant items in the top K / K."""
    return precision_from_hits(hits_of(top_k, relevant))


def hit_rate_at_k(top_k, relevant) -> np.ndarray:
    """Per user: 1 when at least one relevant item is in the top K."""
    return hit_rate_from_hits(hits_of(top_k, relevant))


def ndcg_at_k(top_k, relevant) -> np.ndarray:
    """Per user: binary-relevance NDCG, DCG = Σ_r rel_r / log2(r + 1) over ranks r = 1..K,
    divided by the DCG of an ideal list (min(|relevant|, K) hits first)."""
    return ndcg_from_hits(hits_of(top_k, relevant), _sizes(relevant))


# The same metrics from a [users, K] hit matrix, so that an evaluation over
# several cut-offs finds the hits once (each K is a prefix of the columns).


def recall_from_hits(hits: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return hits.sum(axis=1) / sizes


def precision_from_hits(hits: np.ndarray) -> np.ndarray:
    return hits.mean(axis=1)


def hit_rate_from_hits(hits: np.ndarray) -> np.ndarray:
    return hits.any(axis=1).astype(float)


def ndcg_from_hits(hits: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])
    return (hits * discounts).sum(axis=1) / ideal[np.minimum(sizes, hits.shape[1]).astype(int)]


def _sizes(relevant) -> np.ndarray:
    return np.array([len(r) for r in relevant], float)


def catalogue_coverage(top_k, num_items: int) -> float:
    """Share of the catalogue recommended to at least one user."""
    return len(np.unique(top_k)) / num_items


def novelty(top_k, popularity: np.ndarray) -> float:
    """Mean self-information −log2 p(i) of recommended items; p(i) is the share of
    users who interacted with i in training (an item nobody saw counts as one user)."""
    return float(np.mean(-np.log2(popularity[top_k])))


def intra_list_diversity(top_k, item_features: np.ndarray) -> float:
    """Mean over users of the mean pairwise cosine distance between their top-K items."""
    unit = item_features / np.maximum(np.linalg.norm(item_features, axis=1, keepdims=True), 1e-12)
    k = top_k.shape[1]
    if k < 2:
        return 0.0
    vectors = unit[top_k]  # [users, K, d]
    similarity = np.einsum("ukd,uld->ukl", vectors, vectors)
    off_diagonal = similarity.sum(axis=(1, 2)) - np.trace(similarity, axis1=1, axis2=2)
    return float(np.mean(1.0 - off_diagonal / (k * (k - 1))))
