"""`update`: a trained run carried onto its grown dataset and trained on what is new.

A deployed recommender sees new interactions every day, new users every hour
and new items every week. `update(RUN, DATA, NEWRUN)` starts from RUN's best
model and its optimizer's state, gives its tables rows for the new users and
items (`mmrec_tf.models.growth`: a new item starts from its content vector, a
new user from the known users' mean, or their history in a model that reads
histories), and trains, with RUN's configuration, on the training
interactions RUN never saw plus a replay sample of those it did
(`replay` × as many, drawn once with the run's seed): the new ones move the
model, the replayed ones keep it from forgetting the rest. Validation,
early stopping and the files are those of any run: NEWRUN resumes,
evaluates, exports and updates again like a run `train` wrote; its
config.json says what it grew from (`"update"`).

The grown dataset keeps everything RUN learned: its users, its items in the
first rows of items.csv in their order (new items are appended), and its
features' first rows (`extract-features --append` adds the new items' rows
with the same encoder).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mmrec_tf.data.feature_cache import FeatureCache
from mmrec_tf.training.config import ConfigError
from mmrec_tf.training.run_config import configuration_of, feature_encoders, resolve_config
from mmrec_tf.training.run_directory import IDENTITY, RunDirectory, RunError
from mmrec_tf.training.train import build_model, fit_run

# How many old training interactions an update replays, per new one.
DEFAULT_REPLAY = 1.0


def update(
    run,
    data,
    out,
    features_dir=None,
    *,
    epochs: int | None = None,
    replay: float = DEFAULT_REPLAY,
    resume: bool = False,
    verbose: int = 1,
) -> Path:
    """Writes the run directory `out`: `run` updated on the grown dataset `data`.

    Args:
        run: a run directory with a best model (`train` or `update` wrote it).
        data: the grown dataset (see the module docstring).
        out: a new or empty directory; with `resume`, the update to go on with.
        features_dir: the features of every item of `data`, extracted as `run`'s
            were; needed when the run's model reads features.
        epochs: replaces the run's configuration's `"epochs"` for the update.
        replay: old training interactions replayed per new one (≥ 0).
        resume: go on with the interrupted update at `out` (the same arguments).

    Everything is checked before `out` is written; each refusal is one
    `ValueError` naming the file, id or argument: `run` not a finished run's
    directory; a private or end-to-end run; a dataset that lost a known id or
    moved a known item's row; features that lack the new items or come from
    another encoder than the run's; no training interaction the run has not
    seen; `out` holding anything (a finished update included).
    """
    from mmrec_tf.data import load_dataset
    from mmrec_tf.models import load_recommender

    source = RunDirectory(run)
    source.check_existing()
    if not source.best_model_path.is_file():
        raise RunError(f"{source.path} has no {source.best_model_path.name}: no epoch finished")
    if (
        isinstance(replay, bool)
        or not isinstance(replay, int | float)
        or not 0 <= replay < math.inf
    ):
        raise ValueError(f"replay must be a finite number ≥ 0, found {replay!r}")
    target = RunDirectory(out)
    if target.path.resolve() == source.path.resolve():
        raise RunError(f"{target.path} is the run to update: write the update to a new --out")
    if resume:
        target.check_existing()
        grown_from = target.config().get("update") or {}
        if grown_from.get("from") != str(source.path.resolve()):
            raise RunError(f"{target.path} is not an update of {source.path}: it cannot resume")
        if grown_from["replay"] != replay:
            raise RunError(
                f"{target.path} was updated with --replay {grown_from['replay']:g}, not "
                f"{replay:g}: resume it with the same arguments"
            )
    else:
        target.check_new()
    saved = source.config()
    _check_updatable(source, saved, features_dir)
    config = resolve_config(
        configuration_of(saved),
        str(source.path / "config.json"),
        data=data,
        features=features_dir,
        epochs=epochs,
        resumed=target if resume else None,
        update={"from": str(source.path.resolve()), "replay": replay},
    )
    identity = source.identity()
    if identity is None:
        raise RunError(f"{source.path} has no {IDENTITY} (trained before runs recorded their ids)")
    dataset = identity.grown(load_dataset(data), str(source.path / IDENTITY))
    if features_dir is not None:
        # A run from before runs named their encoders: its features folder, if still there.
        made_by = saved.get("feature_encoders") or feature_encoders(saved["features"])
        for modality in config["modalities"] or FeatureCache(features_dir).modalities():
            _check_features(made_by.get(modality), features_dir, modality, dataset)
    replay, seed = config["update"]["replay"], config["seed"]
    rows = training_rows(source.training_pairs(), dataset, replay, seed)
    trained = load_recommender(source.best_model_path)

    def grown_model(dataset, inputs):
        from mmrec_tf.models.growth import grow_model, grow_optimizer

        model = build_model(config, dataset, inputs)
        grow_model(trained, model)
        optimizer = type(trained.optimizer).from_config(trained.optimizer.get_config())
        optimizer.build(model.trainable_variables)
        grow_optimizer(trained.optimizer, optimizer, trained, model)
        return model, optimizer

    name = str(source.path)
    return fit_run(config, name, target, dataset, grown_model, resume, rows=rows, verbose=verbose)


def training_rows(trained_pairs, dataset, replay: float, seed: int) -> np.ndarray:
    """Positions in `dataset.interactions("train")` an update trains on: every one whose
    (user, item) is not in `trained_pairs` (int [n, 2], in the dataset's numbering),
    and `replay` × as many of the others (all of them at most), drawn under `seed`."""
    users, items = dataset.interactions("train")
    keys = users.astype(np.int64) * dataset.num_items + items
    trained = trained_pairs[:, 0].astype(np.int64) * dataset.num_items + trained_pairs[:, 1]
    known = np.isin(keys, trained)
    new = np.flatnonzero(~known)
    if not len(new):
        raise ValueError(
            f"{dataset.root}: its train split has no interaction the run has not trained on; "
            "nothing to update"
        )
    old = np.flatnonzero(known)
    count = min(len(old), round(replay * len(new)))
    replayed = np.random.default_rng(seed).choice(old, count, replace=False)
    return np.sort(np.concatenate([new, replayed]))


def _check_updatable(source, saved: dict, features_dir) -> None:
    if saved.get("privacy") is not None:
        raise ConfigError(
            f"{source.path} trained with DP-SGD: an update would spend privacy its "
            "privacy.json does not account for; train a new private run"
        )
    if saved.get("end_to_end") is not None:
        raise ConfigError(
            f"{source.path} trained end to end: update runs on extracted features; "
            "train a new run on the grown dataset"
        )
    if saved.get("features") is not None and features_dir is None:
        raise ConfigError(
            f"{source.path} reads features ({saved['features']}): pass --features, the "
            "grown dataset's (extract-features --append adds the new items' rows)"
        )


def _check_features(made_by, features_dir, modality, dataset) -> None:
    """The features at `features_dir` cover every item of `dataset` and come from the
    encoder that extracted the run's (`made_by`: its spec and weights checksum)."""
    cache = FeatureCache(features_dir)
    metadata, where = cache.metadata(modality), cache.metadata_path(modality)
    held = set(metadata["item_ids"])
    missing = next((item for item in dataset.item_ids if item not in held), None)
    if missing is not None:
        raise ValueError(
            f"{where} has no features for item {missing!r} of {dataset.root}: run "
            f"`mmrec-tf extract-features --modality {modality} --append` on the grown dataset"
        )
    for key in ("spec", "weights_sha256"):
        recorded = (made_by or {}).get(key)
        if recorded is not None and recorded != metadata.get(key):
            raise ValueError(
                f"{where} was extracted by another encoder ({key} {metadata.get(key)!r}) "
                f"than the run's {modality} features ({recorded!r})"
            )
