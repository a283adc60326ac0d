"""Training triples for pairwise ranking: (user, an item they chose, an item they did not)."""

from __future__ import annotations

import math
import secrets

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import PADDING, Sequences

_RESAMPLING_ROUNDS = 4


def bpr_triples(
    dataset: MultimodalDataset,
    batch_size: int = 2048,
    *,
    split: str = "train",
    seed: int | None = None,
    epochs: range | None = None,
    history_length: int = 0,
    history_horizon: int = 1,
    rows: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches of `{"user_index", "positive_item", "negative_item"}`, shuffled each epoch.

    Every interaction of `split` appears once per epoch with a negative item
    drawn uniformly from the items the user did not interact with in `split`:
    a draw that hits one of the user's items is drawn again (up to 4 times,
    after which the chance of a remaining collision is the user's share of
    the catalogue to the fifth power). Membership is checked by binary search
    over sorted (user, item) keys, so memory stays linear in interactions.

    Without `epochs`, each iteration over the dataset is one epoch with a new
    order (reproducible under `seed`). With `epochs` (a `range` of epoch
    numbers), the dataset holds those epochs' batches one after another, and
    epoch e's order and negatives depend on (`seed`, e) alone: a run resumed
    at epoch e sees the batches an uninterrupted run would. Train on it with
    `fit(..., steps_per_epoch=bpr_num_batches(dataset, batch_size))`.

    With `history_length` L > 0, batches also hold `"history"`: int32 [batch, L],
    the user's `split` interactions before the positive one in time
    (`mmrec_tf.data.histories`), oldest first, left-padded with −1: what a
    model that reads histories knew when the user chose the positive. With
    `history_horizon` H > 1 the history ends 1 to H steps before the positive
    (drawn uniformly per triple and epoch): the model learns to rank what a
    user will choose soon, not only next.
    """
    users, items = dataset.interactions(split)
    num_items = dataset.num_items
    keys = tf.constant(np.unique(users.astype(np.int64) * num_items + items))

    def is_positive(user, item):
        query = user * num_items + item
        position = tf.searchsorted(keys, query)
        position = tf.minimum(position, tf.size(keys, out_type=position.dtype) - 1)
        return tf.equal(tf.gather(keys, position), query)

    history_of = None
    if history_length:
        history_of = _history_windows(dataset, split, history_length, history_horizon)

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
    positions = np.arange(len(users)) if rows is None else _checked_rows(rows, len(users))
    count = len(positions)
    position_table = tf.constant(positions, tf.int64)
    batches_per_epoch = bpr_num_batches(dataset, batch_size, split, rows)

    def epoch_batches(epoch_seed):
        order = tf.random.experimental.stateless_shuffle(
            position_table, seed=tf.stack([epoch_seed, 0])
        )

        def batch(number):
            chosen = order[number * batch_size : tf.minimum((number + 1) * batch_size, count)]
            seed = tf.stack([epoch_seed, number + 1])
            triples = add_negatives(
                tf.gather(user_table, chosen), tf.gather(item_table, chosen), seed
            )
            if history_of is not None:
                triples["history"] = history_of(chosen, seed)
            return triples

        return tf.data.Dataset.range(batches_per_epoch).map(
            batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )

    if epochs is None:
        # A new epoch seed each time the dataset is iterated, reproducible under `seed`.
        epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        num_epochs = 1
    else:
        epoch_seeds = tf.data.Dataset.from_tensor_slices(_epoch_seeds(seed, epochs))
        num_epochs = len(epochs)
    ds = epoch_seeds.flat_map(epoch_batches)
    cardinality = tf.data.experimental.assert_cardinality(batches_per_epoch * num_epochs)
    return ds.apply(cardinality).prefetch(tf.data.AUTOTUNE)


def poisson_triples(
    dataset: MultimodalDataset,
    expected_batch_size: int,
    *,
    split: str = "train",
    epochs: range,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches for DP-SGD: each interaction of `split` in each batch independently
    with probability q = expected_batch_size / N (Poisson sampling, which the
    privacy accountant assumes), `bpr_num_batches` batches per epoch.

    Batches hold `"user_index"`, `"positive_item"`, `"negative_item"` and
    `"example_weight"` (1.0, or 0.0 for padding): every batch has the same
    `poisson_batch_capacity` rows, so the step compiles once. The negative
    item is uniform over the whole catalogue: excluding the user's own items,
    as `bpr_triples` does, would make one interaction's negatives depend on
    the user's other interactions.

    The draws come from `seed`, or, by default, from a seed taken from the
    operating system and never written anywhere: amplification by sampling
    assumes nobody knows which batches an interaction was in.
    """
    users, items = dataset.interactions(split)
    count = len(users)
    rate = min(1.0, expected_batch_size / count)
    capacity, _ = poisson_batch_capacity(count, rate)
    steps = bpr_num_batches(dataset, expected_batch_size, split)
    base = secrets.randbits(63) if seed is None else seed
    user_table, item_table = tf.constant(users), tf.constant(items)
    num_items = dataset.num_items

    def batch(step):
        key = tf.stack([tf.constant(base, tf.int64), step])
        chosen = tf.where(tf.random.stateless_uniform([count], key, alg="philox") < rate)[:, 0]
        # More than `capacity` draws happens with probability below
        # poisson_batch_capacity's bound, which the privacy report adds to δ.
        chosen = chosen[:capacity]
        real = tf.size(chosen)
        padding = capacity - real
        negatives = tf.random.stateless_uniform(
            [capacity], key + [0, 1 << 40], 0, num_items, dtype=tf.int32, alg="philox"
        )
        padded = {
            "user_index": tf.pad(tf.gather(user_table, chosen), [[0, padding]]),
            "positive_item": tf.pad(tf.gather(item_table, chosen), [[0, padding]]),
            "negative_item": negatives,
            "example_weight": tf.pad(tf.ones([real]), [[0, padding]]),
        }
        return {key: tf.ensure_shape(value, [capacity]) for key, value in padded.items()}

    first = epochs.start * steps
    ds = tf.data.Dataset.range(first, first + len(epochs) * steps)
    ds = ds.map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.apply(tf.data.experimental.assert_cardinality(len(epochs) * steps)).prefetch(
        tf.data.AUTOTUNE
    )


# The chance that one Poisson batch holds more than its capacity.
OVERFLOW_PROBABILITY = 1e-12


def poisson_batch_capacity(count: int, rate: float) -> tuple[int, float]:
    """(capacity, bound): the fewest rows a Poisson-sampled batch of `count`
    examples at `rate` needs so that more are drawn with probability at most
    `bound` ≤ `OVERFLOW_PROBABILITY` (Bernstein's inequality for a binomial:
    P(X ≥ μ + t) ≤ exp(−t² / (2(μ(1−q) + t/3))))."""
    mean = count * rate
    variance = mean * (1.0 - rate)

    def bound(t):
        return math.exp(-(t * t) / (2.0 * (variance + t / 3.0))) if t > 0 else 1.0

    # Solve the bound's quadratic for t, then round up to whole rows.
    log_inverse = -math.log(OVERFLOW_PROBABILITY)
    t = log_inverse / 3.0 + math.sqrt((log_inverse / 3.0) ** 2 + 2.0 * variance * log_inverse)
    capacity = min(count, math.ceil(mean + t))
    return capacity, 0.0 if capacity >= count else bound(capacity - mean)


def _history_windows(dataset: MultimodalDataset, split: str, length: int, horizon: int):
    """A function from positions in `dataset.interactions(split)` (and a batch seed)
    to their histories (int32 [batch, length]), in TensorFlow ops."""
    if horizon < 1:
        raise ValueError(f"history_horizon must be ≥ 1. Received: {horizon}")
    users = dataset.interactions(split)[0]  # (no split column: its error)
    sequences = Sequences.from_dataset(dataset, [split])
    ends = sequences.position[dataset.splits == split]
    end_table = tf.constant(ends)
    start_table = tf.constant(sequences.starts[users].astype(np.int64))
    padded = tf.constant(np.append(sequences.items, np.int32(PADDING)))
    offsets = tf.range(length, dtype=tf.int64) - length

    def history_of(chosen, batch_seed):
        # The history ends `gap` steps before the positive (0: just before it).
        gap = tf.random.stateless_uniform(
            tf.shape(chosen), batch_seed + [0, 1 << 40], 0, horizon, dtype=tf.int64
        )
        index = (tf.gather(end_table, chosen) - gap)[:, None] + offsets
        valid = index >= tf.gather(start_table, chosen)[:, None]
        return tf.gather(padded, tf.where(valid, index, tf.size(padded, tf.int64) - 1))

    return history_of


def bpr_num_batches(
    dataset: MultimodalDataset, batch_size: int, split: str = "train", rows=None
) -> int:
    """Batches in one epoch of `bpr_triples(dataset, batch_size, split=split, rows=rows)`."""
    count = len(dataset.interactions(split)[0]) if rows is None else len(rows)
    return -(-count // batch_size)


def _checked_rows(rows, count: int) -> np.ndarray:
    rows = np.asarray(rows, np.int64)
    if rows.ndim != 1 or not len(rows) or rows.min() < 0 or rows.max() >= count:
        raise ValueError(f"rows must be a non-empty list of positions below {count}")
    return rows


def _epoch_seeds(seed: int | None, epochs: range) -> np.ndarray:
    """One int64 seed per epoch, a function of (seed, epoch) only."""
    base = np.random.SeedSequence().entropy if seed is None else seed
    return np.array(
        [np.random.SeedSequence([base, e]).generate_state(1, np.uint64)[0] for e in epochs],
        np.uint64,
    ).view(np.int64)
