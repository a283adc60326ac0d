import csv
from collections import Counter

import numpy as np
import pytest

from mmrec_tf.data import temporal_split


def test_latest_interactions_go_to_test_then_valid():
    n = 25  # round(2.5) == 2: Python rounds halves to even
    rng = np.random.default_rng(0)
    times = rng.permutation(n)
    splits = temporal_split(np.zeros(n, int), np.arange(n), times)
    by_time = splits[np.argsort(times)]
    assert by_time.tolist() == ["train"] * 21 + ["valid"] * 2 + ["test"] * 2


def test_ties_are_broken_by_item_and_users_are_independent():
    users = np.array([0, 0, 0, 1, 1, 1, 1])
    items = np.array([5, 3, 4, 0, 1, 2, 3])
    times = np.array([7, 7, 7, 1, 2, 3, 4])
    splits = temporal_split(users, items, times)
    assert splits.tolist() == ["test", "train", "valid", "train", "train", "valid", "test"]


def test_users_with_fewer_than_three_interactions_stay_in_train():
    splits = temporal_split(np.array([0, 0, 1]), np.array([0, 1, 2]), np.array([1, 2, 3]))
    assert splits.tolist() == ["train"] * 3


def test_invalid_arguments():
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        temporal_split(np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="test_fraction must be in"):
        temporal_split(np.zeros(3), np.zeros(3), np.zeros(3), test_fraction=0.6)


def test_reproduces_the_canonical_ml100k_split(ml100k_mm_source):
    data = np.loadtxt(ml100k_mm_source / "u.data", dtype=np.int64)
    ours = temporal_split(data[:, 0], data[:, 1], data[:, 3])
    assert Counter(ours.tolist()) == {"train": 80_024, "valid": 9_988, "test": 9_988}
    with open(ml100k_mm_source / "split.tsv", newline="") as f:
        canonical = {
            (r["user_id"], r["item_id"]): r["split"] for r in csv.DictReader(f, delimiter="\t")
        }
    mine = {(str(u), str(i)): s for u, i, s in zip(data[:, 0], data[:, 1], ours, strict=True)}
    assert mine == canonical
