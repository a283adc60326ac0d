"""Splitting interactions into train, validation and test sets."""

from __future__ import annotations

import numpy as np


def temporal_split(
    users: np.ndarray,
    items: np.ndarray,
    timestamps: np.ndarray,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> np.ndarray:
    """Splits each user's interactions by time: the latest go to test.

    Per user, interactions are ordered by (timestamp, item index); the last
    `round(test_fraction * n)` (at least 1) are `test`, the
    `round(valid_fraction * n)` (at least 1) before them `valid`, the rest
    `train`. `round` is Python's (halves to even). This is the canonical
    split of ml-100k-mm. A user with fewer than 3 interactions keeps them all
    in `train`, so that every user has training data.

    Args:
        users: int array, the user of each interaction.
        items: int array, the item of each interaction (breaks timestamp ties).
        timestamps: int array, the time of each interaction.
        valid_fraction: float. Share of each user's interactions for validation.
        test_fraction: float. Share of each user's interactions for test.

    Returns:
        An object array of `"train"`, `"valid"`, `"test"`, aligned with the input.

    Example:
    >>> temporal_split(np.array([0] * 5), np.arange(5), np.array([5, 4, 3, 2, 1]))
    array(['test', 'valid', 'train', 'train', 'train'], dtype=object)
    """
    users, items, timestamps = (np.asarray(a) for a in (users, items, timestamps))
    if not (users.shape == items.shape == timestamps.shape and users.ndim == 1):
        raise ValueError(
            "users, items and timestamps must be 1-D arrays of one length. "
            f"Received shapes {users.shape}, {items.shape}, {timestamps.shape}"
        )
    for name, fraction in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 < fraction < 0.5:
            raise ValueError(f"{name} must be in (0, 0.5). Received: {name}={fraction}")
    order = np.lexsort((items, timestamps, users))
    splits = np.full(len(users), "train", dtype=object)
    sorted_users = users[order]
    boundaries = np.flatnonzero(np.diff(sorted_users)) + 1
    for group in np.split(order, boundaries):
        n = len(group)
        if n < 3:
            continue
        num_test = max(1, round(test_fraction * n))
        num_valid = max(1, round(valid_fraction * n))
        splits[group[n - num_test :]] = "test"
        splits[group[n - num_test - num_valid : n - num_test]] = "valid"
    return splits
