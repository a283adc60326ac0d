"""Each user's seen items inside a SavedModel, stored as deltas of sorted rows."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class SeenItems(tf.Module):
    """Users' seen item rows, a CSR table of sorted rows stored as deltas.

    User u's items i_1 < i_2 < … are stored as i_1, i_2 − i_1, …: in int16
    when every delta fits (always, for a catalogue under 32,768 items), int32
    otherwise, so a MovieLens-sized table takes half the room of its item
    indices. A request decodes the rows of its own users only (one cumulative
    sum over them).

    Example:
    >>> seen = SeenItems(np.array([0, 2, 2, 5]), np.array([3, 1, 7, 2, 9]))
    >>> seen.rows(tf.constant([2, 0, 1]), tf.constant([True, True, True]), 10).numpy().tolist()
    [[2, 7, 9], [1, 3, 10], [10, 10, 10]]
    """

    def __init__(self, row_splits, items, name=None):
        super().__init__(name=name)
        row_splits = np.asarray(row_splits, np.int64)
        items = np.asarray(items, np.int64)
        users = np.repeat(np.arange(len(row_splits) - 1), np.diff(row_splits))
        items = items[np.lexsort((items, users))]
        # Each row starts from 0: its first delta is its first item.
        firsts = row_splits[:-1][np.diff(row_splits) > 0]
        deltas = np.diff(items, prepend=0)
        deltas[firsts] = items[firsts]
        dtype = np.int16 if len(deltas) == 0 or deltas.max() <= np.iinfo(np.int16).max else np.int32
        self.row_splits = tf.Variable(row_splits, trainable=False, name="seen_row_splits")
        self.deltas = tf.Variable(deltas.astype(dtype), trainable=False, name="seen_deltas")

    def rows(self, users, in_dataset, padding):
        """int32 [B, S]: the seen item rows of `users` (int [B]) ascending, padded with
        `padding`; none for a user not `in_dataset`."""
        starts = tf.gather(self.row_splits, users)
        ends = tf.where(in_dataset, tf.gather(self.row_splits, users + 1), starts)
        positions = tf.ragged.range(starts, ends)
        deltas = tf.cast(tf.gather(self.deltas, positions.flat_values), tf.int32)
        # Each row's cumulative sum: the running total less what the rows before it hold.
        running = tf.cumsum(deltas)
        before = tf.gather(tf.concat([[0], running], 0), tf.cast(positions.row_starts(), tf.int32))
        items = running - tf.gather(before, positions.value_rowids())
        return positions.with_flat_values(items).to_tensor(padding)
