"""Training from configuration files, and the run directories it writes."""

from mmrec_tf.training.config import (
    DEFAULTS,
    DEMO_CONFIG,
    END_TO_END_DEFAULTS,
    ConfigError,
    check_config,
    load_config,
)
from mmrec_tf.training.inputs import (
    content_encoders,
    end_to_end_options,
    load_features,
    load_item_content,
)
from mmrec_tf.training.run_directory import RunDirectory, RunError
from mmrec_tf.training.train import build_model, evaluate, train
from mmrec_tf.training.update import update

__all__ = [
    "DEFAULTS",
    "DEMO_CONFIG",
    "END_TO_END_DEFAULTS",
    "ConfigError",
    "RunDirectory",
    "RunError",
    "build_model",
    "check_config",
    "content_encoders",
    "end_to_end_options",
    "evaluate",
    "load_config",
    "load_features",
    "load_item_content",
    "train",
    "update",
]
