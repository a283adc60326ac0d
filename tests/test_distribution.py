"""Training under tf.distribute as users run it: `mmrec-tf train --strategy ...`, one
process per worker, `TF_CONFIG` telling each its place."""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
from cli_process import assert_clean_success, mmrec_tf_command, train_cli

from mmrec_tf.training import ConfigError, check_config
from mmrec_tf.training.distribution import DistributionError, is_chief, make_strategy

pytestmark = pytest.mark.large

CONFIG = {
    "options": {"embedding_dim": 16},
    "learning_rate": 0.01,
    "batch_size": 256,
    "epochs": 3,
    "patience": 10,
}


@pytest.fixture(scope="module")
def workspace(demo_dir, demo_features, tmp_path_factory):
    """The demo, its builtin text and image features (the session's) and CONFIG."""
    root = tmp_path_factory.mktemp("distribution")
    config = root / "config.json"
    config.write_text(json.dumps(CONFIG))
    return {"data": demo_dir, "features": demo_features, "config": config, "root": root}


@pytest.fixture(scope="module")
def one_process(workspace):
    run = workspace["root"] / "one-process"
    assert_clean_success(
        train_cli(workspace["data"], workspace["config"], run, features=workspace["features"])
    )
    return _log(run)


def _log(run):
    with open(run / "log.csv") as f:
        return list(csv.DictReader(f))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _assert_same_training(log, reference):
    """Same epochs; validation Recall@20 and the loss within what summation order moves."""
    assert [row["epoch"] for row in log] == [row["epoch"] for row in reference]
    for row, expected in zip(log, reference, strict=True):
        assert float(row["loss"]) == pytest.approx(float(expected["loss"]), rel=0.02)
        assert float(row["val_recall@20"]) == pytest.approx(
            float(expected["val_recall@20"]), abs=0.03
        )


def test_two_workers_train_as_one_process_and_only_the_chief_writes(workspace, one_process):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    runs = [workspace["root"] / f"worker-{index}" for index in range(2)]
    processes = []
    for index, run in enumerate(runs):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        command = [
            *mmrec_tf_command(),
            *("train", "--data", workspace["data"], "--features", workspace["features"]),
            *("--config", workspace["config"], "--out", run, "--strategy", "multi-worker"),
        ]
        processes.append(
            subprocess.Popen(
                list(map(str, command)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**_environment(), "TF_CONFIG": json.dumps(tf_config)},
            )
        )
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=400)
        status = process.returncode
        results.append(subprocess.CompletedProcess(process.args, status, stdout, stderr))
    chief, other = (assert_clean_success(result) for result in results)
    assert "best epoch" in chief
    assert "the chief writes" in other
    # Every worker shows each epoch's validation, as `fit` does.
    assert "Epoch 3/3 - loss: " in other and "val_recall@20: " in other
    # Worker 1 was given its own --out to show that it writes nothing at all.
    assert not runs[1].exists()
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["strategy"] == "multi-worker"
    _assert_same_training(_log(runs[0]), one_process)


def test_mirrored_strategy_trains_with_fit(workspace, one_process):
    run = workspace["root"] / "mirrored"
    result = train_cli(
        workspace["data"],
        workspace["config"],
        run,
        "--strategy",
        "mirrored",
        features=workspace["features"],
    )
    assert "best epoch" in assert_clean_success(result)
    _assert_same_training(_log(run), one_process)


def test_multi_worker_without_tf_config_is_one_clear_line(workspace, tmp_path):
    result = train_cli(
        workspace["data"],
        workspace["config"],
        tmp_path / "run",
        "--strategy",
        "multi-worker",
        features=workspace["features"],
        env={"TF_CONFIG": ""},
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "TF_CONFIG" in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_the_chief_is_the_chief_task_or_worker_zero(monkeypatch):
    def tf_config(cluster, task_type, index):
        task = {"type": task_type, "index": index}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))

    workers = {"worker": ["a:1", "b:1"]}
    tf_config(workers, "worker", 0)
    assert is_chief("multi-worker")
    tf_config(workers, "worker", 1)
    assert not is_chief("multi-worker")
    assert is_chief("none")  # one process writes whatever TF_CONFIG says
    with_chief = {"chief": ["c:1"], **workers}
    tf_config(with_chief, "worker", 0)
    assert not is_chief("multi-worker")
    tf_config(with_chief, "chief", 0)
    assert is_chief("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(DistributionError, match="TF_CONFIG must be JSON"):
        make_strategy("multi-worker")


def test_an_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match='"strategy" must be one of none, mirrored'):
        check_config({"strategy": "parameter-server"}, "my.json")


def _environment():
    environment = dict(os.environ)
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return environment


LEAVE = """
import json, os, time
from mmrec_tf.training.distribution import leave_together, make_strategy

strategy = make_strategy("multi-worker")
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

def before_leaving():
    if index == 1:
        time.sleep(3)  # a worker slower than the chief to finish
    print("ready", time.time(), flush=True)

leave_together(before_leaving)
print("left", time.time(), flush=True)
"""


def test_no_worker_leaves_before_every_worker_is_ready_to(tmp_path):
    # The chief's process hosts TensorFlow's coordination service: had it left while
    # worker 1 still ran, worker 1 would log the lost service as an error (the CI
    # failure this barrier fixes).
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", LEAVE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **_environment(),
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
                ),
            },
        )
        for index in range(2)
    ]
    times = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        times.append({line.split()[0]: float(line.split()[1]) for line in stdout.splitlines()})
    chief, worker = times
    assert chief["left"] >= worker["ready"]
    assert worker["ready"] - chief["ready"] > 2.5  # the wait was needed
