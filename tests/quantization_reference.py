"""What a quantized `VectorTable` reads back, by its formula in NumPy, and its check."""

import numpy as np
import tensorflow as tf


def dequantized(vectors, quantize):
    """`vectors` as stored in `quantize` (None, "float16" or "int8") and read back."""
    if quantize is None:
        return vectors
    if quantize == "float16":
        return vectors.astype(np.float16).astype(np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    return np.round(vectors / scales[:, None]).astype(np.int8).astype(np.float32) * scales[:, None]


def assert_reads_back(table, vectors, quantize):
    """`table` (a `VectorTable` of `vectors` stored in `quantize`) reads its rows and
    its whole content back as the formula says."""
    stored = dequantized(vectors, quantize)
    rows = table.rows(tf.constant([[7, 2]])).numpy()[0]
    np.testing.assert_allclose(rows, stored[[7, 2]], rtol=1e-6)
    np.testing.assert_allclose(table.dense().numpy(), stored, rtol=1e-6)
