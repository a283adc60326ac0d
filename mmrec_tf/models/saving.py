"""Loading a saved recommender (`.keras`) with every class it may hold registered."""

from __future__ import annotations

import zipfile
from pathlib import Path


def load_recommender(path: str | Path, compile: bool = True):
    """The recommender saved at `path` (a `.keras` file written by `model.save`).

    Importing this module registers every mmrec-tf model and encoder class
    (and keras-hub's, which end-to-end models may hold), so a fresh process
    can load what another one saved. A path that is not a saved Keras model
    is a `ValueError` naming it.
    """
    # Registration happens at import: the models, and the encoders end-to-end models hold.
    import keras

    import mmrec_tf.encoders  # noqa: F401
    import mmrec_tf.models  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved model there")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a saved Keras model (.keras file)")
    try:
        return keras.models.load_model(path, compile=compile)
    except (zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{path}: damaged or not a saved Keras model ({e})") from None
