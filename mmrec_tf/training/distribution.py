"""Training under a `tf.distribute` strategy: which one, who writes, and the loop Keras lacks.

Three strategies (the configuration's `"strategy"`, or `train --strategy`):

- `"none"`: one process, TensorFlow's default strategy, `model.fit`.
- `"mirrored"`: `tf.distribute.MirroredStrategy` over this machine's devices
  (several GPUs), `model.fit`.
- `"multi-worker"`: `tf.distribute.MultiWorkerMirroredStrategy` across
  processes or machines, each running the same `mmrec-tf train` command with
  the standard `TF_CONFIG` environment variable. Keras 3.15's `model.fit`
  fails under this strategy (its symbolic build reduces per-replica values
  it cannot convert: docs/scaling.md), so these runs train in
  `fit_distributed`, TensorFlow's supported custom loop: `strategy.run`
  over the model's own loss and optimizer.

The rule that makes N workers comparable with one: `batch_size` is the
global batch. Every worker draws the same global batch (the sampler depends
on the seed and the epoch only) and trains on its rows `w, w + N, ...`;
gradients are summed across workers, each replica's loss being divided by N
(as Keras divides a loss's mean), so a step is the one-process step on the
same global batch, and the learning rate needs no change. Each worker
evaluates the same synchronised model on the full validation ranking, so all
take the same early-stopping decision; only the chief writes the run
directory.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from mmrec_tf.training.config import STRATEGIES

# How long a collective waits for a worker before failing, rather than hanging.
COLLECTIVE_TIMEOUT_SECONDS = 300


class DistributionError(ValueError):
    """A strategy that cannot start as asked (e.g. no `TF_CONFIG` for several workers)."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy `name` (one of `STRATEGIES`) names, set up for this process."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name != "multi-worker":
        raise DistributionError(f"strategy must be one of {', '.join(STRATEGIES)}, not {name!r}")
    _tf_config()  # a clear error before TensorFlow's own
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_chief(strategy_name: str) -> bool:
    """Whether this process writes the run: always, but under `"multi-worker"`, where
    the `chief` task does, or worker 0 of a `TF_CONFIG` cluster that has no chief
    (TensorFlow's convention)."""
    if strategy_name != "multi-worker":
        return True
    config = _tf_config()
    task = config["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and int(task["index"]) == 0 and "chief" not in config["cluster"]


def uses_fit(strategy: tf.distribute.Strategy) -> bool:
    """Whether Keras's `model.fit` trains under `strategy` (every strategy but multi-worker)."""
    return not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def distributed_batches(strategy, global_batches_fn):
    """`global_batches_fn()` (the same global batches on every worker) cut so that
    worker w trains on rows w, w + N, ... of each."""

    def worker_batches(context: tf.distribute.InputContext):
        part, parts = context.input_pipeline_id, context.num_input_pipelines
        return global_batches_fn().map(
            lambda batch: tf.nest.map_structure(lambda rows: rows[part::parts], batch)
        )

    options = tf.distribute.InputOptions(experimental_fetch_to_device=False)
    return strategy.distribute_datasets_from_function(worker_batches, options)


def fit_distributed(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    batches,
    *,
    epochs: int,
    initial_epoch: int,
    steps_per_epoch: int,
    callbacks: list,
    verbose: int = 0,
) -> None:
    """`model.fit` for a strategy Keras's own loop does not run: epochs of
    `steps_per_epoch` steps over `batches` (from `distributed_batches`), the
    model's `compute_loss` and optimizer, XLA for the forward and backward
    pass when the model was compiled with `jit_compile=True`, and the
    callbacks' epoch hooks (`logs` holds the mean training loss)."""
    variables = model.trainable_variables

    def loss_and_gradients(batch):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=batch, y_pred=model(batch, training=True))
        return loss, tape.gradient(loss, variables)

    # The collectives (gradient sums) stay outside XLA; the arithmetic goes in.
    gradients_fn = tf.function(loss_and_gradients, jit_compile=bool(model.jit_compile))

    def replica_step(batch):
        loss, gradients = gradients_fn(batch)
        model.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    @tf.function
    def train_step(iterator):
        losses = strategy.run(replica_step, args=(next(iterator),))
        # Each replica's loss was divided by the replica count: their sum is the mean.
        return strategy.reduce("SUM", losses, axis=None)

    if verbose:
        callbacks = [*callbacks, _EpochLine(epochs)]
    callback_list = keras.callbacks.CallbackList(callbacks, model=model, verbose=verbose)
    iterator = iter(batches)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        total = 0.0
        try:
            for _ in range(steps_per_epoch):
                total += float(train_step(iterator))
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as e:
            # A worker died or hung: its collective fails (or times out) on every other.
            raise DistributionError(
                f"epoch {epoch + 1}: a worker stopped or could not be reached "
                f"({type(e).__name__}); start every worker again with --resume to go on "
                "from the last finished epoch"
            ) from None
        logs = {"loss": total / steps_per_epoch}
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()

    @tf.function
    def barrier():
        return strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)

    # No worker leaves while the chief still writes the last epoch: TensorFlow's
    # coordination service reports a worker that left early as a crash.
    barrier()


class _EpochLine(keras.callbacks.Callback):
    """One line per epoch, as `fit(verbose=2)` prints it: the loss and what the
    callbacks before this one added (the validation metrics)."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        shown = " - ".join(f"{name}: {value:.4f}" for name, value in (logs or {}).items())
        print(f"Epoch {epoch + 1}/{self.epochs} - {shown}", flush=True)


def leave_together(before_leaving=None) -> None:
    """For the end of a finished multi-worker run: calls `before_leaving()` and then
    waits, at a barrier of TensorFlow's coordination service, until every worker has
    done the same, so that no process leaves while another still runs it.

    The chief hosts the coordination service: a worker still alive when the chief's
    process ends logs the lost service as an error, though all work is done. With
    `before_leaving` silencing those logs, every worker's output ends clean. A worker
    gone before reaching the barrier (the run's files are complete by then) only
    ends the wait early."""
    from tensorflow.python.eager import context  # the barrier has no public API

    if before_leaving is not None:
        before_leaving()
    try:
        context.context().wait_at_barrier(
            "mmrec-tf: training finished", COLLECTIVE_TIMEOUT_SECONDS * 1000
        )
    except tf.errors.OpError:
        pass


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DistributionError(
            "strategy multi-worker needs TF_CONFIG, the cluster and this worker's place in "
            'it, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (docs/scaling.md)'
        )
    try:
        config = json.loads(raw)
        config["cluster"]["worker"], config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise DistributionError(
            "TF_CONFIG must be JSON with 'cluster' {'worker': [...]} and 'task' {'type', "
            f"'index'}}, found {raw!r}"
        ) from None
    return config
