"""The base of every trainable recommender: user and item vectors, dot scores, BPR training."""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from mmrec_tf.models.losses import LOSSES, per_replica


class Recommender(keras.Model):
    """Scores a user-item pair as the dot product of their vectors.

    Subclasses implement `user_item_vectors(training)`, returning all user
    vectors [num_users, d] and all item vectors [num_items, d]. Training
    batches are BPR triples (`mmrec_tf.data.bpr_triples`). With `loss="bpr"`
    the loss is `BPRLoss`, −log σ(s(u, i⁺) − s(u, i⁻)); with `loss="softmax"`
    `CatalogueSoftmaxLoss`, −log softmax_i(s(u, i) / temperature)[i⁺] over the
    whole catalogue (exact: no sampling correction). Both add
    `regularization(y_pred)`: `l2_regularization` × the batch's squared norms.
    """

    # Constructor options that take one of a few names (configuration files check them).
    OPTION_CHOICES = {"loss": tuple(LOSSES)}
    # λ of the content-only view's ranking loss (`batch_parts`' content rows); 0: none.
    content_loss_weight = 0.0

    def __init__(
        self, num_users, num_items, l2_regularization=1e-5, loss="bpr", temperature=1.0, **kwargs
    ):
        super().__init__(**kwargs)
        if num_users < 1 or num_items < 1:
            raise ValueError(f"need users and items. Received: {num_users}, {num_items}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {tuple(LOSSES)}. Received: loss={loss!r}")
        self.num_users = num_users
        self.num_items = num_items
        self.l2_regularization = l2_regularization
        self.loss_name = loss
        self.temperature = temperature
        self.ranking_loss = LOSSES[loss](temperature)
        self.private_gradients = None  # set by compile

    @classmethod
    def from_dataset(cls, dataset, features=None, present=None, **options):
        """The model for `dataset` (`mmrec_tf.data.MultimodalDataset`): what the data
        decides (sizes, graphs, item features) from it, the rest from `options`.

        Every recommender builds this way (`RECOMMENDERS[name].from_dataset`);
        `features` ({modality: [num_items, d]}) and `present` ({modality: bool
        [num_items]}) are for those that read item content.
        """
        return cls(dataset.num_users, dataset.num_items, **options)

    def compile(self, optimizer="rmsprop", loss=None, private_gradients=None, **kwargs):
        """Keras' `compile`; the loss is the model's own (`loss="bpr"` or `"softmax"` in the
        constructor), so a `loss` here is refused rather than silently ignored.

        With `private_gradients` (a `PrivateGradients`), `fit` trains with
        DP-SGD on Poisson-sampled batches (`mmrec_tf.data.poisson_triples`);
        a model whose examples are coupled (`example_coupling`) is refused.
        """
        if private_gradients is not None and self.example_coupling:
            raise ValueError(
                f"{type(self).__name__} cannot train with private gradients: "
                f"{self.example_coupling}. DP-SGD bounds what one training interaction "
                "changes only when an example's loss reads that interaction alone"
            )
        self.private_gradients = private_gradients
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} trains with its own loss ({self.loss_name!r}; choose "
                f"it with {type(self).__name__}(..., loss='bpr' or 'softmax')): compile() "
                f"takes no loss. Received: loss={loss!r}"
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras restores a loaded model's optimizer only when `compile` is not
        # overridden; this does what it would do.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def user_item_vectors(self, training=None):
        raise NotImplementedError

    # What training, evaluation and export ask of every model; the defaults are
    # those of a model whose users are fitted rows and whose items have no content.

    @property
    def modalities(self) -> list[str]:
        """The item content modalities the model reads (sorted); [] for none."""
        return []

    def content_encoders(self) -> dict:
        """{modality: encoder} inside the model (end-to-end training); {} otherwise."""
        return {}

    def sampler_options(self) -> dict:
        """Options of `mmrec_tf.data.bpr_triples` (and `poisson_triples`) that the
        model's training batches need, such as the histories a model that reads
        them trains on."""
        return {}

    def growth_roles(self) -> list:
        """[(weight, role)] for the weights that depend on the data's size, read by
        `mmrec_tf.models.growth.grow_model` when new users and items arrive:
        `"users"` / `"items"` (one row per user / item), `"users+items"` (the
        users' rows, then the items'), `"data"` (what `from_dataset` fills from
        the dataset: graphs, features, histories; rebuilt, never carried). Every
        other weight is learned and carried as it is."""
        raise NotImplementedError(f"{type(self).__name__} does not say how its tables grow")

    def history_window(self) -> int | None:
        """How many of a user's latest items `score_histories` reads (0: all of
        them); None for a model whose users are fitted rows, which cannot rank
        from a history."""
        return None

    def history_reader(self):
        """`(encoder, history_length)` that turn a history's item vectors into a user
        vector inside a SavedModel (`recommend_from_history`); None for none."""
        return None

    def explanation_parts(self):
        """What explanations read of the items (`mmrec_tf.serving.explanations`):
        `(content [num_items, d], modality_parts [num_items, M, d], present bool
        [num_items, M])` as NumPy arrays: the part of each item's vector that its
        own content gives (the vector it would have as a new item, with no
        interactions), for each of `modalities` what that modality brings to it
        (`ContentTower.modality_parts`), and which modalities each item has; None
        for a model whose items have no content."""
        return None

    def serving_users(self, dataset, seen_splits, users, items):
        """(user vectors [num_users, d], known bool [num_users]) for export, from
        `inference_vectors()` (`users`, `items`): each user's trained row; known are
        the users with a training interaction (the others have an untrained row)."""
        known = np.zeros(dataset.num_users, bool)
        known[dataset.interactions("train")[0]] = True
        return users, known

    @property
    def example_coupling(self) -> str | None:
        """Why one training example's loss reads other training interactions (a
        user-item graph, histories), or None when it reads its own alone, as
        DP-SGD's per-interaction guarantee needs."""
        return None

    def train_step(self, data):
        if self.private_gradients is None:
            return super().train_step(data)
        return self.private_gradients.train_step(self, data)

    def batch_parts(self, inputs, training=None):
        """`(user_rows, item_rows, content_rows)` for a training or scoring batch:
        functions from index tensors (any shape) to those users' or items' vectors
        [..., d]; `content_rows` gives the items' content vectors alone (None for a
        model without content), which `content_loss_weight` trains.

        By default, rows of `user_item_vectors`. Subclasses override it where a
        batch needs less (items whose vectors depend on nothing but themselves:
        only the batch's rows are computed, so a step costs the same whatever
        the catalogue's size) or more (content encoded in the step).
        """
        users, items = self.user_item_vectors(training=training)
        return rows_of(users), rows_of(items), None

    def batch_vectors(self, inputs, training=None):
        """`(user_rows, item_rows)` of `batch_parts`."""
        return self.batch_parts(inputs, training=training)[:2]

    def batch_users(self, user_rows, item_rows, inputs, training=None):
        """The vectors [batch, d] of a batch's users: their rows; a model that reads
        histories encodes `inputs["history"]` from `item_rows` instead."""
        return user_rows(inputs["user_index"])

    def call(self, inputs, training=None):
        user_rows, item_rows, content_rows = self.batch_parts(inputs, training=training)
        user = self.batch_users(user_rows, item_rows, inputs, training=training)
        scores = self.batch_scores(user, item_rows, inputs, training=training)
        if training and self.content_loss_weight and content_rows is not None:
            scores["content"] = self.ranking_scores(user, content_rows, inputs)
        return scores

    def ranking_scores(self, user, item_rows, inputs, items=None):
        """The scores the ranking loss reads: the batch's positive and negative items
        (`items`, {key: [batch, d]}, when computed already) and, for the softmax
        loss, the whole catalogue, against `user`."""
        items = _batch_items(item_rows, inputs) if items is None else items
        scores = {key: ops.sum(user * vectors, axis=-1) for key, vectors in items.items()}
        if self.ranking_loss.reads_catalogue:
            catalogue = item_rows(ops.arange(self.num_items))
            scores["catalogue"] = ops.matmul(user, ops.transpose(catalogue))
        return scores

    def batch_scores(self, user, item_rows, inputs, training=None):
        """What `call` returns, from the batch's user vectors [batch, d] and
        `item_rows` (for a caller that has them already, e.g. `Distiller`)."""
        if not training:
            return {
                key: ops.sum(user * item_rows(inputs[key]), axis=-1)
                for key in ("positive_item", "negative_item", "item_index")
                if key in inputs
            }
        items = _batch_items(item_rows, inputs)  # once: a row may be a content tower pass
        scores = self.ranking_scores(user, item_rows, inputs, items)
        for key, vectors in items.items():
            scores[f"{key}_norm"] = ops.sum(ops.square(vectors), axis=-1)
        scores["user_norm"] = ops.sum(ops.square(user), axis=-1)
        return scores

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.ranking_loss(*self.ranking_loss.targets(x, y_pred))
        if "content" in y_pred:
            content = self.ranking_loss(*self.ranking_loss.targets(x, y_pred["content"]))
            loss = loss + self.content_loss_weight * content
        # The ranking loss (a Keras Loss) is already divided per replica; the rest not.
        regularization = ops.mean(self.regularization(y_pred))
        return loss + per_replica(regularization + sum(self.losses))

    def example_losses(self, x, y_pred):
        """Each example's loss [batch] (ranking loss plus regulariser), of which
        `compute_loss` is the mean: what DP-SGD clips example by example."""
        losses = self.ranking_loss.call(*self.ranking_loss.targets(x, y_pred))
        if "content" in y_pred:
            content = self.ranking_loss.call(*self.ranking_loss.targets(x, y_pred["content"]))
            losses = losses + self.content_loss_weight * content
        return losses + self.regularization(y_pred)

    def regularization(self, y_pred):
        """The penalty added to each example's ranking loss [batch]: `l2_regularization`
        × the squared norms of its user, positive and negative vectors. The one
        hook to override for another regulariser."""
        squared = y_pred["user_norm"] + y_pred["positive_item_norm"] + y_pred["negative_item_norm"]
        return self.l2_regularization * squared

    def score_users(self, user_indices) -> np.ndarray:
        """Scores [len(user_indices), num_items] for the whole catalogue (inference mode).

        Runs as one `tf.function`, XLA-compiled when the model was compiled
        with `jit_compile=True`: evaluation calls this every epoch.
        """
        function = self._compiled("_scoring_function", self._score)
        return function(ops.convert_to_tensor(np.asarray(user_indices, np.int32))).numpy()

    def ranking_scorer(self):
        """A function from user indices to their scores [n, num_items], for ranking
        many batches of users while the weights stay as they are (evaluation).

        The item side (and all it needs: content tower, graphs) is computed once,
        when the scorer is made, instead of at every call as in `score_users`;
        the scores stay a tensor on the model's device, where evaluation takes
        the top K, rather than a users × catalogue matrix copied to the host.
        """
        tables = self.inference_vectors()
        rank = self._compiled("_ranking_function", self._rank)
        return lambda user_indices: rank(
            tables, ops.convert_to_tensor(np.asarray(user_indices, np.int32))
        )

    def _compiled(self, name: str, method):
        """`method` as a `tf.function` kept under `name`, XLA-compiled when the model
        was compiled with `jit_compile=True` (rebuilt if that changes)."""
        jit_compile = bool(getattr(self, "jit_compile", False))
        cached = self.__dict__.get(name)
        if cached is None or cached[0] != jit_compile:
            import tensorflow as tf

            # A partial, not the bound method: TensorFlow counts retracing per
            # function code, so every model of a class would share one count, and
            # five models each tracing once would warn of "excessive retracing".
            # Through a partial each model's function is counted on its own.
            function = functools.partial(method)
            cached = (jit_compile, tf.function(function, jit_compile=jit_compile))
            # Set past Keras' attribute tracking: a cache, not part of the model.
            object.__setattr__(self, name, cached)
        return cached[1]

    def inference_vectors(self):
        """`user_item_vectors(training=False)`: every user's and item's vector
        ([num_users, d], [num_items, d]), compiled as `score_users` is; what
        ranking and export read."""
        inference = functools.partial(self.user_item_vectors, training=False)
        return self._compiled("_inference_vectors_function", inference)()

    def _score(self, user_indices):
        return self._rank(self.user_item_vectors(training=False), user_indices)

    def _rank(self, tables, user_indices):
        """Scores [n, num_items] of the users `user_indices` from `inference_vectors()`."""
        users, items = tables
        return ops.matmul(ops.take(users, user_indices, axis=0), ops.transpose(items))

    def get_config(self):
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "l2_regularization": self.l2_regularization,
            "loss": self.loss_name,
            "temperature": self.temperature,
            **super().get_config(),
        }


def _batch_items(item_rows, inputs):
    """{key: [batch, d]}: the vectors of a training batch's positive and negative items."""
    return {
        key: item_rows(inputs[key]) for key in ("positive_item", "negative_item") if key in inputs
    }


def rows_of(table):
    """The function from indices (any shape) to their rows of `table` [n, d]."""
    return lambda indices: ops.take(table, indices, axis=0)
