"""Keeping TensorFlow's own logging out of a notebook's outputs or a script's terminal."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow() -> None:
    """Imports TensorFlow without its start-up lines, and keeps its logging quiet.

    TensorFlow's C++ logger writes its first lines (oneDNN notices, CUDA probing
    on a machine without a GPU) to file descriptor 2 before it reads
    `TF_CPP_MIN_LOG_LEVEL`, so descriptor 2 points at /dev/null while TensorFlow
    loads. After that `TF_CPP_MIN_LOG_LEVEL=3` keeps its C++ lines away (XLA's
    "Compiled cluster", oneDNN's fallbacks), and TensorFlow's Python logger shows
    errors only (not "Assets written to ..." at each export). Call it before
    anything imports TensorFlow (called later, it only quiets the Python logger).
    Real errors still arrive as exceptions; Python warnings are left as they are.

    Example:

    >>> from mmrec_tf import quiet_tensorflow
    >>> quiet_tensorflow()  # doctest: +SKIP
    >>> import tensorflow as tf  # quietly, wherever it is imported next
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
