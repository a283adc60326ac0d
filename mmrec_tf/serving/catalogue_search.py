"""How a SavedModel finds a query's best unseen items: every item scored, or a partitioned index."""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from mmrec_tf.serving.partitioned_index import (
    PartitionedIndex,
    kmeans_partitions,
    score_candidates,
)
from mmrec_tf.serving.vector_table import VectorTable

# Below this many items `export` scores every item unless told otherwise: one matrix
# product over 10⁵ × 64 floats takes about 1 ms on one core, no index needed.
PARTITIONED_FROM = 100_000
# Exact search scores at most this many (query, item) pairs at a time.
SCORES_AT_ONCE = 1 << 26


class ExactSearch(tf.Module):
    """Every item scored, q · v_i, the seen ones excluded, top K.

    `seen` (here and in every search) is int32 [B, S]: each query's seen item
    rows in ascending order, padded with `num_items`.

    Example:
    >>> table = VectorTable(np.array([[1.0], [3.0], [2.0]], np.float32))
    >>> rows, scores = ExactSearch(table).top_k(tf.constant([[1.0]]), tf.constant([[1, 3]]), 2)
    >>> rows.numpy().tolist(), scores.numpy().tolist()
    ([[2, 0]], [[2.0, 1.0]])
    """

    def __init__(self, item_vectors: VectorTable, name=None):
        super().__init__(name=name)
        self.item_vectors = item_vectors

    @classmethod
    def build(cls, item_vectors, vectors, partitions=None, probe=None):
        """The search `export` builds for `--index exact`; refuses a partitioned index's
        settings, which it would not read."""
        if partitions is not None or probe is not None:
            raise ValueError(
                "--partitions and --probe are settings of a partitioned index (--index partitioned)"
            )
        return cls(item_vectors, name="search")

    def probes(self) -> bool:
        """Whether `top_k` reads `probe`."""
        return False

    def describe(self) -> dict:
        """The search's name and settings, as `export` records them."""
        return {"index": "exact"}

    def top_k(self, queries, seen, k, probe=None):
        """(item rows int32 [B, k], scores float32 [B, k]), best first; k ≤ the fewest
        unseen items of a query. `probe` is for searches that probe."""
        del probe
        at_once = SCORES_AT_ONCE // self.item_vectors.num_rows()
        return in_chunks(self._top_k_at_once, queries, seen, k, at_once)

    def _top_k_at_once(self, queries, seen, k):
        scores = self.item_vectors.dot(queries)
        valid = seen < self.item_vectors.num_rows()
        at = tf.where(valid)
        scores = tf.tensor_scatter_nd_update(
            scores,
            tf.stack([tf.cast(at[:, 0], tf.int32), tf.gather_nd(seen, at)], axis=1),
            tf.fill(tf.shape(at)[:1], tf.constant(-np.inf, tf.float32)),
        )
        top = tf.math.top_k(scores, k)
        return top.indices, top.values


class PartitionedSearch(ExactSearch):
    """The items of the `probe` best partitions of a `PartitionedIndex` scored
    exactly, the seen ones excluded, top K. A query whose probed partitions hold
    fewer than k unseen items (one who has seen much, or asks for many) is served
    by `ExactSearch` instead, so that every query gets k items; the others of its
    batch keep the index's answer.

    Example:
    >>> vectors = np.eye(4, dtype=np.float32)
    >>> search = PartitionedSearch(VectorTable(vectors), vectors, partitions=2, probe=1)
    >>> rows, _ = search.top_k(tf.constant([[0.0, 0.0, 1.0, 0.0]]), tf.constant([[4]]), 1)
    >>> rows.numpy().tolist()
    [[2]]
    """

    @classmethod
    def build(cls, item_vectors, vectors, partitions=None, probe=None):
        return cls(item_vectors, vectors, partitions, probe, name="search")

    def __init__(self, item_vectors, vectors, partitions=None, probe=None, seed=0, name=None):
        super().__init__(item_vectors, name=name)
        # No more partitions than items (k-means makes one per item at most).
        centroids, partition = kmeans_partitions(
            vectors, partitions or default_partitions(len(vectors)), seed
        )
        self.index = PartitionedIndex(centroids, partition)
        self.partitions = len(centroids)
        self.probe = int(min(probe or default_probe(self.partitions), self.partitions))

    def probes(self) -> bool:
        return True

    def describe(self) -> dict:
        return {"index": "partitioned", "partitions": self.partitions, "probe": self.probe}

    def top_k(self, queries, seen, k, probe=None):
        """As `ExactSearch.top_k`; `probe` (the export's by default) is clipped to
        [1, the number of partitions]."""
        probe = self.probe if probe is None else probe
        probe = tf.clip_by_value(probe, 1, self.index.num_partitions())
        # Each candidate is a gathered row of d values and its score; a query probes
        # probe × n / P candidates on average (int64: no overflow).
        candidates = tf.cast(probe, tf.int64) * tf.cast(
            tf.size(self.index.items) // self.index.num_partitions(), tf.int64
        )
        at_once = SCORES_AT_ONCE // (candidates * tf.cast(tf.shape(queries)[1] + 1, tf.int64))
        probed = functools.partial(self._probed_at_once, probe=probe)
        return in_chunks(probed, queries, seen, k, at_once)

    def _probed_at_once(self, queries, seen, k, probe):
        rows, scores = score_candidates(
            self.item_vectors, queries, self.index.candidates(queries, probe)
        )
        scores = tf.where(is_seen(rows, seen), tf.constant(-np.inf, tf.float32), scores)
        unseen = tf.reduce_sum(tf.cast(scores > -np.inf, tf.int32), axis=1)
        # At least k columns, so that top k of a query with too few is defined.
        missing = [[0, 0], [0, tf.maximum(k - tf.shape(scores)[1], 0)]]
        scores = tf.pad(scores, missing, constant_values=-np.inf)
        rows = tf.pad(rows, missing, constant_values=-1)
        top = tf.math.top_k(scores, k)
        found = tf.gather(rows, top.indices, batch_dims=1), top.values
        short = unseen < k

        def with_exact_for_the_short():
            exact = ExactSearch.top_k(self, queries, seen, k)
            return tuple(tf.where(short[:, None], e, f) for e, f in zip(exact, found, strict=True))

        return tf.cond(tf.reduce_any(short), with_exact_for_the_short, lambda: found)


def in_chunks(top_k, queries, seen, k, at_once):
    """`top_k(queries, seen, k)` for at most `at_once` (at least 1) queries at a time:
    the [B, n] scores of a batch of 256 queries over 10⁷ items would take 10 GB,
    so memory stays near `SCORES_AT_ONCE` floats (256 MB) whatever the batch."""
    at_once = tf.cast(tf.clip_by_value(tf.cast(at_once, tf.int64), 1, 1 << 30), tf.int32)
    batch = tf.shape(queries)[0]

    def by_chunks():
        chunks = (batch + at_once - 1) // at_once
        padding = [[0, chunks * at_once - batch], [0, 0]]
        chunked = [tf.reshape(tf.pad(x, padding), [chunks, at_once, -1]) for x in (queries, seen)]
        rows, scores = tf.map_fn(
            lambda chunk: top_k(*chunk, k),
            tuple(chunked),
            fn_output_signature=(tf.int32, tf.float32),
        )
        return tuple(tf.reshape(x, [-1, k])[:batch] for x in (rows, scores))

    return tf.cond(batch <= at_once, lambda: top_k(queries, seen, k), by_chunks)


def is_seen(rows, seen):
    """bool [B, C]: whether each of `rows` [B, C] is in the query's sorted `seen` [B, S]."""
    seen = tf.concat([seen, tf.fill([tf.shape(seen)[0], 1], tf.int32.max)], axis=1)
    at = tf.searchsorted(seen, rows, out_type=tf.int32)
    return tf.gather(seen, at, batch_dims=1) == rows


def default_partitions(num_items: int) -> int:
    """4 √n partitions: at 10⁶ items 4,000 of about 250 items each."""
    return max(1, round(4 * math.sqrt(num_items)))


def default_probe(partitions: int) -> int:
    """Partitions probed by default: 1% of them, at least 16 (on ml-100k-mm's trained
    vectors, 164 partitions: 8 probed cost 3.8% of Recall@20, 16 probed 0.9%)."""
    return max(16, math.ceil(partitions / 100))


# `export --index` choices: a search by name, built from (item table, item vectors,
# partitions, probe).
SEARCHES = {"exact": ExactSearch.build, "partitioned": PartitionedSearch.build}


def default_search(num_items: int) -> str:
    """`exact` below `PARTITIONED_FROM` items, `partitioned` from there."""
    return "exact" if num_items < PARTITIONED_FROM else "partitioned"
