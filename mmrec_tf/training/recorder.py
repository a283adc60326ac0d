"""A run's model selection, early stopping and files, epoch by epoch."""

from __future__ import annotations

import math

import keras

from mmrec_tf.training.run_directory import RunDirectory

MONITOR = "val_recall@20"


def is_complete(state: dict, config) -> bool:
    """Whether a run in `state` has nothing left to train under `config`."""
    stopped_early = state.get("stop_reason") == "early" and state["wait"] >= config["patience"]
    return stopped_early or state["epochs_done"] >= config["epochs"]


class RunRecorder(keras.callbacks.Callback):
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
