import dataclasses
import math

import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.evaluation import (
    catalogue_coverage,
    evaluate_ranking,
    hit_rate_at_k,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

# User 0: relevant {2, 7}; list [2, 5, 7] -> hits at ranks 1 and 3.
# User 1: relevant {9};    list [1, 3, 4] -> no hit.
# User 2: relevant {4, 5, 6, 8}; list [8, 0, 1] -> hit at rank 1.
TOP = np.array([[2, 5, 7], [1, 3, 4], [8, 0, 1]])
RELEVANT = [{2, 7}, {9}, {4, 5, 6, 8}]


def test_recall_precision_hit_rate_by_hand():
    np.testing.assert_allclose(recall_at_k(TOP, RELEVANT), [2 / 2, 0, 1 / 4])
    np.testing.assert_allclose(precision_at_k(TOP, RELEVANT), [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(hit_rate_at_k(TOP, RELEVANT), [1, 0, 1])


def test_ndcg_by_hand():
    user0 = (1 / math.log2(2) + 1 / math.log2(4)) / (1 / math.log2(2) + 1 / math.log2(3))
    user2 = 1.0 / (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4))
    np.testing.assert_allclose(ndcg_at_k(TOP, RELEVANT), [user0, 0, user2])


def test_beyond_accuracy_by_hand():
    assert catalogue_coverage(TOP, 20) == 8 / 20
    popularity = np.full(10, 0.5)
    popularity[2] = 0.25
    expected = (8 * 1.0 + 1 * 2.0) / 9  # -log2(0.5) = 1 for eight items, -log2(0.25) = 2 once
    assert novelty(TOP, popularity) == pytest.approx(expected)
    features = np.eye(10)
    features[5] = features[2]  # items 2 and 5 look alike
    # User 0: pairs (2,5) distance 0, (2,7) 1, (5,7) 1 -> 2/3; users 1 and 2: all distinct -> 1.
    assert intra_list_diversity(TOP, features) == pytest.approx((2 / 3 + 1 + 1) / 3)


def test_protocol_masks_seen_items_and_skips_users_without_held_out(make_dataset):
    items = [{"item_id": f"i{k}", "text": "x"} for k in range(5)]
    rows = [
        ("u0", "i0", "train"),
        ("u0", "i1", "valid"),
        ("u0", "i2", "test"),
        ("u1", "i3", "train"),
        ("u2", "i4", "test"),
    ]
    root = make_dataset(items, [{"user_id": u, "item_id": i, "split": s} for u, i, s in rows])
    dataset = load_dataset(root)
    # Popularity-like scores prefer low item indices: i0 > i1 > ... > i4.
    scores = lambda users: np.tile(np.arange(5, 0, -1, dtype=float), (len(users), 1))  # noqa: E731
    both = evaluate_ranking(scores, dataset, "test", ks=(1, 2), beyond_accuracy_k=1)
    # u0: i0 (train) and i1 (valid) masked -> top-1 is i2, a hit. u2: top-1 is i0, a miss.
    assert both["recall@1"] == pytest.approx(0.5) and both["hit@2"] == pytest.approx(0.5)
    train_only = evaluate_ranking(
        scores, dataset, "test", mask="train", ks=(1, 2), beyond_accuracy_k=1
    )
    # u0 with only train masked: top-2 is i1, i2 -> hit at rank 2.
    assert train_only["recall@1"] == 0 and train_only["recall@2"] == pytest.approx(0.5)
    valid = evaluate_ranking(scores, dataset, "valid", ks=(1,), beyond_accuracy_k=1)
    assert valid["recall@1"] == 1.0  # only u0 has a valid item; i0 masked, i1 ranked first
    with pytest.raises(ValueError, match="mask must be one of"):
        evaluate_ranking(scores, dataset, mask="everything")


def test_most_popular_reproduces_the_published_protocol_figures(ml100k_dir):
    """MostPopular on ml-100k-mm's canonical split: Recall@20 .0965, NDCG@20 .0807 (issue table)."""
    dataset = load_dataset(ml100k_dir)
    _, items = dataset.interactions("train")
    counts = np.bincount(items, minlength=dataset.num_items).astype(float)
    results = evaluate_ranking(lambda users: np.tile(counts, (len(users), 1)), dataset)
    assert round(results["recall@20"], 4) == 0.0965
    assert round(results["ndcg@20"], 4) == 0.0807


def test_batches_and_tensor_scores_rank_as_one_numpy_matrix(ml100k_dir, monkeypatch):
    import tensorflow as tf

    from mmrec_tf.evaluation import protocol

    dataset = load_dataset(ml100k_dir)
    # Many ties (rounded scores): the lower item index must win in every batch.
    shape = (dataset.num_users, dataset.num_items)
    table = np.round(np.random.default_rng(0).normal(size=shape), 1)
    whole = evaluate_ranking(lambda users: table[users], dataset)
    monkeypatch.setattr(protocol, "SCORES_PER_BATCH", 5 * dataset.num_items)  # 5 users a batch
    batched = evaluate_ranking(lambda users: tf.constant(table[users], tf.float32), dataset)
    assert batched == whole
    # The NumPy reference: ties to the lower index, seen (train + valid) items never ranked.
    seen_users, seen_items = dataset.interaction_pairs(["train", "valid"])
    held_users, held_items = dataset.interaction_pairs(["test"])
    masked = table.astype(np.float32)
    masked[seen_users, seen_items] = -np.inf
    recalls = []
    for user in np.unique(held_users):
        top = np.lexsort((np.arange(dataset.num_items), -masked[user]))[:20]
        relevant = held_items[held_users == user]
        recalls.append(np.isin(top, relevant).sum() / len(relevant))
    assert whole["recall@20"] == pytest.approx(np.mean(recalls), abs=1e-9)


def test_a_sample_of_users_is_evaluated_as_those_users_alone(ml100k_dir):
    dataset = load_dataset(ml100k_dir)
    _, items = dataset.interactions("train")
    counts = np.bincount(items, minlength=dataset.num_items).astype(float)
    scores = lambda users: np.tile(counts, (len(users), 1))  # noqa: E731
    sample = evaluate_ranking(scores, dataset, sample_users=100, seed=3)
    chosen = np.sort(
        np.random.default_rng(3).choice(np.unique(dataset.interactions("test")[0]), 100, False)
    )
    # The same figures as evaluating only the chosen users (their held-out items alone).
    keep = np.isin(dataset.interaction_users, chosen) | (dataset.splits != "test")
    only = dataclasses.replace(
        dataset,
        interaction_users=dataset.interaction_users[keep],
        interaction_items=dataset.interaction_items[keep],
        splits=dataset.splits[keep],
        ratings=None,
        timestamps=None,
    )
    assert sample == pytest.approx(evaluate_ranking(scores, only))
    assert sample != evaluate_ranking(scores, dataset)
    with pytest.raises(ValueError, match="sample_users must be"):
        evaluate_ranking(scores, dataset, sample_users=0)
