import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.evaluation.cold_start import evaluate_cold_start, hold_out_items


def test_held_out_items_lose_every_interaction(demo_dir):
    dataset = load_dataset(demo_dir)
    split = hold_out_items(dataset, 0.1, seed=1)
    assert len(split.items) == 20
    assert not np.isin(split.dataset.interaction_items, split.items).any()
    assert len(split.users) + split.dataset.num_interactions == dataset.num_interactions
    assert split.dataset.num_items == dataset.num_items  # content stays
    assert len(split.dataset.splits) == split.dataset.num_interactions
    again = hold_out_items(dataset, 0.1, seed=1)
    np.testing.assert_array_equal(again.items, split.items)
    with pytest.raises(ValueError, match="fraction"):
        hold_out_items(dataset, 1.5)


def test_cold_start_metrics_by_hand(make_dataset):
    items = [{"item_id": f"i{k}", "text": "x"} for k in range(4)]
    rows = [("u0", "i0"), ("u0", "i1"), ("u1", "i1"), ("u1", "i2"), ("u2", "i3")]
    root = make_dataset(items, [{"user_id": u, "item_id": i, "split": "train"} for u, i in rows])
    dataset = load_dataset(root)
    split = hold_out_items(dataset, 0.5, seed=0)
    held = split.items.tolist()
    # Scores that put, for every user, the held item with the larger index first.
    scores = np.tile(np.arange(len(held), dtype=float), (dataset.num_users, 1))
    results = evaluate_cold_start(split, scores, k=1, num_random_orders=2000)
    relevant = {u: set() for u in range(dataset.num_users)}
    for u, i in zip(split.users.tolist(), split.held_items.tolist(), strict=True):
        relevant[u].add(i)
    users = [u for u in relevant if relevant[u]]
    recall = np.mean([(held[-1] in relevant[u]) / len(relevant[u]) for u in users])
    assert results["model/recall@1"] == pytest.approx(recall)
    expected_random = np.mean([1 / len(held) for u in users])  # one of the held items, at random
    assert results["random/recall@1"] == pytest.approx(expected_random, abs=0.03)
    assert results["users"] == len(users) and results["items"] == len(held)
    # Scores over the whole catalogue instead of the held-out items: refused.
    with pytest.raises(ValueError, match=r"one column per held-out item"):
        evaluate_cold_start(split, np.zeros((dataset.num_users, dataset.num_items)), k=1)
