import numpy as np
import tensorflow as tf

from mmrec_tf.serving.seen_items import SeenItems


def random_table(rng, users, items, most):
    counts = rng.integers(0, most, users)
    counts[3] = 0  # an empty row
    rows = [np.sort(rng.choice(items, c, replace=False)) for c in counts]
    return np.concatenate([[0], np.cumsum(counts)]), rows


def test_rows_decode_to_the_sorted_items_padded():
    rng = np.random.default_rng(0)
    splits, rows = random_table(rng, 30, 1682, 40)
    # Unsorted rows in, sorted rows out.
    shuffled = np.concatenate([rng.permutation(r) for r in rows])
    seen = SeenItems(splits, shuffled)
    assert seen.deltas.dtype == tf.int16
    users = np.array([5, 3, 0, 29, 5])
    in_dataset = np.array([True, True, True, True, False])
    decoded = seen.rows(tf.constant(users), tf.constant(in_dataset), 1682).numpy()
    width = max(len(rows[u]) for u in users[:4])
    assert decoded.shape == (5, width)
    for row, user in enumerate(users):
        expected = rows[user] if in_dataset[row] else []
        padded = np.concatenate([expected, np.full(width - len(expected), 1682)])
        np.testing.assert_array_equal(decoded[row], padded)


def test_a_large_catalogue_with_large_gaps_is_stored_in_int32():
    items = np.array([3, 40_000, 100_000, 5])
    seen = SeenItems(np.array([0, 3, 4]), items)
    assert seen.deltas.dtype == tf.int32
    decoded = seen.rows(tf.constant([0, 1]), tf.constant([True, True]), -1).numpy()
    np.testing.assert_array_equal(decoded, [[3, 40_000, 100_000], [5, -1, -1]])


def test_int16_storage_is_half_of_int32():
    rng = np.random.default_rng(1)
    splits, rows = random_table(rng, 100, 1682, 100)
    seen = SeenItems(splits, np.concatenate(rows))
    assert seen.deltas.numpy().nbytes * 2 == sum(map(len, rows)) * 4
