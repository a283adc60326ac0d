import numpy as np

from mmrec_tf.data import bpr_triples, load_dataset


def _pairs(users, items):
    return list(zip(users.tolist(), items.tolist(), strict=True))


def _epoch(triples):
    batches = list(triples)
    return {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}, batches


def test_each_interaction_once_per_epoch_with_a_true_negative(demo_dir):
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    triples = bpr_triples(dataset, 100, seed=3)
    assert int(triples.cardinality()) == -(-len(users) // 100)
    epoch, batches = _epoch(triples)
    assert [len(b["user_index"]) for b in batches[:-1]] == [100] * (len(batches) - 1)
    seen = sorted(_pairs(users, items))
    assert sorted(_pairs(epoch["user_index"], epoch["positive_item"])) == seen
    positives = set(seen)
    negatives = _pairs(epoch["user_index"], epoch["negative_item"])
    # Five draws per negative: a collision survives with probability (share seen)^5.
    collisions = sum(pair in positives for pair in negatives)
    assert collisions <= 0.001 * len(negatives)
    assert epoch["negative_item"].min() >= 0
    assert epoch["negative_item"].max() < dataset.num_items


def test_seeded_epochs_differ_and_repeat_run_after_run(demo_dir):
    dataset = load_dataset(demo_dir)
    first, _ = _epoch(bpr_triples(dataset, 64, seed=7))
    triples = bpr_triples(dataset, 64, seed=7)
    again, _ = _epoch(triples)
    second, _ = _epoch(triples)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(again["user_index"], second["user_index"])
    other, _ = _epoch(bpr_triples(dataset, 64, seed=8))
    assert not np.array_equal(first["negative_item"], other["negative_item"])
