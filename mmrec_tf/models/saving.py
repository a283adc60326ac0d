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
    _check_layout(path)
    try:
        return keras.models.load_model(path, compile=compile)
    except (zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{path}: damaged or not a saved Keras model ({e})") from None


def _check_layout(path: Path):
    """Refuses, in one line, a multimodal model saved before models were composed
    from parts (content tower, item side, user side, propagation): its weights are
    laid out otherwise. Those configurations lack `content_loss_weight`."""
    import json

    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return  # keras names what is wrong with the file
    composed = ("MultimodalRecommender", "HistoryRecommender")
    if saved.get("class_name") in composed and "content_loss_weight" not in saved.get("config", {}):
        raise ValueError(
            f"{path}: saved by an older mmrec-tf, before its models were composed from "
            "towers; its weights do not fit today's layout: train the run again"
        )
