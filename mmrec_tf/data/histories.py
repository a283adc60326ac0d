"""Users as their history: each user's interactions in time order, as fixed-length windows."""

from __future__ import annotations

import numpy as np

from mmrec_tf.data.dataset import MultimodalDataset

# The item index that pads a history shorter than its window.
PADDING = -1


def chronological_order(dataset: MultimodalDataset, splits=None) -> np.ndarray:
    """Indices of the interactions in `splits` (all when None), sorted by user, then
    timestamp, then their order in `interactions.csv` (so interactions sharing a
    timestamp keep a stable order). Without timestamps, the file's order is the time.
    """
    count = len(dataset.interaction_users)
    chosen = np.arange(count)
    if splits is not None:
        for split in splits:
            dataset.interactions(split)  # an unknown split or no split column: its error
        chosen = chosen[np.isin(dataset.splits, list(splits))]
    times = np.zeros(count, np.int64) if dataset.timestamps is None else dataset.timestamps
    order = np.lexsort((chosen, times[chosen], dataset.interaction_users[chosen]))
    return chosen[order]


def checked_histories(histories, num_items: int) -> np.ndarray:
    """`histories` as an int32 [batch, length] array of item indices (−1 pads).

    Raises:
        ValueError: not two-dimensional, or an index outside −1 … num_items − 1
            (named in the message).
    """
    histories = np.asarray(histories, np.int64)
    if histories.ndim != 2:
        raise ValueError(f"histories must be [batch, length], found shape {histories.shape}")
    bad = (histories < PADDING) | (histories >= num_items)
    if bad.any():
        raise ValueError(
            f"history item index {histories[bad][0]} is outside 0…{num_items - 1} (−1 pads)"
        )
    return histories.astype(np.int32)


class Sequences:
    """Every user's item sequence, oldest first, in one flat array.

    `items[starts[u] : starts[u] + lengths[u]]` is user u's sequence;
    `position[i]` is the place in `items` of the i-th interaction given to the
    constructor (of the dataset's i-th interaction for `from_dataset`, −1 for
    one outside the splits). `windows` cuts fixed-length histories out of it.

    Example:
    >>> import numpy as np
    >>> sequences = Sequences(np.array([0, 0, 1, 0]), np.array([5, 6, 7, 8]), num_users=2)
    >>> sequences.latest(length=2).tolist()  # user 0: items 6 and 8 last; user 1: only 7
    [[6, 8], [-1, 7]]
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, num_users: int):
        """`users`, `items`: interactions in time order (users interleaved as they may)."""
        users = np.asarray(users, np.int64)
        order = np.argsort(users, kind="stable")
        self.items = np.asarray(items, np.int32)[order]
        self.lengths = np.bincount(users, minlength=num_users)
        self.starts = np.cumsum(self.lengths) - self.lengths
        self.position = np.empty(len(users), np.int64)
        self.position[order] = np.arange(len(users))
        # The flat array with one padding entry at the end, where windows point
        # before a user's first item.
        self._padded = np.append(self.items, np.int32(PADDING))

    @classmethod
    def from_dataset(cls, dataset: MultimodalDataset, splits=None) -> Sequences:
        """The users' sequences over `splits` (all interactions when None), in time order."""
        order = chronological_order(dataset, splits)
        users, items = dataset.interaction_users, dataset.interaction_items
        sequences = cls(users[order], items[order], dataset.num_users)
        position = np.full(len(users), -1, np.int64)
        position[order] = sequences.position
        sequences.position = position
        return sequences

    def windows(self, ends, users, length: int) -> np.ndarray:
        """int32 [len(ends), length]: the `length` items before flat position `ends`
        (exclusive) in each user's sequence, oldest first, left-padded with −1."""
        ends = np.asarray(ends, np.int64)
        index = ends[:, None] - length + np.arange(length)
        valid = index >= self.starts[np.asarray(users)][:, None]
        return self._padded[np.where(valid, index, len(self.items))]

    def latest(self, length: int, users=None) -> np.ndarray:
        """int32 [num users, length]: each user's last `length` items (their history
        now), oldest first, left-padded with −1; `users` selects rows (all by default)."""
        users = np.arange(len(self.lengths)) if users is None else np.asarray(users)
        return self.windows(self.starts[users] + self.lengths[users], users, length)


def latest_known(index, length: int):
    """int [batch, length]: each row's entries ≥ 0 (known items), in order, the last
    `length` of them, left-padded with −1: entries < 0 (padding, unknown items)
    are dropped, wherever they are. TensorFlow ops of static shapes (serving runs
    it in the SavedModel, under XLA too).

    Example:
    >>> latest_known(np.array([[3, -1, 4, 5], [-1, -1, -1, 2]]), 2).numpy().tolist()
    [[4, 5], [-1, 2]]
    """
    import tensorflow as tf

    index = tf.convert_to_tensor(index)
    columns = latest_columns(index, length)
    # Every entry goes to its column; the dropped ones to one more column, cut off.
    rows = tf.broadcast_to(tf.range(tf.shape(index)[0])[:, None], tf.shape(index))
    target = tf.stack([rows, tf.where(columns >= 0, columns, length)], axis=-1)
    padded = tf.fill([tf.shape(index)[0], length + 1], tf.constant(-1, index.dtype))
    kept = tf.where(columns >= 0, index, tf.constant(-1, index.dtype))
    return tf.tensor_scatter_nd_max(padded, target, kept)[:, :length]


def latest_columns(index, length: int):
    """int32 [batch, positions]: where each entry of `index` lands in
    `latest_known(index, length)`, −1 for an entry it drops.

    Example:
    >>> latest_columns(np.array([[3, -1, 4, 5]]), 2).numpy().tolist()
    [[-1, -1, 0, 1]]
    """
    import tensorflow as tf

    known = tf.convert_to_tensor(index) >= 0
    # How many known entries lie at or after each position: 1 for a row's latest.
    from_latest = tf.reverse(tf.cumsum(tf.cast(tf.reverse(known, [1]), tf.int32), axis=1), [1])
    return tf.where(known & (from_latest <= length), length - from_latest, -1)
