"""Training configurations: their keys, types and defaults, resolved once before anything runs.

A configuration is a JSON object. Every key is optional (`DEFAULTS`); an
unknown key, a value of the wrong type or an option the model does not take
is a `ConfigError` naming the file, the key, what was expected and what was
found, so a typo never silently falls back to a default.

`mmrec_tf.training.run_config.resolve_config` turns one, with the command
line's overrides, into the configuration a run trains with.
"""

from __future__ import annotations

import difflib
import inspect
import json
from pathlib import Path

from mmrec_tf.names import MODALITIES, OPTIMIZERS, STRATEGIES

DEFAULTS = {
    "model": "MultimodalRecommender",
    "options": {},
    "modalities": None,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 2048,
    "epochs": 300,
    "patience": 20,
    "seed": 0,
    "jit_compile": True,
    "end_to_end": None,
    # Validation users ranked after each epoch: all (null), or a fixed sample of
    # this many for catalogues too large to rank for everyone every epoch.
    "validation_users": None,
    # How training is spread over devices and machines (mmrec_tf.training.distribution).
    "strategy": "none",
    # Differentially private training (DP-SGD): null, or an object of PRIVACY_KEYS.
    "privacy": None,
}
# The "privacy" object's keys (mmrec_tf.training.privacy): exactly one of
# noise_multiplier and target_epsilon, and both of the others.
PRIVACY_KEYS = {
    "l2_clip": "C, the bound on each training example's gradient norm",
    "noise_multiplier": "σ, the noise's standard deviation over C",
    "target_epsilon": "the ε to spend by the last epoch (σ is chosen for it)",
    "target_delta": "δ, below 1 / the number of training interactions",
}
# configs/demo.json holds the same (a test keeps them equal).
DEMO_CONFIG = {
    "model": "MultimodalRecommender",
    "options": {"embedding_dim": 32, "item_graph_k": 5},
    "learning_rate": 0.005,
    "batch_size": 256,
    "epochs": 100,
    "patience": 10,
}
# The `end_to_end` object (configs/demo-end-to-end.json): the builtin encoders
# inside the model, trained on the dataset's raw files.
END_TO_END_DEFAULTS = {
    "modalities": None,
    "encoders": {},
    "frozen": [],
    "image_size": [64, 64],
    "video_frames": 8,
    "video_size": [32, 32],
    "text_length": 64,
}

# Constructor arguments that `build_model` fills from the data, never from a file.
_SET_FROM_DATA = {
    "num_users",
    "num_items",
    "num_edges",
    "feature_dim",
    "feature_dims",
    "num_graph_edges",
    "num_item_graph_edges",
    "encoders",
    "features",
    "present",
    "split",
}
# Options that are sizes (or a divisor): 0 would build a model that cannot work, so
# they must be ≥ 1 (> 0). The models' other numbers may be 0 (no graph layers, no
# item graph, no regularisation).
_POSITIVE_OPTIONS = (
    "embedding_dim",
    "num_heads",
    "history_length",
    "history_heads",
    "history_horizon",
    "temperature",
)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and key."""


def load_config(path: str | Path) -> dict:
    """The configuration in `path` with defaults filled in, checked key by key."""
    return check_config(read_config_file(path), source=str(path))


def read_config_file(path: str | Path) -> dict:
    """The JSON object in `path`, unchecked; a `ConfigError` naming the file if it
    cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the configuration: {e}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    return raw


def check_config(raw, source: str = "configuration") -> dict:
    """`raw` (a parsed JSON object) checked and completed with `DEFAULTS`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a JSON object, found {_describe(raw)}")
    from mmrec_tf.models import RECOMMENDERS

    model = raw.get("model", DEFAULTS["model"])
    for key in raw:
        # A model option written beside "options" rather than inside it.
        if key not in DEFAULTS and model in RECOMMENDERS and key in model_options(model):
            raise ConfigError(
                f'{source}: "{key}" is not a configuration key; it is an option of {model}: '
                f'write it inside "options" ("options": {{"{key}": ...}})'
            )
    _reject_unknown(raw, DEFAULTS, source, "")
    config = {**DEFAULTS, **raw}
    _expect(config, "model", source, "", str, "a model name")
    if config["model"] not in RECOMMENDERS:
        raise ConfigError(
            f'{source}: "model" must be one of {", ".join(RECOMMENDERS)}, found {config["model"]!r}'
        )
    _expect(config, "learning_rate", source, "", float, "a number > 0", positive=True)
    for key in ("batch_size", "epochs", "patience"):
        _expect(config, key, source, "", int, "an integer ≥ 1", positive=True)
    _expect(config, "seed", source, "", int, "an integer")
    _expect(config, "jit_compile", source, "", bool, "true or false")
    if config["validation_users"] is not None:
        expected = "an integer ≥ 1 or null"
        _expect(config, "validation_users", source, "", int, expected, positive=True)
    if config["optimizer"] not in OPTIMIZERS:
        raise ConfigError(
            f'{source}: "optimizer" must be one of {", ".join(OPTIMIZERS)}, '
            f"found {_describe(config['optimizer'])}"
        )
    if config["strategy"] not in STRATEGIES:
        raise ConfigError(
            f'{source}: "strategy" must be one of {", ".join(STRATEGIES)}, '
            f"found {_describe(config['strategy'])}"
        )
    # [] is a model of IDs alone (no content), the ablation of every content model.
    _expect_modalities(config, "modalities", source, "", allow_empty=True)
    _expect(config, "options", source, "", dict, "a JSON object")
    config["options"] = _check_options(config["model"], config["options"], source)
    if config["end_to_end"] is not None:
        if config["model"] != "MultimodalRecommender":
            raise ConfigError(f'{source}: "end_to_end" trains a MultimodalRecommender only')
        _expect(config, "end_to_end", source, "", dict, "a JSON object or null")
        config["end_to_end"] = _check_end_to_end(config["end_to_end"], source)
    if config["privacy"] is not None:
        config["privacy"] = _check_privacy(config, source)
    return config


def _check_privacy(config: dict, source: str) -> dict:
    prefix = "privacy."
    privacy = config["privacy"]
    _expect(config, "privacy", source, "", dict, "a JSON object or null")
    _reject_unknown(privacy, PRIVACY_KEYS, source, prefix, what="a key of privacy")
    for key in privacy:
        _expect(privacy, key, source, prefix, float, "a number > 0", positive=True)
    for key in ("l2_clip", "target_delta"):
        if key not in privacy:
            raise ConfigError(f'{source}: "{prefix}{key}" is missing: {PRIVACY_KEYS[key]}')
    if ("noise_multiplier" in privacy) == ("target_epsilon" in privacy):
        raise ConfigError(
            f'{source}: "privacy" needs exactly one of "noise_multiplier" and "target_epsilon"'
        )
    if privacy["target_delta"] >= 1:
        raise ConfigError(f'{source}: "{prefix}target_delta" must be < 1')
    for key, allowed in (("strategy", "none"), ("end_to_end", None)):
        if config[key] != allowed:
            raise ConfigError(
                f'{source}: "privacy" trains on one device from cached features: '
                f'"{key}" must be {json.dumps(allowed)}'
            )
    return dict(privacy)


def model_options(model: str) -> dict[str, object]:
    """{option: default} that a configuration's `options` may set for `model`."""
    from mmrec_tf import models

    model_class = getattr(models, model)
    # Every constructor and from_dataset up the class tree: a subclass passes the
    # rest on through **kwargs.
    recommenders = [c for c in model_class.__mro__ if issubclass(c, models.Recommender)]
    functions = [c.__init__ for c in recommenders]
    # A model's user side (HistoryUsers) takes options of its own, passed through.
    functions += [c.USER_SIDE.__init__ for c in recommenders if "USER_SIDE" in c.__dict__]
    functions += [
        c.__dict__["from_dataset"].__func__ for c in recommenders if "from_dataset" in c.__dict__
    ]
    options = {}
    for function in functions:
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.default is inspect.Parameter.empty or name in _SET_FROM_DATA:
                continue
            options.setdefault(name, parameter.default)
    return options


def _check_options(model: str, options: dict, source: str) -> dict:
    allowed = model_options(model)
    _reject_unknown(options, allowed, source, "options.", what=f"an option of {model}")
    for name, default in allowed.items():
        if name not in options or default is None:
            continue
        if isinstance(default, bool):
            _expect(options, name, source, "options.", bool, "true or false")
        elif isinstance(default, int) and name in _POSITIVE_OPTIONS:
            _expect(options, name, source, "options.", int, "an integer ≥ 1", positive=True)
        elif isinstance(default, int):
            _expect(options, name, source, "options.", int, "an integer ≥ 0", non_negative=True)
        elif isinstance(default, float) and name in _POSITIVE_OPTIONS:
            _expect(options, name, source, "options.", float, "a number > 0", positive=True)
        elif isinstance(default, float):
            _expect(options, name, source, "options.", float, "a number ≥ 0", non_negative=True)
        elif isinstance(default, str):
            _expect(options, name, source, "options.", str, "a string")
    # Attention splits the vector among its heads.
    width = options.get("embedding_dim", allowed.get("embedding_dim"))
    for heads in ("num_heads", "history_heads"):
        count = options.get(heads, allowed.get(heads))
        if width is not None and count is not None and width % count:
            raise ConfigError(
                f'{source}: "options.embedding_dim" ({width}) must be a multiple of '
                f'"options.{heads}" ({count}): each attention head reads an equal share'
            )
    from mmrec_tf import models

    for name, choices in getattr(models, model).OPTION_CHOICES.items():
        if name in options and options[name] not in choices:
            raise ConfigError(
                f'{source}: "options.{name}" must be one of {", ".join(choices)}, '
                f"found {_describe(options[name])}"
            )
    return dict(options)


def _check_end_to_end(end_to_end: dict, source: str) -> dict:
    prefix = "end_to_end."
    _reject_unknown(end_to_end, END_TO_END_DEFAULTS, source, prefix)
    checked = {**END_TO_END_DEFAULTS, **end_to_end}
    _expect_modalities(checked, "modalities", source, prefix)
    _check_encoder_names(checked, source, prefix)
    frozen = checked["frozen"]
    modalities = checked["modalities"] or MODALITIES
    if not isinstance(frozen, list) or not all(m in modalities for m in frozen):
        raise ConfigError(
            f'{source}: "{prefix}frozen" must be a list of modalities from '
            f"{', '.join(modalities)}, found {_describe(frozen)}"
        )
    for key in ("video_frames", "text_length"):
        _expect(checked, key, source, prefix, int, "an integer ≥ 1", positive=True)
    for key in ("image_size", "video_size"):
        size = checked[key]
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
        ):
            raise ConfigError(
                f'{source}: "{prefix}{key}" must be [height, width], two integers ≥ 1, '
                f"found {_describe(size)}"
            )
    return checked


def _check_encoder_names(end_to_end: dict, source: str, prefix: str) -> None:
    from mmrec_tf.encoder_specs import end_to_end_names

    _expect(end_to_end, "encoders", source, prefix, dict, "an object of modality: encoder name")
    modalities = end_to_end["modalities"] or MODALITIES
    for modality, name in end_to_end["encoders"].items():
        key = f"{prefix}encoders.{modality}"
        if modality not in modalities:
            raise ConfigError(
                f'{source}: "{key}": {modality!r} is not one of the modalities '
                f"{', '.join(modalities)}"
            )
        choices = end_to_end_names(modality)
        if name not in choices:
            raise ConfigError(
                f'{source}: "{key}" must be one of {", ".join(choices)}, found {_describe(name)}'
            )


def _reject_unknown(values: dict, known, source: str, prefix: str, what="a configuration key"):
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f' (did you mean "{prefix}{close[0]}"?)' if close else ""
            raise ConfigError(
                f'{source}: "{prefix}{key}" is not {what}{hint}; known: {", ".join(known)}'
            )


def _expect(values, key, source, prefix, kind, expected, positive=False, non_negative=False):
    value = values[key]
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if ok and positive:
        ok = value > 0
    if ok and non_negative:
        ok = value >= 0
    if not ok:
        raise ConfigError(f'{source}: "{prefix}{key}" must be {expected}, found {_describe(value)}')


def _expect_modalities(
    values: dict, key: str, source: str, prefix: str, allow_empty: bool = False
) -> None:
    value = values[key]
    if value is None or (allow_empty and value == []):
        return
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(m, str) and m in MODALITIES for m in value)
        or len(set(value)) != len(value)
    ):
        raise ConfigError(
            f'{source}: "{prefix}{key}" must be null or a list of distinct modalities from '
            f"{', '.join(MODALITIES)}, found {_describe(value)}"
        )


def _describe(value) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    return f"{json.dumps(value)} ({kind})"
