import keras
import numpy as np
import pytest

from mmrec_tf.models import BPRLoss, CatalogueSoftmaxLoss


def test_bpr_loss_matches_numpy():
    pairs = np.random.default_rng(0).normal(size=(7, 2)).astype("float32")
    expected = np.mean(np.log1p(np.exp(-(pairs[:, 0] - pairs[:, 1]))))
    assert float(BPRLoss()(np.zeros(7), pairs)) == pytest.approx(expected, rel=1e-5)


def test_catalogue_softmax_loss_matches_numpy_and_reloads():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(5, 9)).astype("float32")
    positives = rng.integers(0, 9, size=5)
    logits = scores / 0.3
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(5), positives])
    loss = CatalogueSoftmaxLoss(temperature=0.3)
    assert float(loss(positives, scores)) == pytest.approx(expected, rel=1e-5)
    reloaded = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(reloaded, CatalogueSoftmaxLoss) and reloaded.temperature == 0.3
