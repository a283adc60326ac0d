"""A run's configuration, resolved once: `resolve_config` and the frozen `RunConfig` it returns.

The one place a run's configuration is decided: a configuration file's
object, checked key by key (`mmrec_tf.training.config.check_config`, which
completes it with the defaults), the command line's overrides, a resumed
run's saved configuration, then every rule between keys. What it returns is
read-only and is what training reads and `RUN/config.json` records.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path

from mmrec_tf.names import STRATEGIES
from mmrec_tf.training.config import DEFAULTS, ConfigError, check_config

# Keys a resumed run may change: how long it goes on, not what it trains.
RESUMABLE_CHANGES = ("epochs", "patience", "strategy")
# What RUN/config.json holds beside the configuration: the run's dataset and
# features (absolute paths), the encoders that made those features ({modality:
# {"spec", "weights_sha256"}}), and for a run `update` wrote, what it grew from.
RUN_KEYS = ("data", "features", "feature_encoders", "update")


class RunConfig(Mapping):
    """A resolved run configuration: read-only, nested objects too (lists become
    tuples); `to_json_object()` gives what `RUN/config.json` records."""

    def __init__(self, values: dict):
        self._values = _frozen(dict(values))

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def to_json_object(self) -> dict:
        return _thawed(self._values)


def resolve_config(
    raw: dict,
    source: str,
    *,
    data,
    features=None,
    epochs: int | None = None,
    strategy: str | None = None,
    resumed=None,
    update: dict | None = None,
) -> RunConfig:
    """The configuration a run trains with, decided once.

    Args:
        raw: a configuration file's object (`read_config_file`), or a run's saved
            configuration without its `RUN_KEYS` (`configuration_of`).
        source: what `raw` came from, named in every error.
        data, features: the dataset and features directories (recorded absolute).
        epochs, strategy: the command line's replacements of those keys.
        resumed: the `RunDirectory` of a resumed run: the result is its config.json
            with the keys of `RESUMABLE_CHANGES` from `raw` and the overrides; its
            data and features must be the same (else `RunError`).
        update: for a run `mmrec_tf.training.update` writes, what it grew from.

    Raises:
        ConfigError: the first problem, naming `source` and the key.
    """
    config = check_config(raw, source)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be an integer ≥ 1, found {epochs!r}")
        config["epochs"] = epochs
    if strategy is not None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        config["strategy"] = strategy
    paths = {
        "data": str(Path(data).resolve()),
        "features": None if features is None else str(Path(features).resolve()),
    }
    if resumed is not None:
        from mmrec_tf.training.run_directory import RunError

        saved = resumed.config()
        for key, value in paths.items():
            if saved.get(key) != value:
                raise RunError(
                    f"{resumed.path} was trained with --{key} {saved.get(key) or '(none)'}, "
                    f"not {value or '(none)'}: resume it with the same --data and --features"
                )
        config = resumed_config(saved, config, source)
        update = saved.get("update")
    encoders = None if paths["features"] is None else feature_encoders(paths["features"])
    config = {**config, **paths, "feature_encoders": encoders, "update": update}
    _check_combinations(config, source)
    return RunConfig(config)


def feature_encoders(features: str) -> dict:
    """{modality: {"spec", "weights_sha256"}} of the features folder's modalities, as
    their metadata records them. A folder, file or key that is missing or damaged is
    left to the step that reads the features, which names it."""
    from mmrec_tf.data.feature_cache import FeatureCache

    cache = FeatureCache(features)
    made_by = {}
    for modality in cache.modalities() if cache.folder.is_dir() else ():
        try:
            metadata = cache.metadata(modality)
        except (OSError, ValueError):
            continue
        made_by[modality] = {key: metadata.get(key) for key in ("spec", "weights_sha256")}
    return made_by


def configuration_of(run_config: dict) -> dict:
    """A run's config.json without `RUN_KEYS`: the configuration it was trained with."""
    return {key: value for key, value in run_config.items() if key not in RUN_KEYS}


def _check_combinations(config: dict, source: str) -> None:
    """Every rule between keys, once their final values are known."""
    if config["end_to_end"] is not None and config["strategy"] == "multi-worker":
        raise ConfigError(
            f"{source}: an end_to_end configuration cannot train under the multi-worker "
            "strategy (each worker would refresh the items' content table from its own batch, "
            "and the copies would drift apart): extract features with frozen encoders, or train "
            "end to end on one machine"
        )
    if config["privacy"] is not None and config["strategy"] != "none":
        raise ConfigError(f'{source}: "privacy" trains on one device: run it with --strategy none')
    if config["end_to_end"] is not None and config["features"] is not None:
        raise ConfigError(
            f"{source}: an end_to_end configuration encodes raw files: do not pass --features"
        )


def resumed_config(saved: dict, new: dict, source: str) -> dict:
    """The configuration a resumed run goes on with: the saved one, with the keys
    of `RESUMABLE_CHANGES` taken from `new`; any other difference is an error."""
    changed = sorted(
        key for key in DEFAULTS if key not in RESUMABLE_CHANGES and saved.get(key) != new.get(key)
    )
    if changed:
        raise ConfigError(
            f"{source} differs from the run's configuration in {', '.join(changed)}: a resumed "
            f"run may change only {', '.join(RESUMABLE_CHANGES)}; start a new run instead"
        )
    return {**saved, **{key: new[key] for key in RESUMABLE_CHANGES}}


def _frozen(value):
    if isinstance(value, dict):
        return types.MappingProxyType({key: _frozen(v) for key, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value):
    if isinstance(value, Mapping):
        return {key: _thawed(v) for key, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value
