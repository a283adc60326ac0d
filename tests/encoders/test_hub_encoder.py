import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.encoders import HubEncoder

_MODULE_SOURCE = """
import sys
import numpy as np
import tensorflow as tf


class Projection(tf.Module):
    # A small module saved like a TF Hub model: a callable taking training, and a signature.

    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10)
        self.scale = tf.Variable(2.0, trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32),
                                  tf.TensorSpec([], tf.bool)])
    def __call__(self, x, training=False):
        return {"embedding": tf.matmul(x, self.kernel) * self.scale, "norm": tf.norm(x, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def serve(self, x):
        return {"embedding": tf.matmul(x, self.kernel) * self.scale, "norm": tf.norm(x, axis=1)}


module = Projection()
tf.saved_model.save(module, sys.argv[1], signatures={"serving_default": module.serve})
"""


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A SavedModel written by another process, as TF Hub modules are."""
    path = tmp_path_factory.mktemp("hub") / "projection"
    subprocess.run(
        [sys.executable, "-c", _MODULE_SOURCE, str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return str(path)


@pytest.fixture
def x():
    return np.random.default_rng(0).random((8, 3)).astype("float32")


def _model(encoder):
    inputs = keras.Input((3,))
    return keras.Model(
        inputs, keras.layers.Dense(2, kernel_initializer="identity")(encoder(inputs))
    )


INITIAL_KERNEL = np.arange(6, dtype=np.float32).reshape(3, 2) / 10


def expected(x, kernel=INITIAL_KERNEL):
    return x @ kernel * 2.0


def test_module_and_signature_calls_give_the_module_output(saved_model, x):
    np.testing.assert_allclose(
        HubEncoder(saved_model, output_key="embedding")(x), expected(x), atol=1e-6
    )
    by_signature = HubEncoder(saved_model, signature="serving_default", output_key="norm")
    np.testing.assert_allclose(by_signature(x), np.linalg.norm(x, axis=1), atol=1e-6)
    with pytest.raises(ValueError, match="has no signature 'serve'"):
        HubEncoder(saved_model, signature="serve")


def test_trainable_fine_tunes_the_modules_variables(saved_model, x):
    encoder = HubEncoder(saved_model, trainable=True, output_key="embedding")
    model = _model(encoder)
    assert [w.shape for w in encoder.trainable_weights] == [(3, 2)]
    assert [w.shape for w in encoder.non_trainable_weights] == [()]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    history = model.fit(x, np.zeros((8, 2)), epochs=5, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    kernel = encoder._module.kernel.numpy()
    assert not np.allclose(kernel, np.arange(6).reshape(3, 2) / 10)
    np.testing.assert_allclose(encoder(x), expected(x, kernel), atol=1e-6)


def test_frozen_module_does_not_change(saved_model, x):
    encoder = HubEncoder(saved_model, output_key="embedding")
    model = _model(encoder)
    assert not encoder.trainable_weights
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, np.zeros((8, 2)), epochs=2, verbose=0)
    np.testing.assert_allclose(encoder(x), expected(x), atol=1e-6)


def test_fine_tuned_model_saves_reloads_and_exports(saved_model, x, tmp_path):
    encoder = HubEncoder(saved_model, trainable=True, output_key="embedding")
    model = _model(encoder)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, np.ones((8, 2)), epochs=3, verbose=0)
    tuned = model(x).numpy()
    assert not np.allclose(tuned, expected(x))
    model.export(str(tmp_path / "exported"), verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "exported"))  # kept: it owns the variables
    np.testing.assert_allclose(exported.serve(tf.constant(x)), tuned, atol=1e-5)
    model.save(tmp_path / "hub.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "hub.keras")(x), tuned, atol=1e-5)


def test_a_hub_encoder_cannot_be_stored_in_float16(saved_model, x):
    from mmrec_tf.serving.content import in_dtype

    encoder = HubEncoder(saved_model, output_key="embedding")
    encoder(x)
    with pytest.raises(ValueError, match=r"\(HubEncoder\) cannot be stored in float16"):
        in_dtype(encoder, "float16")
    assert in_dtype(encoder, "float32") is encoder
