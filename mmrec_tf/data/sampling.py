"""Training triples for pairwise ranking: (user, an item they chose, an item they did not)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset

_RESAMPLING_ROUNDS = 4


def bpr_triples(
    dataset: MultimodalDataset,
    batch_size: int = 2048,
    *,
    split: str = "train",
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of `{"user_index", "positive_item", "negative_item"}`, shuffled each epoch.

    Every interaction of `split` appears once per epoch with a negative item
    drawn uniformly from the items the user did not interact with in `split`:
    a draw that hits one of the user's items is drawn again (up to 4 times,
    after which the chance of a remaining collision is the user's share of
    the catalogue to the fifth power). Membership is checked by binary search
    over sorted (user, item) keys, so memory stays linear in interactions.
    """
    users, items = dataset.interactions(split)
    num_items = dataset.num_items
    keys = tf.constant(np.unique(users.astype(np.int64) * num_items + items))

    def is_positive(user, item):
        query = user * num_items + item
        position = tf.searchsorted(keys, query)
        position = tf.minimum(position, tf.size(keys, out_type=position.dtype) - 1)
        return tf.equal(tf.gather(keys, position), query)

    def add_negatives(batch):
        user = tf.cast(batch["user_index"], tf.int64)
        negative = tf.random.uniform(tf.shape(user), 0, num_items, dtype=tf.int64, seed=seed)
        for round_ in range(_RESAMPLING_ROUNDS):
            fresh = tf.random.uniform(
                tf.shape(user),
                0,
                num_items,
                dtype=tf.int64,
                seed=None if seed is None else seed + round_ + 1,
            )
            negative = tf.where(is_positive(user, negative), fresh, negative)
        return {
            "user_index": batch["user_index"],
            "positive_item": batch["item_index"],
            "negative_item": tf.cast(negative, tf.int32),
        }

    ds = tf.data.Dataset.from_tensor_slices({"user_index": users, "item_index": items})
    ds = ds.shuffle(len(users), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return ds.map(add_negatives, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
