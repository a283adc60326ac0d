"""Running `mmrec-tf` as users do: each command a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
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
