import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.training.lazy_adam import LazyAdam


def _numpy_lazy_adam(table, steps, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """The formula, row by row: only the rows a step looks up move (their looked-up
    gradients summed); every other row keeps its value and moments."""
    table, m, v = table.astype(np.float64), np.zeros_like(table), np.zeros_like(table)
    for t, (indices, values) in enumerate(steps, start=1):
        gradient = {}
        for index, value in zip(indices, values, strict=True):
            gradient[index] = gradient.get(index, 0.0) + value
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for row, g in gradient.items():
            m[row] = beta_1 * m[row] + (1 - beta_1) * g
            v[row] = beta_2 * v[row] + (1 - beta_2) * g**2
            table[row] -= alpha * m[row] / (np.sqrt(v[row]) + epsilon)
    return table


@pytest.mark.parametrize("jit_compile", [False, True])
def test_sparse_steps_match_the_numpy_formula(jit_compile):
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(10, 3)).astype(np.float32)
    # Repeated rows within a step (4 twice, 7 three times) and rows absent for a while.
    indices = [np.array([4, 1, 4]), np.array([7, 7, 2, 7]), np.array([9]), np.array([1, 4])]
    steps = [(i, rng.normal(size=(len(i), 3)).astype(np.float32)) for i in indices]
    table = keras.Variable(initial)
    optimizer = LazyAdam(learning_rate=0.01)
    optimizer.build([table])

    @tf.function(jit_compile=jit_compile)
    def apply(indices, values):
        gradient = tf.IndexedSlices(values, indices, tf.constant([10, 3], tf.int64))
        optimizer.apply_gradients([(gradient, table)])

    for i, values in steps:
        apply(tf.constant(i, tf.int64), tf.constant(values))
    expected = _numpy_lazy_adam(initial, steps)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(table), expected, rtol=1e-5, atol=1e-6)
    untouched = [0, 3, 5, 6, 8]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(table)[untouched], initial[untouched])


def test_dense_gradients_are_adams():
    initial = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    lazy, adam = keras.Variable(initial), keras.Variable(initial)
    lazy_optimizer, adam_optimizer = LazyAdam(0.05), keras.optimizers.Adam(0.05)
    for step in range(3):
        gradient = tf.constant(np.full((4, 2), step + 1.0, np.float32))
        lazy_optimizer.apply_gradients([(gradient, lazy)])
        adam_optimizer.apply_gradients([(gradient, adam)])
    np.testing.assert_allclose(lazy.numpy(), adam.numpy(), rtol=1e-6)


@pytest.mark.parametrize("optimizer", [LazyAdam, keras.optimizers.Adam])
def test_in_fit_a_row_absent_from_the_batch_stays_put(optimizer, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Embedding(1000, 4),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=optimizer(0.1), loss="mse", jit_compile=True)
    model.fit(np.array([[3]]), np.ones((1, 1)), verbose=0)  # row 3 moves, gets momentum
    after_first = model.layers[0].embeddings.numpy().copy()
    model.fit(np.array([[5]]), np.ones((1, 1)), verbose=0)  # row 3 is not in this batch
    row_3_moved = not np.array_equal(model.layers[0].embeddings.numpy()[3], after_first[3])
    # Adam's momentum moves row 3 again; the lazy update leaves it (the gradient
    # reached the optimizer sparse, inside XLA).
    assert row_3_moved == (optimizer is keras.optimizers.Adam)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is optimizer
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)
