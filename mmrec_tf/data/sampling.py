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

    def add_negatives(batch, batch_seed):
        # Stateless draws keyed by a per-batch seed: the same negatives whatever
        # order the parallel map runs batches in.
        user = tf.cast(batch["user_index"], tf.int64)
        seeds = tf.stack([batch_seed, tf.zeros_like(batch_seed)])

        def draw(round_):
            return tf.random.stateless_uniform(
                tf.shape(user), seeds + [0, round_], 0, num_items, dtype=tf.int64
            )

        negative = draw(0)
        for round_ in range(1, _RESAMPLING_ROUNDS + 1):
            negative = tf.where(is_positive(user, negative), draw(round_), negative)
        return {
            "user_index": batch["user_index"],
            "positive_item": batch["item_index"],
            "negative_item": tf.cast(negative, tf.int32),
        }

    ds = tf.data.Dataset.from_tensor_slices({"user_index": users, "item_index": items})
    ds = ds.shuffle(len(users), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    # One seed per batch, a new sequence each epoch, reproducible under `seed`.
    batch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, batch_seeds)
    return ds.map(add_negatives, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
