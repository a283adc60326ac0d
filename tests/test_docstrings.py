"""Every `>>>` example in the package's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import tensorflow as tf

import mmrec_tf

MODULES = sorted(m.name for m in pkgutil.walk_packages(mmrec_tf.__path__, "mmrec_tf."))
# Examples that generate the demo dataset and train a model on it with XLA (over 10 s on
# 2 cores): the full suite runs them, the fast lane does not.
TRAINING_EXAMPLES = {"mmrec_tf.models.history_recommender"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(m, marks=pytest.mark.large) if m in TRAINING_EXAMPLES else m for m in MODULES],
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"np": np, "tf": tf},
        verbose=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_examples_exist_for_the_public_layers():
    import mmrec_tf.layers as layers

    for name in layers.__all__:
        obj = getattr(layers, name)
        assert ">>>" in (obj.__doc__ or ""), f"{name} has no runnable example"
