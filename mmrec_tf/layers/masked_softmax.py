"""Softmax over the allowed entries of the last axis, exactly zero elsewhere."""

from __future__ import annotations

from keras import ops


def masked_softmax(scores, allowed):
    """Softmax of `scores` over the last axis, restricted to where `allowed` is True.

    Entries that are not allowed get exactly zero weight; a row with no allowed
    entry gets all zeros (not NaN, not a uniform row). Computed in float32.

    Args:
        scores: [..., n] tensor.
        allowed: bool tensor broadcastable to `scores`.

    Returns:
        float32 [..., n] weights.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import masked_softmax
    >>> scores = np.array([[0.0, 0.0, 5.0], [1.0, 2.0, 3.0]], "float32")
    >>> allowed = np.array([[True, True, False], [False, False, False]])
    >>> masked_softmax(scores, allowed).numpy().tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    """
    scores = ops.cast(scores, "float32")
    allowed = ops.broadcast_to(ops.cast(allowed, "bool"), ops.shape(scores))
    lowest = ops.full_like(scores, -3.0e38)
    scores = ops.where(allowed, scores, lowest)
    # The row maximum is an allowed score whenever the row has one, so exp()
    # cannot overflow; in an empty row everything is masked to zero below.
    scores = scores - ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True))
    exponentials = ops.where(allowed, ops.exp(scores), ops.zeros_like(scores))
    total = ops.sum(exponentials, axis=-1, keepdims=True)
    return exponentials / ops.maximum(total, 1e-30)
