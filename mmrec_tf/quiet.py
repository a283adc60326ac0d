"""Keeping TensorFlow's own logging out of a notebook's outputs or a script's terminal."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow() -> None:
    """Starts TensorFlow without its start-up lines, and keeps its logging quiet.

    TensorFlow's C++ logger writes its first lines (oneDNN notices, CUDA probing
    on a machine without a GPU) to file descriptor 2 before it reads
    `TF_CPP_MIN_LOG_LEVEL`, so descriptor 2 points at /dev/null while TensorFlow
    loads and finds its devices. After that `TF_CPP_MIN_LOG_LEVEL=3` keeps its
    C++ lines away, ERROR ones included: they come as operations run (XLA's
    "Compiled cluster", oneDNN's "supports DT_HALF only on platforms with
    AVX-512" for a float16 SavedModel) and say nothing to a user; a real error
    arrives as an exception. TensorFlow's Python logger shows errors only (not
    "Assets written to ..." at each export). Call it before anything imports
    TensorFlow (called later, it only quiets the loggers). Python warnings are
    left as they are.

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
            import tensorflow as tf

            tf.config.list_physical_devices()
            if "TF_CONFIG" not in os.environ:
                # Not in a multi-worker run: its strategy must configure TensorFlow's
                # context before the first operation starts it.
                tf.constant(0)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
