"""One shared check for every layer: config, shapes, saving, XLA, training, mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _input_for(name, value):
    sparse = isinstance(value, tf.SparseTensor)
    shape = tuple(int(s) for s in (value.dense_shape if sparse else value.shape))
    dtype = "bool" if (not sparse and value.dtype == tf.bool) else "float32"
    return keras.Input(shape=shape[1:], batch_size=shape[0], sparse=sparse, dtype=dtype, name=name)


def _cast_floats(inputs, dtype):
    def cast(v):
        if isinstance(v, tf.SparseTensor) or v.dtype == tf.bool:
            return v
        return tf.cast(v, dtype)

    return {k: cast(v) for k, v in inputs.items()}


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    inputs: dict,
    expected_output_shape: tuple,
    *,
    tmp_path,
    run_training: bool = True,
    run_mixed_precision: bool = True,
):
    """Checks what every mmrec-tf layer must do; returns the eager output.

    `inputs` maps the layer's call arguments to arrays (or a `tf.SparseTensor`);
    the first dimension of each is the batch the functional model sees.
    """
    inputs = {
        k: v if isinstance(v, tf.SparseTensor) else tf.convert_to_tensor(v)
        for k, v in inputs.items()
    }
    # Config round trip: get_config holds every constructor argument.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        if not isinstance(value, str | keras.initializers.Initializer):
            assert config[key] == value, (key, config[key], value)
    assert layer_cls.from_config(config).get_config() == config

    # Eager call.
    eager = layer(**inputs)
    assert tuple(eager.shape) == tuple(expected_output_shape)
    assert eager.dtype == tf.float32
    assert np.isfinite(eager.numpy()).all()

    # Symbolic call: a functional model gives the eager result.
    symbolic = {name: _input_for(name, value) for name, value in inputs.items()}
    output = layer(**symbolic)
    assert tuple(output.shape) == tuple(expected_output_shape)
    model = keras.Model(symbolic, output)
    np.testing.assert_allclose(model(inputs), eager, atol=1e-6)

    # XLA gives the eager result.
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(compiled(inputs), eager, atol=1e-5, rtol=1e-5)

    # Gradients are finite.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(inputs, training=True)))
    gradients = tape.gradient(loss, model.trainable_weights)
    for gradient in gradients:
        assert gradient is not None and np.isfinite(tf.convert_to_tensor(gradient)).all()

    # Saving and reloading in the .keras format gives the same outputs.
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded(inputs), eager, atol=1e-6)

    # One training step with jit_compile=True changes the weights and stays finite.
    if run_training and model.trainable_weights:
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True)
        batch = int(next(iter(inputs.values())).shape[0])
        target = np.random.default_rng(0).normal(size=expected_output_shape).astype("float32")
        history = model.fit(inputs, target, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [w.numpy() for w in model.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))

    # Mixed precision: computes in the low precision, keeps float32 variables.
    if run_mixed_precision:
        for policy, dtype in (("mixed_float16", tf.float16), ("mixed_bfloat16", tf.bfloat16)):
            mixed = layer_cls(**init_kwargs, dtype=policy)
            out = mixed(**_cast_floats(inputs, dtype))
            assert out.dtype == dtype, (policy, out.dtype)
            assert all(w.dtype == "float32" for w in mixed.weights)
            assert np.isfinite(tf.cast(out, tf.float32).numpy()).all()
    return eager.numpy()


def assert_masks_reproduce_in_xla(make_layer, inputs):
    """A dropout layer made by `make_layer()` after `keras.utils.set_random_seed` draws
    the same masks in XLA each time, and a new mask at each call."""

    def masks():
        keras.utils.set_random_seed(7)
        layer = make_layer()
        compiled = tf.function(lambda x: layer(x, training=True), jit_compile=True)
        return [compiled(inputs).numpy() != 0 for _ in range(2)]

    (a1, a2), (b1, b2) = masks(), masks()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
