"""Ranking losses of the recommenders, as Keras losses."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmrec_tf")
class BPRLoss(keras.losses.Loss):
    """Bayesian personalised ranking: −log σ(s(u, i⁺) − s(u, i⁻)), averaged.

    `y_pred` is [batch, 2]: each triple's positive and negative scores (the
    positive first, so the labels are implied); `y_true` is not read (pass
    zeros [batch]).

    Example:
    >>> import numpy as np
    >>> round(float(BPRLoss()(np.zeros(1), np.array([[2.0, 0.0]], "float32"))), 4)  # −log σ(2)
    0.1269
    """

    # Whether the loss reads each user's scores over the whole catalogue.
    reads_catalogue = False

    def __init__(self, name="bpr", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def targets(self, batch, scores):
        """(y_true, y_pred) from a training batch and its scores (`positive_item`,
        `negative_item` [batch])."""
        pairs = ops.stack([scores["positive_item"], scores["negative_item"]], axis=-1)
        return ops.zeros_like(scores["positive_item"]), pairs

    def call(self, y_true, y_pred):
        return -ops.log_sigmoid(y_pred[..., 0] - y_pred[..., 1])


@keras.saving.register_keras_serializable(package="mmrec_tf")
class CatalogueSoftmaxLoss(keras.losses.Loss):
    """Cross-entropy of the positive item against the whole catalogue:
    −log softmax_i(s(u, i) / τ)[i⁺], averaged; exact, so no sampling correction.

    `y_true` is each row's positive item index [batch]; `y_pred` the scores of
    every item [batch, num_items].

    Example:
    >>> import numpy as np
    >>> loss = CatalogueSoftmaxLoss(temperature=1.0)
    >>> round(float(loss(np.array([0]), np.array([[0.0, 0.0]], "float32"))), 4)  # log 2
    0.6931
    """

    def __init__(self, temperature=1.0, name="catalogue_softmax", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature = temperature

    reads_catalogue = True

    def targets(self, batch, scores):
        """(y_true, y_pred) from a training batch (its `positive_item`) and its scores
        (`catalogue` [batch, num_items])."""
        return batch["positive_item"], scores["catalogue"]

    def call(self, y_true, y_pred):
        return ops.sparse_categorical_crossentropy(
            y_true, y_pred / self.temperature, from_logits=True
        )

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


# Each ranking loss by name, as configurations name them: a function of the temperature.
LOSSES = {
    "bpr": lambda temperature: BPRLoss(),
    "softmax": lambda temperature: CatalogueSoftmaxLoss(temperature),
}


def per_replica(value):
    """`value`, a mean over this replica's share of a batch, divided by the number
    of replicas in sync, as Keras divides a `Loss`'s mean under `tf.distribute`:
    summed across replicas, the gradients are then those of the global mean.
    Unchanged outside a strategy (one replica)."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value / replicas
