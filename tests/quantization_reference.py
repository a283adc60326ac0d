"""What a quantized `VectorTable` reads back, by its formula in NumPy."""

import numpy as np


def dequantized(vectors, quantize):
    """`vectors` as stored in `quantize` (None, "float16" or "int8") and read back."""
    if quantize is None:
        return vectors
    if quantize == "float16":
        return vectors.astype(np.float16).astype(np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    return np.round(vectors / scales[:, None]).astype(np.int8).astype(np.float32) * scales[:, None]
