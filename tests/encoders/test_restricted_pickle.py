import os
import pickle

import numpy as np
import pytest

from mmrec_tf.encoders.weights.restricted_pickle import load_numpy_pickle, load_torch_checkpoint


def test_numpy_arrays_and_containers_load(tmp_path):
    value = {
        "a": [np.arange(6, dtype=np.float32).reshape(2, 3), (1, "x")],
        "b": {"c": np.array([True, False]), "d": np.float32(2.5)},
    }
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps(value))
    loaded = load_numpy_pickle(path)
    np.testing.assert_array_equal(loaded["a"][0], value["a"][0])
    assert loaded["a"][1] == (1, "x") and loaded["b"]["d"] == np.float32(2.5)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_any_other_global_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"weights": _Exploit()}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|os)\.system"):
        load_numpy_pickle(path)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_torch_checkpoint(path)


def test_non_checkpoint_is_refused(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(123))
    with pytest.raises(pickle.UnpicklingError, match="is not a PyTorch checkpoint"):
        load_torch_checkpoint(path)
