"""The run directory `mmrec-tf train` writes: the one module that knows its files.

    RUN/config.json        the configuration, with the data and features paths
    RUN/ids.json           the user and item ids the model learned, in its index
                           order, with checksums (`mmrec_tf.data.identity`)
    RUN/training_pairs.npy int32 [n, 2]: the (user, item) pairs of the training split
                           it learned from, sorted, in its numbering (what
                           `mmrec-tf update` tells new interactions from)
    RUN/state.json         progress: epochs done, best epoch and value, why it stopped
    RUN/model.keras        the model of the best validation epoch
    RUN/checkpoints/       the last epoch's model and optimizer, for --resume
    RUN/log.csv            one row per epoch: loss and validation metrics
    RUN/privacy.json       for a run with a "privacy" configuration: ε and δ spent
                           by the epochs done, and the settings that spent them
    RUN/tensorboard/       the same for TensorBoard
    RUN/eval_<split>.json  what `mmrec-tf evaluate` measured, with its protocol;
                           other protocols than history train, mask train+valid in
                           eval_<split>_history-<h>.json, …_mask-<m>.json

Every file is written beside its final name and renamed into place, and
`state.json` is written last at the end of each epoch: a run killed at any
moment resumes from its last finished epoch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from mmrec_tf.data.identity import DataIdentity
from mmrec_tf.data.writing import current_umask, save_array_atomically, write_atomically

CONFIG = "config.json"
IDENTITY = "ids.json"
STATE = "state.json"
BEST_MODEL = "model.keras"
LOG = "log.csv"
PRIVACY = "privacy.json"
CHECKPOINTS = "checkpoints"
TRAINING_PAIRS = "training_pairs.npy"


class RunError(ValueError):
    """A directory that is not the run a command expects; the message names it."""


class RunDirectory:
    """A training run's directory (see the module docstring for its files)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # What is there.

    def is_run(self) -> bool:
        return (self.path / CONFIG).is_file() and (self.path / STATE).is_file()

    def check_new(self) -> None:
        """Refuses a path that holds anything: a run (resume it) or other files."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise RunError(f"{self.path} is a file, not a run directory; choose another --out")
        if not any(self.path.iterdir()):
            return
        if self.is_run():
            done = self.state()["epochs_done"]
            if self.state().get("finished"):
                raise RunError(
                    f"{self.path} already holds a finished run ({done} epoch(s)); choose "
                    "another --out, or raise epochs or patience and pass --resume to go on"
                )
            raise RunError(
                f"{self.path} already holds an unfinished run ({done} epoch(s) done); pass "
                "--resume to continue it or choose another --out"
            )
        raise RunError(
            f"{self.path} is not empty and holds no run; choose another --out "
            "(a run is written to a new or empty directory)"
        )

    def check_existing(self) -> None:
        """Refuses a path that is not a run directory, naming what is missing."""
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run directory")
        if not self.is_run():
            raise RunError(
                f"{self.path} is not a run directory (no {CONFIG} and {STATE}); "
                "runs are written by `mmrec-tf train`"
            )

    def config(self) -> dict:
        return _read_json(self.path / CONFIG)

    def state(self) -> dict:
        return _read_json(self.path / STATE)

    @property
    def best_model_path(self) -> Path:
        return self.path / BEST_MODEL

    def privacy(self) -> dict | None:
        """privacy.json (`mmrec_tf.training.privacy.privacy_report`), or None."""
        path = self.path / PRIVACY
        return _read_json(path) if path.is_file() else None

    def identity(self) -> DataIdentity | None:
        """The ids the model learned (ids.json), or None for a run from before
        mmrec-tf recorded them."""
        path = self.path / IDENTITY
        if not path.is_file():
            return None
        return DataIdentity.from_json(path.read_text(encoding="utf-8"), str(path))

    def dataset(self, data: str | Path | None = None):
        """The run's dataset (`data`, by default the one config.json names), numbered
        as the model learned it (`DataIdentity.align`): the same ids in rows of
        another order read the same; other ids are refused, naming the first one.

        A run from before ids.json takes its numbering from the dataset as it is
        now, and says so on standard error.
        """
        from mmrec_tf.data import load_dataset

        dataset = load_dataset(self.config()["data"] if data is None else data)
        identity = self.identity()
        if identity is None:
            print(
                f"note: {self.path} has no {IDENTITY} (trained before runs recorded their ids): "
                f"its users and items are numbered as {dataset.root} is now; if that dataset "
                "changed since training, the results are wrong: train a new run",
                file=sys.stderr,
            )
            identity = DataIdentity.of(dataset)
        return identity.align(dataset, str(self.path / IDENTITY))

    def training_pairs(self):
        """int32 [n, 2]: the (user, item) pairs the model trained on, sorted; for a run
        from before training_pairs.npy, those of its dataset as it is now (`dataset`)."""
        import numpy as np

        path = self.path / TRAINING_PAIRS
        if path.is_file():
            return np.load(path)
        users, items = self.dataset().interaction_pairs(["train"])
        return np.stack([users, items], axis=1).astype(np.int32)

    def last_checkpoint(self) -> Path | None:
        name = self.state().get("checkpoint")
        return None if name is None else self.path / name

    def evaluation_path(
        self, split: str, history: str = "train", mask: str = "train+valid"
    ) -> Path:
        """Where an evaluation of `split` under a protocol goes: one file per protocol,
        so that measuring another one never replaces a result."""
        suffix = "" if history == "train" else f"_history-{history}"
        suffix += "" if mask == "train+valid" else f"_mask-{mask}"
        return self.path / f"eval_{split}{suffix}.json"

    @property
    def log_path(self) -> Path:
        return self.path / LOG

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    # Writing.

    def begin(self, config: dict, dataset) -> None:
        """Creates the run for `dataset` (numbered as the model learns it): its
        configuration, the ids and training pairs it learns, and a state with no
        epoch done."""
        import numpy as np

        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path / CONFIG, json.dumps(config, indent=1))
        self.write_identity(DataIdentity.of(dataset))
        pairs = np.stack(dataset.interaction_pairs(["train"]), axis=1).astype(np.int32)
        save_array_atomically(self.path / TRAINING_PAIRS, pairs)
        self.write_state({"epochs_done": 0, "finished": False})

    def write_identity(self, identity: DataIdentity) -> None:
        write_atomically(self.path / IDENTITY, identity.to_json())

    def write_state(self, state: dict) -> None:
        write_atomically(self.path / STATE, json.dumps(state, indent=1))

    def write_privacy(self, report: dict) -> None:
        write_atomically(self.path / PRIVACY, json.dumps(report, indent=1))

    def save_best(self, model) -> None:
        _save_model_atomically(model, self.best_model_path)

    def save_checkpoint(self, model, epochs_done: int) -> str:
        """Saves the model with its optimizer after `epochs_done` epochs; returns its
        name in the run. The state that names it is written after, so a checkpoint a
        state does not name yet is never read (the one before it is removed later)."""
        name = f"{CHECKPOINTS}/epoch_{epochs_done:05d}.keras"
        (self.path / CHECKPOINTS).mkdir(exist_ok=True)
        _save_model_atomically(model, self.path / name)
        return name

    def remove_checkpoints_except(self, keep: str) -> None:
        for path in (self.path / CHECKPOINTS).glob("*.keras"):
            if f"{CHECKPOINTS}/{path.name}" != keep:
                path.unlink()

    def remove_staging_leftovers(self) -> None:
        """Removes what saves that a killed run never finished left behind: the
        staging files of `_save_model_atomically` (`.model.<random>.keras`,
        `checkpoints/.epoch_<n>.<random>.keras`). Only a resumed run calls it, before
        it saves anything: no save of this run is under way."""
        stem = Path(BEST_MODEL).stem
        for pattern in (f".{stem}.*.keras", f"{CHECKPOINTS}/.epoch_*.keras"):
            for path in self.path.glob(pattern):
                path.unlink()

    def append_log(self, row: dict) -> None:
        """Adds an epoch's row to log.csv (the header comes from the first row)."""
        path = self.log_path
        new = not path.is_file() or path.stat().st_size == 0
        with open(path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def truncate_log(self, epochs: int) -> None:
        """Keeps the first `epochs` rows of log.csv: rows of an epoch a killed run did
        not finish go, since the resumed run writes them again."""
        path = self.log_path
        if not path.is_file():
            return
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows[: 1 + epochs])
        write_atomically(path, out.getvalue())

    def write_evaluation(self, protocol: dict, results: dict) -> Path:
        """Writes `{"protocol": protocol, **results}`; `protocol` has `split`, `history`
        and `mask`."""
        path = self.evaluation_path(protocol["split"], protocol["history"], protocol["mask"])
        write_atomically(path, json.dumps({"protocol": protocol, **results}, indent=1))
        return path

    def remove(self) -> None:
        """Deletes a run that never finished an epoch (nothing in it is worth keeping)."""
        shutil.rmtree(self.path, ignore_errors=True)


def _save_model_atomically(model, path: Path) -> None:
    handle, staging = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(handle)
    # mkstemp makes the file private (0600); a saved model gets the usual permissions.
    os.chmod(staging, 0o666 & ~current_umask())
    try:
        model.save(staging)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is damaged: {e}") from None
