"""Adam whose sparse updates touch only the rows in the batch (embedding tables)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the rows a sparse gradient touches.

    An embedding table's gradient is sparse (`tf.IndexedSlices`: the rows its
    batch looked up), but Keras 3's `Adam` decays both moments of every row at
    every step, so a step costs O(rows in the table): for a million items,
    most of the step. For a sparse gradient g with rows R, this optimizer
    updates rows r ∈ R only (the "lazy" Adam of TensorFlow 1's contrib and
    TF Addons, PyTorch's SparseAdam):

        m_r ← β₁ m_r + (1 − β₁) g_r,   v_r ← β₂ v_r + (1 − β₂) g_r²,
        θ_r ← θ_r − α_t m_r / (√v_r + ε),   α_t = lr √(1 − β₂ᵗ) / (1 − β₁ᵗ)

    with g_r the sum of the gradient rows that share index r (a row looked up
    twice in a batch), and leaves every other row, and its moments, as they
    are. Dense gradients (every other weight) get Adam's update exactly. Where
    a row is in every batch this is Adam; where it is not, its moments do not
    decay while it is absent, so it moves differently from Adam: measure both
    (docs/scaling.md). XLA-compatible: static shapes (sorting, no `tf.unique`).

    Args: those of `keras.optimizers.Adam` (without `amsgrad`).

    Example:
    >>> import numpy as np
    >>> table = keras.Variable(np.ones((5, 2), "float32"))
    >>> optimizer = LazyAdam(learning_rate=0.1)
    >>> gradient = tf.IndexedSlices(tf.ones((1, 2)), tf.constant([3]), tf.constant([5, 2]))
    >>> _ = optimizer.apply_gradients([(gradient, table)])
    >>> [round(float(x), 3) for x in keras.ops.convert_to_numpy(table)[:, 0]]  # row 3 alone
    [1.0, 1.0, 1.0, 0.9, 1.0]
    """

    def __init__(self, learning_rate=0.001, amsgrad=False, **kwargs):
        if amsgrad:
            raise ValueError("LazyAdam does not implement amsgrad")
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, values = _summed_by_row(gradient)
        values = ops.cast(values, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        alpha = (
            ops.cast(learning_rate, dtype)
            * ops.sqrt(1 - ops.power(beta_2, step))
            / (1 - ops.power(beta_1, step))
        )
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * ops.square(values)
        new_rows = tf.gather(variable, rows) - alpha * m_rows / (ops.sqrt(v_rows) + self.epsilon)
        # Rows repeated in `rows` carry the same values, so a scatter that keeps
        # any one of them writes the right row.
        shape = tf.shape(variable, out_type=rows.dtype)
        self.assign(m, tf.IndexedSlices(m_rows, rows, shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, shape))
        self.assign(variable, tf.IndexedSlices(new_rows, rows, shape))

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad", None)
        return config


def _summed_by_row(gradient: tf.IndexedSlices):
    """(indices, values) of `gradient` where each entry's values are the sum of
    all the entries sharing its index: as the dense gradient adds them, with the
    entries' count kept (static shapes, which XLA needs; `tf.unique` has none)."""
    indices = gradient.indices
    order = tf.argsort(indices, stable=True)
    ordered = tf.gather(indices, order)
    starts = tf.concat([[True], ordered[1:] != ordered[:-1]], axis=0)
    groups = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    count = tf.shape(indices)[0]
    sums = tf.math.unsorted_segment_sum(tf.gather(gradient.values, order), groups, count)
    return ordered, tf.gather(sums, groups)
