"""An approximate top-K over a catalogue in plain TensorFlow ops: k-means partitions, probed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmrec_tf.serving.vector_table import VectorTable


def kmeans_partitions(
    vectors: np.ndarray, partitions: int, seed: int = 0, iterations: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(centroids [P, d] float32, the partition of each vector [n] int32).

    Lloyd's k-means, trained on at most 64 vectors per partition drawn with
    `seed` (from the sample's own vectors; an empty partition takes the
    sample's vector farthest from its centroid), then every vector goes to its
    nearest centroid. Assignment runs in chunks, so memory stays at one chunk
    of distances whatever n.
    """
    vectors = np.asarray(vectors, np.float32)
    partitions = int(min(max(partitions, 1), len(vectors)))
    rng = np.random.default_rng(seed)
    sample_size = min(len(vectors), 64 * partitions)
    sample = vectors[rng.choice(len(vectors), sample_size, replace=False)]
    centroids = sample[rng.choice(sample_size, partitions, replace=False)].copy()
    for _ in range(iterations):
        assigned, distances = _nearest(sample, centroids)
        counts = np.bincount(assigned, minlength=partitions)
        sums = np.zeros(centroids.shape, np.float64)
        np.add.at(sums, assigned, sample)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        empty = np.flatnonzero(~filled)
        if len(empty):
            centroids[empty] = sample[np.argsort(-distances)[: len(empty)]]
    return centroids, _nearest(vectors, centroids)[0]


def _nearest(vectors, centroids):
    """(nearest centroid [n] int32, its squared distance [n]) by ‖x‖² − 2 x·c + ‖c‖²,
    in chunks of about 2²⁵ distances (128 MB)."""
    squared = (centroids**2).sum(axis=1)
    nearest = np.empty(len(vectors), np.int32)
    distance = np.empty(len(vectors), np.float32)
    chunk = max(1, 2**25 // len(centroids))
    for start in range(0, len(vectors), chunk):
        block = vectors[start : start + chunk]
        scores = squared[None, :] - 2.0 * (block @ centroids.T)
        nearest[start : start + chunk] = scores.argmin(axis=1)
        distance[start : start + chunk] = scores.min(axis=1) + (block**2).sum(axis=1)
    return nearest, distance


class PartitionedIndex(tf.Module):
    """The items grouped by partition, and the partitions' centroids.

    A query q probes the M partitions whose centroids c_p score highest
    (q · c_p) and scores exactly the items in them, q · v_i, read from the
    `VectorTable` (int8 rows stay int8 until each probed row is read). The
    index stores the centroids [P, d] float32 and the items in partition
    order: partition p holds `items[row_splits[p]:row_splits[p + 1]]`.

    Example:
    >>> vectors = np.eye(4, dtype=np.float32)
    >>> index = PartitionedIndex(*kmeans_partitions(vectors, 2))
    >>> sorted(index.candidates(tf.constant([[0.0, 0.0, 1.0, 0.0]]), 2)[0].numpy().tolist())
    [0, 1, 2, 3]
    """

    def __init__(self, centroids: np.ndarray, partition_of_item: np.ndarray, name=None):
        super().__init__(name=name)
        order = np.argsort(partition_of_item, kind="stable").astype(np.int32)
        counts = np.bincount(partition_of_item, minlength=len(centroids))
        row_splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self.centroids = tf.Variable(np.asarray(centroids, np.float32), trainable=False)
        self.row_splits = tf.Variable(row_splits, trainable=False, name="row_splits")
        self.items = tf.Variable(order, trainable=False, name="items")

    def num_partitions(self):
        return tf.shape(self.centroids)[0]

    def candidates(self, queries, probe):
        """The item rows of each query's `probe` best partitions: int32 ragged [B, (C)]
        (partition by partition, best first; `probe` is clipped to [1, P])."""
        probe = tf.clip_by_value(probe, 1, self.num_partitions())
        scores = tf.matmul(queries, self.centroids, transpose_b=True)
        best = tf.math.top_k(scores, probe).indices
        starts = tf.gather(self.row_splits, best)
        ends = tf.gather(self.row_splits, best + 1)
        positions = tf.ragged.range(tf.reshape(starts, [-1]), tf.reshape(ends, [-1]))
        rows = tf.gather(self.items, positions.flat_values)
        return tf.RaggedTensor.from_row_lengths(rows, tf.reduce_sum(ends - starts, axis=1))


def score_candidates(table: VectorTable, queries, candidates):
    """(rows int32 [B, C], scores float32 [B, C]) of ragged `candidates` [B, (C)]:
    q · v for each candidate, padded with row -1 and score −∞."""
    flat = candidates.flat_values
    users = tf.gather(queries, candidates.value_rowids())
    scores = tf.reduce_sum(table.rows(flat) * users, axis=-1)
    scores = candidates.with_flat_values(scores).to_tensor(-np.inf)
    return candidates.to_tensor(-1), scores
