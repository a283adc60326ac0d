"""Reading pickled weights without running arbitrary code.

`pickle.load` calls whatever the file names, so a weights file could run any
code. These readers admit only NumPy arrays, plain containers and, for PyTorch
checkpoints, tensors (rebuilt as NumPy arrays): any other global in the file is
refused with `pickle.UnpicklingError` naming it. PyTorch is not needed.
"""

from __future__ import annotations

import codecs
import collections
import dataclasses
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np.zeros(0).__reduce__()[0],
    ("numpy._core.multiarray", "_reconstruct"): np.zeros(0).__reduce__()[0],
    ("numpy.core.multiarray", "scalar"): np.float32(0).__reduce__()[0],
    ("numpy._core.multiarray", "scalar"): np.float32(0).__reduce__()[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # NumPy pickles a scalar's bytes through codecs.encode(str, "latin1").
    ("_codecs", "encode"): codecs.encode,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
_TORCH_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _RestrictedUnpickler(pickle.Unpickler):
    allowed = _NUMPY_GLOBALS

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only NumPy arrays, plain containers and "
                "tensors are allowed in a weights file"
            ) from None


def load_numpy_pickle(path: str | Path):
    """Loads a pickle that holds only NumPy arrays and plain containers.

    Raises:
        pickle.UnpicklingError: naming the first other global the file refers to.
    """
    with open(path, "rb") as f:
        return _RestrictedUnpickler(f).load()


@dataclasses.dataclass
class _PendingTensor:
    """A tensor whose storage is read after the pickle (legacy PyTorch files)."""

    storage_key: str
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    return _PendingTensor(storage, int(storage_offset), tuple(size), tuple(stride))


class _TorchUnpickler(_RestrictedUnpickler):
    allowed = {
        **_NUMPY_GLOBALS,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        **{("torch", name): name for name in _TORCH_STORAGE_DTYPES},
    }

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def persistent_load(self, saved_id):
        kind, storage_type, key, _location, numel = saved_id[:5]
        if kind != "storage" or storage_type not in _TORCH_STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage {saved_id!r}")
        self.storages.setdefault(
            str(key), (np.dtype(_TORCH_STORAGE_DTYPES[storage_type]), int(numel))
        )
        return str(key)


def load_torch_checkpoint(path: str | Path):
    """Loads a PyTorch checkpoint (zip or legacy format) with tensors as NumPy arrays.

    Raises:
        pickle.UnpicklingError: naming any global other than tensors, storages,
            `OrderedDict` and NumPy arrays.
    """
    path = Path(path)
    storages: dict[str, tuple] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            pickle_name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            prefix = pickle_name[: -len("data.pkl")]
            result = _TorchUnpickler(io.BytesIO(archive.read(pickle_name)), storages).load()
            data = {
                key: np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype)
                for key, (dtype, _) in storages.items()
            }
    else:
        with open(path, "rb") as f:
            magic = _RestrictedUnpickler(f).load()
            if magic != _TORCH_LEGACY_MAGIC:
                raise pickle.UnpicklingError(f"{path} is not a PyTorch checkpoint")
            _RestrictedUnpickler(f).load()  # protocol version
            _RestrictedUnpickler(f).load()  # system information
            result = _TorchUnpickler(f, storages).load()
            keys = _RestrictedUnpickler(f).load()
            data = {}
            for key in keys:
                dtype, numel = storages[str(key)]
                (count,) = struct.unpack("<q", f.read(8))
                if count != numel:
                    raise pickle.UnpicklingError(
                        f"storage {key}: {count} elements, expected {numel}"
                    )
                data[str(key)] = np.frombuffer(f.read(numel * dtype.itemsize), dtype=dtype)
    return _resolve(result, data)


def _resolve(value, data):
    if isinstance(value, _PendingTensor):
        storage = data[value.storage_key]
        itemsize = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[value.offset :],
            shape=value.size,
            strides=tuple(s * itemsize for s in value.stride),
        )
        return np.array(view)
    if isinstance(value, dict):
        return type(value)((k, _resolve(v, data)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_resolve(v, data) for v in value)
    return value
