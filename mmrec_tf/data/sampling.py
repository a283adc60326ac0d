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

    def add_negatives(user, positive, batch_seed):
        # Stateless draws keyed by (epoch seed, batch number): the same negatives
        # whatever order the parallel map runs batches in.
        user = tf.cast(user, tf.int64)

        def draw(round_):
            return tf.random.stateless_uniform(
                tf.shape(user), batch_seed + [0, round_ << 32], 0, num_items, dtype=tf.int64
            )

        negative = draw(0)
        for round_ in range(1, _RESAMPLING_ROUNDS + 1):
            negative = tf.where(is_positive(user, negative), draw(round_), negative)
        return {
            "user_index": tf.cast(user, tf.int32),
            "positive_item": tf.cast(positive, tf.int32),
            "negative_item": tf.cast(negative, tf.int32),
        }

    # The epoch's order is one shuffled index vector cut into batches: shuffling
    # whole index vectors is ~10× cheaper than a per-element shuffle buffer.
    user_table, item_table = tf.constant(users), tf.constant(items)
    count = len(users)
    num_batches = -(-count // batch_size)

    def epoch_batches(epoch_seed):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([epoch_seed, 0])
        )

        def batch(number):
            chosen = order[number * batch_size : tf.minimum((number + 1) * batch_size, count)]
            seed = tf.stack([epoch_seed, number + 1])
            return add_negatives(tf.gather(user_table, chosen), tf.gather(item_table, chosen), seed)

        return tf.data.Dataset.range(num_batches).map(
            batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )

    # A new epoch seed each time the dataset is iterated, reproducible under `seed`.
    epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    ds = epoch_seeds.flat_map(epoch_batches)
    return ds.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE)
