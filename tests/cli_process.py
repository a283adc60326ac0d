"""Running `mmrec-tf` as users do: each command a fresh process."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# What TensorFlow's start-up logging looks like; none of it may reach a user.
TENSORFLOW_NOISE = ("I0000", "E0000", "W0000", "cuInit", "oneDNN", "absl::InitializeLog")


def mmrec_tf_command() -> list[str]:
    """The installed `mmrec-tf` script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "mmrec-tf"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mmrec_tf.cli"]


def run_cli(*args, cwd=None, timeout=600, env=None) -> subprocess.CompletedProcess:
    """Runs `mmrec-tf ARGS` in a new process, as a shell would; never raises on status."""
    environment = {**os.environ, **(env or {})}
    # The shell a user types in has no test settings: TensorFlow's logging is the CLI's job.
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [*mmrec_tf_command(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment,
    )


def train_cli(data, config, out, *extra, features=None, **kwargs):
    """`mmrec-tf train --data DATA [--features F] --config CONFIG --out OUT EXTRA...`."""
    with_features = () if features is None else ("--features", features)
    return run_cli(
        "train", "--data", data, *with_features, "--config", config, "--out", out, *extra, **kwargs
    )


def run_python(code: str, *args, timeout=300) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (`sys.argv[1:]` = `args`)."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_clean_success(result: subprocess.CompletedProcess) -> str:
    """Status 0, nothing of TensorFlow's logging and no traceback; returns stdout."""
    described = f"{result.args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, described
    for noise in (*TENSORFLOW_NOISE, "Traceback"):
        assert noise not in result.stderr + result.stdout, described
    return result.stdout


def epochs_done(run) -> int:
    """Epochs a run directory's state.json says are done (0 before it exists)."""
    try:
        return json.loads((run / "state.json").read_text())["epochs_done"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def stop_after(args, run, epochs, sig):
    """Starts `mmrec-tf ARGS`, sends `sig` once `epochs` epochs are done, waits for it."""
    process = subprocess.Popen(
        [*mmrec_tf_command(), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A pytest-xdist worker ignores SIGINT, and a child inherits that: Ctrl-C as a
        # user's shell delivers it needs the default disposition back.
        preexec_fn=_default_interrupt,
    )
    deadline = time.monotonic() + 300
    while epochs_done(run) < epochs and process.poll() is None:
        assert time.monotonic() < deadline, "training made no progress"
        time.sleep(0.02)
    time.sleep(0.1)  # into the next epoch
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def _default_interrupt():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_log(run) -> list[dict]:
    """A run's log.csv rows, as numbers."""
    with open(run / "log.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def assert_same_run(resumed, whole):
    """A resumed run directory holds what the uninterrupted one does: the same log
    rows, state and best model."""
    import numpy as np
    import pytest

    from mmrec_tf.models import load_recommender

    expected, found = run_log(whole), run_log(resumed)
    assert len(found) == len(expected)
    for row_expected, row_found in zip(expected, found, strict=True):
        for key, value in row_expected.items():
            assert row_found[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    state = json.loads((resumed / "state.json").read_text())
    assert state == json.loads((whole / "state.json").read_text())
    for a, b in zip(
        load_recommender(whole / "model.keras").weights,
        load_recommender(resumed / "model.keras").weights,
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
