"""A SavedModel's table of vectors, stored in 32, 16 or 8 bits and read back as float32."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmrec_tf.names import QUANTIZATIONS

# Up to this many queries, a narrow table's product is compiled by XLA, which reads the
# table in its own type and widens each value inside the product (measured at 10⁶ × 64
# int8: 5.4 ms for one query, against 13 ms for a float32 table and 29 ms for the
# table widened first; at 256 queries XLA's product is the slower one).
FUSED_PRODUCT_QUERIES = 64


@tf.function(jit_compile=True)
def _fused_products(queries, values):
    return tf.matmul(queries, tf.cast(values, tf.float32), transpose_b=True)


@tf.function(jit_compile=True)
def _fused_combination(weights, values):
    return tf.matmul(weights, tf.cast(values, tf.float32))


class VectorTable(tf.Module):
    """Vectors [n, d] kept as float32, float16, or int8 with one scale per row.

    int8 stores each row v as q = round(v / s) with s = max|v| / 127, so
    every entry is within s / 2 of v after `q * s` (its largest entry
    exactly); float16 keeps 11 significant bits. Reads (`rows`, `dense`)
    return float32, so the signatures that use the table do not change.

    Example:
    >>> table = VectorTable(np.array([[1.0, -0.5], [0.0, 0.0]], np.float32), "int8")
    >>> table.dense().numpy().tolist()
    [[1.0, -0.5039370059967041], [0.0, 0.0]]
    """

    def __init__(self, vectors: np.ndarray, quantize: str | None = None, name=None):
        super().__init__(name=name)
        if quantize is not None and quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS} or None, not {quantize!r}")
        vectors = np.asarray(vectors, np.float32)
        self.quantize = quantize
        self.scales = None
        if quantize == "int8":
            largest = (
                np.maximum(vectors.max(axis=1), -vectors.min(axis=1))
                if vectors.size
                else np.zeros(len(vectors))
            )
            scales = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
            # By chunks of rows: the float temporaries of 10⁷ rows would not fit.
            stored = np.empty(vectors.shape, np.int8)
            for start in range(0, len(vectors), 1 << 20):
                rows = slice(start, start + (1 << 20))
                stored[rows] = np.round(vectors[rows] / scales[rows, None])
            self.scales = tf.Variable(scales, trainable=False, name="scales")
        elif quantize == "float16":
            stored = vectors.astype(np.float16)
        else:
            stored = vectors
        self.values = tf.Variable(stored, trainable=False, name="values")

    def rows(self, indices):
        """float32 vectors of the rows `indices` (any shape)."""
        values = tf.cast(tf.gather(self.values, indices), tf.float32)
        if self.scales is not None:
            values *= tf.gather(self.scales, indices)[..., None]
        return values

    def dense(self):
        """Every vector, float32 [n, d]."""
        values = tf.cast(self.values, tf.float32)
        if self.scales is not None:
            values *= self.scales[:, None]
        return values

    def dot(self, queries):
        """`queries` [B, d] · every vector: float32 [B, n]. For int8, the scales are
        applied to the [B, n] products, not to the n × d table (q·(s v) = s (q·v)).
        A float16 or int8 table is never copied to float32 for a batch of up to
        `FUSED_PRODUCT_QUERIES` queries (an XLA-compiled product, compiled once per
        batch size)."""
        if self.values.dtype == tf.float32:
            products = tf.matmul(queries, self.values, transpose_b=True)
        else:
            products = tf.cond(
                tf.shape(queries)[0] <= FUSED_PRODUCT_QUERIES,
                lambda: _fused_products(queries, self.values),
                lambda: tf.matmul(queries, tf.cast(self.values, tf.float32), transpose_b=True),
            )
        if self.scales is not None:
            products *= self.scales[None, :]
        return products

    def combine(self, weights):
        """Σ_r weights[:, r] · vector_r: float32 [B, d] from `weights` [B, n]; the int8
        scales multiply the weights, and a narrow table is read in its own type as
        `dot` reads it."""
        if self.scales is not None:
            weights *= self.scales[None, :]
        if self.values.dtype == tf.float32:
            return tf.matmul(weights, self.values)
        return tf.cond(
            tf.shape(weights)[0] <= FUSED_PRODUCT_QUERIES,
            lambda: _fused_combination(weights, self.values),
            lambda: tf.matmul(weights, tf.cast(self.values, tf.float32)),
        )

    def num_rows(self, dtype=tf.int32):
        return tf.shape(self.values, out_type=dtype)[0]
