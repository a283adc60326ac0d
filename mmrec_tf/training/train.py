"""Training a recommender from a configuration (`train`), in steps that `update` reuses, and
evaluating a run (`evaluate`).

A run is: a configuration resolved once (`mmrec_tf.training.run_config.resolve_config`),
its dataset numbered as the model learns it, and `fit_run`: read the model's
inputs (`ModelInputs`), build the model or restore its last checkpoint, fit
it epoch by epoch into the run directory (`RunRecorder`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras

from mmrec_tf.data.identity import DataIdentity
from mmrec_tf.training.config import ConfigError, read_config_file
from mmrec_tf.training.distribution import (
    distributed_batches,
    fit_distributed,
    is_chief,
    make_strategy,
    uses_fit,
)
from mmrec_tf.training.inputs import ModelInputs
from mmrec_tf.training.lazy_adam import LazyAdam
from mmrec_tf.training.recorder import RunRecorder, is_complete
from mmrec_tf.training.run_config import RunConfig, resolve_config
from mmrec_tf.training.run_directory import RunDirectory, RunError

# The configuration's `"optimizer"` (mmrec_tf.names.OPTIMIZERS) and what it builds.
OPTIMIZER_CLASSES = {"adam": keras.optimizers.Adam, "lazy_adam": LazyAdam}


def build_model(config, dataset, inputs: ModelInputs):
    """The untrained model a resolved configuration describes, for `dataset`."""
    from mmrec_tf import models
    from mmrec_tf.training.inputs import end_to_end_encoders

    options = dict(config["options"])
    if inputs.content is not None:
        encoders = end_to_end_encoders(config["end_to_end"], inputs.content.modalities)
        return models.MultimodalRecommender.end_to_end(dataset, encoders, inputs.content, **options)
    features, present = inputs.features, inputs.present
    return models.RECOMMENDERS[config["model"]].from_dataset(dataset, features, present, **options)


def new_model(config: RunConfig, source: str) -> Callable:
    """`fit_run`'s `build` for a new run: the configuration's untrained model and a fresh
    optimizer."""

    def build(dataset, inputs):
        try:
            model = build_model(config, dataset, inputs)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{source}: {e}") from None
        return model, OPTIMIZER_CLASSES[config["optimizer"]](config["learning_rate"])

    return build


def train(
    data, config_path, out, features_dir=None, resume=False, verbose=1, epochs=None, strategy=None
) -> Path:
    """Trains as `config_path` says and writes the run directory `out`
    (`mmrec_tf.training.run_directory` lists its files).

    Everything is checked before `out` is created: the configuration (see
    `mmrec_tf.training.config`), the dataset, the features and the model. A
    run that fails before its first epoch ends leaves nothing behind; one
    stopped later (an error, Ctrl-C, a killed process) resumes with
    `resume=True` exactly where an uninterrupted run would be: the model and
    optimizer of its last finished epoch, the sampler's position (each
    epoch's batches depend on the seed and the epoch number only), and the
    best epoch and patience so far. A resumed run may raise `epochs` and
    `patience`; anything else must match the run's configuration. `epochs`
    replaces the configuration's (a quick look at a long configuration); the
    run's config.json records the number used.

    `strategy` (one of `mmrec_tf.names.STRATEGIES`) replaces
    the configuration's `"strategy"`: `"multi-worker"` runs the same call in
    every process of a `TF_CONFIG` cluster; the chief writes `out` and the
    others write nothing (`mmrec_tf.training.distribution` gives the rule
    that keeps N workers comparable with one).

    A configuration with an `end_to_end` object trains a
    `MultimodalRecommender` with the builtin encoders inside it, on the
    dataset's raw files (no `features_dir`).

    Returns:
        `out`; `RunDirectory(out).state()` says the best epoch and why it stopped.
    """
    from mmrec_tf.data import load_dataset

    run = RunDirectory(out)
    if resume:
        run.check_existing()
        if run.config().get("update") is not None:
            # Its training data is the new and replayed interactions, not the split.
            raise RunError(
                f"{run.path} is an update of {run.config()['update']['from']}: continue it "
                "with `mmrec-tf update ... --resume`"
            )
    source = str(config_path)
    config = resolve_config(
        read_config_file(config_path),
        source,
        data=data,
        features=features_dir,
        epochs=epochs,
        strategy=strategy,
        resumed=run if resume else None,
    )
    if resume:
        dataset = run.dataset(data)  # numbered as the model learned it, or refused
    else:
        if is_chief(config["strategy"]):
            run.check_new()
        # Numbered and ordered as every later reader of the run will see it.
        loaded = load_dataset(data)
        dataset = DataIdentity.of(loaded).align(loaded, str(data))
    return fit_run(config, source, run, dataset, new_model(config, source), resume, verbose=verbose)


def fit_run(config, source, run, dataset, build, resume, *, rows=None, verbose=1) -> Path:
    """The steps every run takes once its configuration (`resolve_config`) and its
    dataset (numbered as the model learns it) are decided: read the model's inputs,
    build it (`build(dataset, inputs)` → (model, optimizer)) or restore the last
    checkpoint of a resumed run, and fit, recording each epoch in `run`.

    `rows` (positions in the dataset's training interactions) trains on those only;
    validation and the run's files are the same (`mmrec_tf.training.update`).
    """
    from mmrec_tf.data import bpr_num_batches, bpr_triples, poisson_triples
    from mmrec_tf.evaluation import RankingEvaluation
    from mmrec_tf.models import load_recommender
    from mmrec_tf.training.privacy import PrivateTraining

    distribution = make_strategy(config["strategy"])
    writes = is_chief(config["strategy"])
    for split in ("train", "valid"):
        dataset.interactions(split)  # no split column: an error naming the file
    inputs = ModelInputs.of(config, dataset)
    state = run.state() if resume else {"epochs_done": 0}
    if resume and writes and run.identity() is None:
        # A run from before ids.json, read as its dataset is now: recorded from now on.
        run.write_identity(DataIdentity.of(dataset))
    if is_complete(state, config):
        return run.path
    keras.utils.set_random_seed(config["seed"])
    private = None
    if config["privacy"] is not None:
        private = PrivateTraining(config, dataset, run if resume else None, source)
    checkpoint = run.last_checkpoint() if resume else None
    with distribution.scope():
        if checkpoint is not None:
            # Model and optimizer state as the last finished epoch left them.
            model = load_recommender(checkpoint)
            optimizer = model.optimizer
        else:
            model, optimizer = build(dataset, inputs)
        try:
            model.compile(
                optimizer=optimizer,
                jit_compile=config["jit_compile"],
                private_gradients=None if private is None else private.gradients,
            )
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
    if writes and resume:
        run.truncate_log(state["epochs_done"])
        run.remove_staging_leftovers()
    elif writes:
        run.begin(config.to_json_object(), dataset)

    batches = bpr_num_batches(dataset, config["batch_size"], rows=rows)
    epochs = range(state["epochs_done"], config["epochs"])

    def global_batches():
        if private is not None:
            return poisson_triples(dataset, config["batch_size"], epochs=epochs)
        triples = bpr_triples(
            dataset,
            config["batch_size"],
            seed=config["seed"],
            epochs=epochs,
            rows=rows,
            # e.g. a model that reads histories trains on each positive's history.
            **model.sampler_options(),
        )
        return triples if inputs.content is None else inputs.content.attach(triples)

    recorder = RunRecorder(run, state, config, writes, private)
    callbacks = [
        # Writes the logs the recorder reads.
        RankingEvaluation(dataset, content=inputs.content, sample_users=config["validation_users"]),
        recorder,
    ]
    if writes:
        callbacks.append(keras.callbacks.TensorBoard(run.tensorboard_dir))
    fit_options = {
        "epochs": config["epochs"],
        "initial_epoch": state["epochs_done"],
        "steps_per_epoch": batches,
        "callbacks": callbacks,
        "verbose": verbose,
    }
    try:
        if uses_fit(distribution):
            model.fit(global_batches(), shuffle=False, **fit_options)
        else:
            batches_of_workers = distributed_batches(distribution, global_batches)
            fit_distributed(model, distribution, batches_of_workers, **fit_options)
    except BaseException:
        if writes and not resume and recorder.state["epochs_done"] == 0:
            run.remove()
        raise
    return run.path


def evaluate(run, split="test", mask="train+valid", ks=(10, 20, 50), history="train"):
    """Evaluates a run's best model under a protocol (`split`, `mask`, `history`: see
    `mmrec_tf.evaluation.evaluate_ranking` and `history_scorer`); writes
    `RunDirectory(run).evaluation_path(split, history, mask)` and returns the metrics,
    Recall@20 and NDCG@20 by item popularity among them (`recall@20/cold`, …; a group
    without held-out items has none: `mmrec_tf.evaluation.popularity_groups`)."""
    from mmrec_tf.evaluation import evaluate_ranking, history_scorer
    from mmrec_tf.models import load_recommender

    run = RunDirectory(run)
    run.check_existing()
    if not run.best_model_path.is_file():
        raise RunError(f"{run.path} has no {run.best_model_path.name}: no epoch has finished yet")
    dataset = run.dataset()
    model = load_recommender(run.best_model_path)
    score = history_scorer(model, dataset, history, split)
    results = evaluate_ranking(score, dataset, split, mask=mask, ks=ks, popularity_k=20)
    run.write_evaluation({"split": split, "history": history, "mask": mask}, results)
    return results
