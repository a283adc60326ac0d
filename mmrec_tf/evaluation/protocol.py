"""Full-ranking evaluation over the whole catalogue (the MMRec protocol)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.evaluation.metrics import (
    catalogue_coverage,
    hit_rate_from_hits,
    hits_of,
    intra_list_diversity,
    ndcg_from_hits,
    novelty,
    precision_from_hits,
    recall_from_hits,
)
from mmrec_tf.evaluation.popularity_groups import item_popularity_groups, metrics_by_popularity

MASKS = ("train", "train+valid")
HISTORIES = ("train", "train+valid")
DEFAULT_KS = (10, 20, 50)
# The most scores one batch of users holds at once (float32: 256 MB).
SCORES_PER_BATCH = 1 << 26


def evaluate_ranking(
    score_users: Callable[[np.ndarray], np.ndarray],
    dataset: MultimodalDataset,
    split: str = "test",
    *,
    mask: str = "train+valid",
    ks=DEFAULT_KS,
    item_features: np.ndarray | None = None,
    beyond_accuracy_k: int = 20,
    popularity_k: int | None = None,
    batch_size: int = 1024,
    sample_users: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Ranks every item for every user with held-out items in `split`.

    `score_users(user_indices)` returns scores [len(users), num_items], a NumPy
    array or a tensor; seen items are masked and the top K taken in
    TensorFlow, where the scores are (a tensor on a GPU stays there: only
    [users, K] indices reach the host), a batch of users at a time. Items
    the user interacted with in training are never recommended (`mask="train"`,
    MMRec's runner); with `mask="train+valid"` (the default) their validation
    items are left out too when testing. Users without held-out items are
    skipped. `sample_users` evaluates that many of them, drawn uniformly
    without replacement under `seed` (for catalogues too large to rank for
    everyone each epoch); all of them when None or when there are fewer.

    Returns a flat dict: `recall@K`, `ndcg@K`, `precision@K`, `hit@K` for each
    K, averaged over users; and, for `beyond_accuracy_k`, `coverage@K`,
    `novelty@K` and, given `item_features`, `diversity@K`. With `popularity_k`,
    also `recall@K/<group>` and `ndcg@K/<group>` at that K over the held-out
    items of each item popularity group, from the same ranking
    (`popularity_groups.metrics_by_popularity`: cold, sparse, warm).
    """
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}. Received: mask={mask!r}")
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test'. Received: split={split!r}")
    seen_splits = ["train"] + (["valid"] if mask == "train+valid" and split == "test" else [])
    seen_users, seen_items = dataset.interaction_pairs(seen_splits)
    held_users, held_items = dataset.interaction_pairs([split])
    users = np.unique(held_users)
    if len(users) == 0:
        raise ValueError(f"no user has {split} interactions")
    if sample_users is not None and sample_users < len(users):
        if sample_users < 1:
            raise ValueError(f"sample_users must be ≥ 1. Received: {sample_users}")
        users = np.sort(np.random.default_rng(seed).choice(users, sample_users, replace=False))
    largest_k = min(max(max(ks), beyond_accuracy_k, popularity_k or 0), dataset.num_items)
    top_k = np.empty((len(users), largest_k), np.int64)
    # Users per batch: at most `batch_size`, and few enough that a batch's scores
    # fit in SCORES_PER_BATCH (a million items: 64 users, 256 MB).
    rows_per_batch = max(1, min(batch_size, SCORES_PER_BATCH // dataset.num_items))
    for start in range(0, len(users), rows_per_batch):
        batch = users[start : start + rows_per_batch]
        rows, cols = _rows_of(seen_users, seen_items, batch)
        best = _unseen_top_k(score_users(batch), rows, cols, largest_k)
        top_k[start : start + len(batch)] = best.numpy()
    positions, held = _rows_of(held_users, held_items, users)
    relevant = np.split(held, np.flatnonzero(np.diff(positions)) + 1)
    hits = hits_of(top_k, relevant)
    sizes = np.array([len(r) for r in relevant], float)
    results = {}
    for k in ks:
        results[f"recall@{k}"] = float(recall_from_hits(hits[:, :k], sizes).mean())
        results[f"ndcg@{k}"] = float(ndcg_from_hits(hits[:, :k], sizes).mean())
        results[f"precision@{k}"] = float(precision_from_hits(hits[:, :k]).mean())
        results[f"hit@{k}"] = float(hit_rate_from_hits(hits[:, :k]).mean())
    k = beyond_accuracy_k
    results[f"coverage@{k}"] = catalogue_coverage(top_k[:, :k], dataset.num_items)
    results[f"novelty@{k}"] = novelty(top_k[:, :k], dataset.item_popularity())
    if item_features is not None:
        results[f"diversity@{k}"] = intra_list_diversity(top_k[:, :k], item_features)
    if popularity_k is not None:
        groups = item_popularity_groups(dataset)
        results.update(metrics_by_popularity(top_k, relevant, groups, popularity_k))
    return results


def history_scorer(model, dataset: MultimodalDataset, history: str = "train", split: str = "test"):
    """`score_users` for `evaluate_ranking` under a history protocol.

    * `"train"`: users as the model saw them in training (their training
      interactions): comparable with models whose users are fitted IDs.
    * `"train+valid"` (test split only): the user's history also holds their
      validation interactions, which come before the test period, as a
      deployed recommender knows what a user did up to now; nothing is
      refitted. Needs a model that scores histories (`score_histories`:
      `HistoryRecommender`, `EASE`, `ItemKNN`, `ContentKNN`).

    Users with no interaction in those splits are scored by the training
    split's item popularity (`popular_for_unknown_users`): never by an
    untrained embedding row.
    """
    if history not in HISTORIES:
        raise ValueError(f"history must be one of {HISTORIES}. Received: history={history!r}")
    if history == "train":
        # Trainable recommenders compute their item side once for all batches.
        return popular_for_unknown_users(model.ranking_scorer(), dataset, ["train"])
    if split != "test":
        raise ValueError(
            "history train+valid is for the test split: on valid, the held-out items "
            "would be part of the history"
        )
    length = model.history_window()
    if length is None:
        raise ValueError(
            f"{type(model).__name__} ranks from users fitted in training; history "
            "train+valid needs a model that reads histories (HistoryRecommender, EASE, "
            "ItemKNN, ContentKNN)"
        )
    sequences = Sequences.from_dataset(dataset, ["train", "valid"])

    def score_users(users):
        window = length or max(1, int(sequences.lengths[users].max()))
        return model.score_histories(sequences.latest(window, users), users)

    return popular_for_unknown_users(score_users, dataset, ["train", "valid"])


def popular_for_unknown_users(score_users, dataset: MultimodalDataset, known_from):
    """`score_users` for the users with interactions in the splits `known_from`; the
    others (the model has neither a trained row nor a history of theirs) get the
    training split's item popularity, as an exported model serves unknown users."""
    known = np.zeros(dataset.num_users, bool)
    for split in known_from:
        known[dataset.interactions(split)[0]] = True
    if known.all():
        return score_users
    popularity = tf.constant(dataset.item_popularity(), tf.float32)

    def score_known_users(users):
        scores = tf.cast(score_users(users), tf.float32)
        return tf.where(known[np.asarray(users)][:, None], scores, popularity[None, :])

    return score_known_users


def _rows_of(users, items, chosen):
    """(positions in `chosen`, items) of the chosen users' pairs; `users` sorted."""
    chosen = np.asarray(chosen)
    lo = np.searchsorted(users, chosen, "left")
    hi = np.searchsorted(users, chosen, "right")
    counts = hi - lo
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    index = np.arange(counts.sum()) + starts
    return np.repeat(np.arange(len(chosen)), counts), items[index]


@tf.function(reduce_retracing=True)
def _unseen_top_k(scores, rows, cols, k):
    """Indices [batch, k] of each row's k best scores once the (rows, cols) entries
    are left out, best first; ties go to the lower item index (`tf.math.top_k`)."""
    scores = tf.cast(scores, tf.float32)
    seen = tf.stack([tf.cast(rows, tf.int64), tf.cast(cols, tf.int64)], axis=1)
    excluded = tf.fill(tf.shape(seen)[:1], tf.constant(-np.inf, tf.float32))
    return tf.math.top_k(tf.tensor_scatter_nd_update(scores, seen, excluded), k).indices
