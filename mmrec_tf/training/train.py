"""Training and evaluating a recommender from a configuration file (`train`, `evaluate`)."""

from __future__ import annotations

import math
from pathlib import Path

import keras

from mmrec_tf.data.feature_cache import FeatureCache
from mmrec_tf.data.identity import DataIdentity
from mmrec_tf.training.config import (
    END_TO_END_DEFAULTS,
    MODALITY_NAMES,
    ConfigError,
    load_config,
    resumed_config,
)
from mmrec_tf.training.distribution import (
    distributed_batches,
    fit_distributed,
    is_chief,
    make_strategy,
    uses_fit,
)
from mmrec_tf.training.lazy_adam import LazyAdam
from mmrec_tf.training.run_directory import RunDirectory, RunError

MONITOR = "val_recall@20"
# The configuration's `"optimizer"` (config.OPTIMIZERS) and what it builds.
OPTIMIZER_CLASSES = {"adam": keras.optimizers.Adam, "lazy_adam": LazyAdam}


def load_features(dataset, features_dir: str | Path, modalities=None):
    """`extract-features` output: {modality: [num_items, d]} and presence flags, checked
    against the dataset's item order (`FeatureCache.load`)."""
    return FeatureCache(features_dir).load(dataset, modalities)


def end_to_end_options(end_to_end: dict) -> dict:
    """The loader options (`{modality: options}`) an `end_to_end` configuration's
    encoders read."""
    from mmrec_tf.encoders.trainable import loader_options

    options = {**END_TO_END_DEFAULTS, **end_to_end}
    loaders = {}
    for modality in options["modalities"] or MODALITY_NAMES:
        name = options["encoders"].get(modality, "builtin")
        loaders.update(loader_options(modality, name, **_encoder_sizes(options)))
    return loaders


def end_to_end_encoders(end_to_end: dict, modalities) -> dict:
    """{modality: encoder} for an `end_to_end` configuration (untrained or pretrained)."""
    from mmrec_tf.encoders.trainable import end_to_end_encoder

    options = {**END_TO_END_DEFAULTS, **end_to_end}
    encoders = {}
    for m in modalities:
        name = options["encoders"].get(m, "builtin")
        encoders[m] = end_to_end_encoder(m, name, **_encoder_sizes(options))
        if m in options["frozen"]:
            encoders[m].trainable = False
    return encoders


def _encoder_sizes(options: dict) -> dict:
    keys = ("image_size", "video_frames", "video_size", "text_length")
    return {key: options[key] for key in keys}


def load_item_content(dataset, end_to_end: dict):
    """Every item's decoded content at the sizes an `end_to_end` configuration asks for."""
    from mmrec_tf.data import ItemContent, ItemLoader

    modalities = {**END_TO_END_DEFAULTS, **end_to_end}["modalities"]
    loader = ItemLoader(dataset, modalities, **end_to_end_options(end_to_end))
    return ItemContent.from_loader(loader)


def content_encoders(run_config: dict, model) -> tuple[dict, dict]:
    """({modality: encoder}, {modality: decoding options}) that turn raw content into
    the features `model` was trained on: the extractors named in the features'
    metadata (cached mode, checked against the recorded weight checksums) or the
    model's own encoders (end-to-end). Empty when the model has no content."""
    from mmrec_tf.encoders.extract import build_extractor

    modalities = model.modalities
    if not modalities:
        return {}, {}
    if run_config.get("end_to_end") is not None:
        return model.content_encoders(), end_to_end_options(run_config["end_to_end"])
    encoders, options = {}, {}
    for modality in modalities:
        cache = FeatureCache(run_config["features"])
        metadata, metadata_path = cache.metadata(modality), cache.metadata_path(modality)
        extractor = build_extractor(metadata["spec"], modality)
        if extractor.weights_sha256() != metadata["weights_sha256"]:
            raise ValueError(
                f"the {metadata['spec']!r} encoder's weights differ from those that extracted "
                f"{metadata_path}: its features cannot be reproduced from raw content"
            )
        encoders[modality] = extractor.encoder
        options.update(extractor.options)
    return encoders, options


def build_model(config: dict, dataset, features, present, content=None):
    """The untrained model a (checked) configuration describes, for `dataset`."""
    from mmrec_tf import models

    options = dict(config["options"])
    if content is not None:
        encoders = end_to_end_encoders(config["end_to_end"], content.modalities)
        return models.MultimodalRecommender.end_to_end(dataset, encoders, content, **options)
    return models.RECOMMENDERS[config["model"]].from_dataset(dataset, features, present, **options)


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

    `strategy` (one of `mmrec_tf.training.distribution.STRATEGIES`) replaces
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
    from mmrec_tf.data import bpr_num_batches, bpr_triples, load_dataset, poisson_triples
    from mmrec_tf.evaluation import RankingEvaluation
    from mmrec_tf.models import load_recommender

    config = load_config(config_path)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be an integer ≥ 1, found {epochs!r}")
        config["epochs"] = epochs
    if strategy is not None:
        config["strategy"] = strategy
    distribution = make_strategy(config["strategy"])
    writes = is_chief(config["strategy"])
    run = RunDirectory(out)
    paths = {
        "data": str(Path(data).resolve()),
        "features": None if features_dir is None else str(Path(features_dir).resolve()),
    }
    state = {"epochs_done": 0}
    if resume:
        run.check_existing()
        saved = run.config()
        for key, value in paths.items():
            if saved.get(key) != value:
                raise RunError(
                    f"{run.path} was trained with --{key} {saved.get(key) or '(none)'}, "
                    f"not {value or '(none)'}: resume it with the same --data and --features"
                )
        config = resumed_config(saved, config, str(config_path))
        state = run.state()
    elif writes:
        run.check_new()
    if config["end_to_end"] is not None and config["strategy"] == "multi-worker":
        raise ConfigError(
            f"{config_path}: an end_to_end configuration cannot train under the multi-worker "
            "strategy (each worker would refresh the items' content table from its own batch, "
            "and the copies would drift apart): extract features with frozen encoders, or train "
            "end to end on one machine"
        )
    if config["privacy"] is not None and config["strategy"] != "none":
        raise ConfigError(
            f'{config_path}: "privacy" trains on one device: run it with --strategy none'
        )
    if config["end_to_end"] is not None and features_dir is not None:
        raise ConfigError(
            f"{config_path}: an end_to_end configuration encodes raw files: do not pass --features"
        )
    if resume:
        dataset = run.dataset(data)  # numbered as the model learned it, or refused
    else:
        # Numbered and ordered as every later reader of the run will see it.
        loaded = load_dataset(data)
        dataset = DataIdentity.of(loaded).align(loaded, str(data))
    for split in ("train", "valid"):
        dataset.interactions(split)  # no split column: an error naming the file
    features, present = (
        ({}, {})
        if features_dir is None
        else load_features(dataset, features_dir, config["modalities"])
    )
    end_to_end = config["end_to_end"]
    content = None if end_to_end is None else load_item_content(dataset, end_to_end)
    if resume and writes and run.identity() is None:
        # A run from before ids.json, read as its dataset is now: recorded from now on.
        run.write_identity(DataIdentity.of(dataset))
    if _is_complete(state, config):
        return run.path
    keras.utils.set_random_seed(config["seed"])
    private = None
    if config["privacy"] is not None:
        private = _PrivateTraining(config, dataset, run if resume else None, config_path)
    checkpoint = run.last_checkpoint() if resume else None
    with distribution.scope():
        if checkpoint is not None:
            # Model and optimizer state as the last finished epoch left them.
            model = load_recommender(checkpoint)
            optimizer = model.optimizer
        else:
            try:
                model = build_model(config, dataset, features, present, content)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{config_path}: {e}") from None
            optimizer = OPTIMIZER_CLASSES[config["optimizer"]](config["learning_rate"])
        try:
            model.compile(
                optimizer=optimizer,
                jit_compile=config["jit_compile"],
                private_gradients=None if private is None else private.gradients,
            )
        except ValueError as e:
            raise ConfigError(f"{config_path}: {e}") from None
    if writes and resume:
        run.truncate_log(state["epochs_done"])
        run.remove_staging_leftovers()
    elif writes:
        run.begin({**config, **paths}, DataIdentity.of(dataset))

    batches = bpr_num_batches(dataset, config["batch_size"])
    epochs = range(state["epochs_done"], config["epochs"])

    def global_batches():
        if private is not None:
            return poisson_triples(dataset, config["batch_size"], epochs=epochs)
        triples = bpr_triples(
            dataset,
            config["batch_size"],
            seed=config["seed"],
            epochs=epochs,
            # e.g. a model that reads histories trains on each positive's history.
            **model.sampler_options(),
        )
        return triples if content is None else content.attach(triples)

    recorder = _RunRecorder(run, state, config, writes, private)
    callbacks = [
        # Writes the logs the recorder reads.
        RankingEvaluation(dataset, content=content, sample_users=config["validation_users"]),
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


class _PrivateTraining:
    """A run's DP-SGD: its `PrivateGradients` and the report of what it spent.

    The noise multiplier is the configuration's, or the one that spends
    `target_epsilon` by the run's last epoch (`epochs`, or `train`'s
    `epochs=`); a resumed run keeps the one its privacy.json recorded, and
    may not go on past `target_epsilon`.
    """

    def __init__(self, config: dict, dataset, resumed_run, config_path):
        from mmrec_tf.data import bpr_num_batches, poisson_batch_capacity
        from mmrec_tf.models.private_gradients import PrivateGradients
        from mmrec_tf.training import privacy

        settings = config["privacy"]
        count = len(dataset.interactions("train")[0])
        if settings["target_delta"] >= 1 / count:
            raise ConfigError(
                f'{config_path}: "privacy.target_delta" must be below 1 / {count} (the training '
                f"interactions), found {settings['target_delta']}: at δ ≥ 1/N, publishing one "
                "random interaction whole would be private"
            )
        self.batch_size = config["batch_size"]
        self.sampling_rate = min(1.0, self.batch_size / count)
        self.steps_per_epoch = bpr_num_batches(dataset, self.batch_size)  # poisson_triples' too
        self.overflow = poisson_batch_capacity(count, self.sampling_rate)[1]
        recorded = None if resumed_run is None else resumed_run.privacy()
        planned_steps = config["epochs"] * self.steps_per_epoch
        target = settings.get("target_epsilon")
        if recorded is not None:
            noise = recorded["noise_multiplier"]
            planned = privacy.epsilon_spent(
                noise, self.sampling_rate, planned_steps, settings["target_delta"]
            )
            if target is not None and planned > target * 1.001:
                raise ConfigError(
                    f"{config_path}: going on to epoch {config['epochs']} would spend ε = "
                    f"{planned:.3g}, more than privacy.target_epsilon {target:g} (the run's noise "
                    f"multiplier {noise:.4g} was chosen for fewer epochs): this run cannot go "
                    "further; start a new run for more epochs at the same ε (more noise per step)"
                )
        elif "noise_multiplier" in settings:
            noise = settings["noise_multiplier"]
        else:
            try:
                noise = privacy.noise_for_epsilon(
                    target, self.sampling_rate, planned_steps, settings["target_delta"]
                )
            except ValueError as e:
                raise ConfigError(f'{config_path}: "privacy.target_epsilon": {e}') from None
        self.settings = {**settings, "noise_multiplier": noise}
        self.gradients = PrivateGradients(settings["l2_clip"], noise, self.batch_size)

    def report(self, epochs_done: int) -> dict:
        from mmrec_tf.training import privacy

        return privacy.privacy_report(
            noise_multiplier=self.settings["noise_multiplier"],
            l2_clip=self.settings["l2_clip"],
            sampling_rate=self.sampling_rate,
            steps=epochs_done * self.steps_per_epoch,
            target_delta=self.settings["target_delta"],
            overflow_probability=self.overflow,
        )


def _is_complete(state: dict, config: dict) -> bool:
    stopped_early = state.get("stop_reason") == "early" and state["wait"] >= config["patience"]
    return stopped_early or state["epochs_done"] >= config["epochs"]


class _RunRecorder(keras.callbacks.Callback):
    """Model selection, early stopping and the run's files, at the end of each epoch
    (the files only where `writes`: the chief of a distributed run).

    Keeps `model.keras` at the epoch with the best validation Recall@20,
    stops after `patience` epochs without improvement, and writes the
    checkpoint, the log row and last the state, so that a resumed run
    carries on with the same best value and patience.
    """

    def __init__(
        self, run: RunDirectory, state: dict, config: dict, writes: bool = True, private=None
    ):
        super().__init__()
        self.run = run
        self.state = dict(state)
        self.config = config
        self.writes = writes
        self.private = private

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        value = float(logs[MONITOR])
        best = self.state.get("best_value")
        if best is None or (not math.isnan(value) and value > best):
            if self.writes:
                self.run.save_best(self.model)
            self.state.update(best_epoch=epoch + 1, best_value=value, wait=0)
        else:
            self.state["wait"] = self.state.get("wait", 0) + 1
        stop = self.state["wait"] >= self.config["patience"]
        done = stop or epoch + 1 >= self.config["epochs"]
        self.state.update(
            epochs_done=epoch + 1,
            monitor=MONITOR,
            finished=done,
            stop_reason="early" if stop else ("epochs" if done else None),
        )
        if self.writes:
            # Epochs count from 1 here, as on the console and in state.json.
            self.run.append_log({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
            checkpoint = self.run.save_checkpoint(self.model, epoch + 1)
            self.state["checkpoint"] = checkpoint
            if self.private is not None:
                self.run.write_privacy(self.private.report(epoch + 1))
            self.run.write_state(self.state)
            self.run.remove_checkpoints_except(checkpoint)
        if stop:
            self.model.stop_training = True


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
