"""A run stopped by Ctrl-C, `kill` or SIGKILL resumes to exactly the uninterrupted run."""

import json
import signal

import pytest
from cli_process import (
    assert_clean_success,
    assert_same_run,
    epochs_done,
    run_cli,
    run_log,
    stop_after,
)

pytestmark = pytest.mark.large

CONFIG = {
    "options": {"embedding_dim": 8, "item_graph_k": 3},
    "learning_rate": 0.01,
    "batch_size": 32,  # ~85 steps an epoch: a signal lands mid-epoch more often than not
    "epochs": 6,
    "patience": 10,
}


def test_interrupted_and_killed_runs_resume_to_the_uninterrupted_result(
    demo_dir, demo_features, tmp_path
):
    features = demo_features  # the demo's builtin text and image features
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))

    def args(run, *extra):
        return ["train", "--data", demo_dir, "--features", features, "--config", config] + [
            "--out",
            run,
            *extra,
        ]

    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert_clean_success(run_cli(*args(whole)))

    status, stderr = stop_after(args(stopped), stopped, 1, signal.SIGINT)
    assert status == 130, stderr
    assert "continue with the same command and --resume" in stderr
    status, stderr = stop_after(args(stopped, "--resume"), stopped, 2, signal.SIGTERM)
    assert status == 143, stderr
    assert "terminated after" in stderr and "--resume" in stderr
    status, _ = stop_after(args(stopped, "--resume"), stopped, 4, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert epochs_done(stopped) < CONFIG["epochs"]
    assert_clean_success(run_cli(*args(stopped, "--resume")))

    assert [row["epoch"] for row in run_log(stopped)] == list(range(1, CONFIG["epochs"] + 1))
    assert_same_run(stopped, whole)


def test_a_resumed_run_removes_the_staging_files_of_a_killed_save(demo_dir, tmp_path):
    """`kill -9` during a save leaves `_save_model_atomically`'s staging file; the
    resumed run removes it, and nothing else."""
    from mmrec_tf.training import train

    config, run = tmp_path / "config.json", tmp_path / "run"
    config.write_text(
        json.dumps({"model": "MatrixFactorization", "options": {"embedding_dim": 4}, "epochs": 1})
    )
    train(demo_dir, config, run, verbose=0)
    leftovers = [run / ".model.k9xq2b.keras", run / "checkpoints" / ".epoch_00002.p0w1z3.keras"]
    others = [run / "notes.keras", run / ".model.keras.txt"]  # not staging files
    for path in leftovers + others:
        path.write_bytes(b"half a model")
    train(demo_dir, config, run, resume=True, epochs=2, verbose=0)
    assert not any(path.exists() for path in leftovers)
    assert all(path.read_bytes() == b"half a model" for path in others)
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_00002.keras"]
    assert (run / "model.keras").is_file()
