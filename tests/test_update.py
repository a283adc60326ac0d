"""`mmrec-tf update`: a trained run grown onto new users, items and interactions."""

import hashlib
import json
import signal

import numpy as np
import pytest
from cli_process import (
    assert_clean_success,
    assert_same_run,
    run_cli,
    run_log,
    run_python,
    stop_after,
    train_cli,
)
from growing_data import earlier_dataset

from mmrec_tf.data import load_dataset
from mmrec_tf.training.update import training_rows

CONFIG = {
    "options": {"embedding_dim": 8, "item_graph_k": 3},
    "learning_rate": 0.01,
    "batch_size": 64,
    "epochs": 3,
}


def test_training_rows_are_the_new_interactions_and_a_replay_sample(demo_dir):
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    pairs = np.unique(np.stack([users, items], axis=1), axis=0)
    trained = pairs[np.random.default_rng(0).random(len(pairs)) < 0.8]
    rows = training_rows(trained, dataset, 0.5, seed=3)
    seen = {tuple(pair) for pair in trained.tolist()}
    is_new = np.array([(u, i) not in seen for u, i in zip(users, items, strict=True)])
    assert set(np.flatnonzero(is_new)) <= set(rows.tolist())
    replayed = [r for r in rows if not is_new[r]]
    assert len(replayed) == round(0.5 * is_new.sum())
    assert np.array_equal(rows, training_rows(trained, dataset, 0.5, seed=3))
    with pytest.raises(ValueError, match="nothing to update"):
        training_rows(pairs, dataset, 1.0, seed=0)


@pytest.fixture(scope="module")
def trained_run(demo_dir, tmp_path_factory):
    """(the grown dataset, the earlier one, its features folder, a run trained on it)."""
    folder = tmp_path_factory.mktemp("update")
    early = earlier_dataset(demo_dir, folder / "early")
    features, config, run = folder / "features", folder / "config.json", folder / "run"
    config.write_text(json.dumps(CONFIG))
    for modality in ("text", "image"):
        args = ("--data", early, "--modality", modality, "--encoder", "builtin")
        assert_clean_success(run_cli("extract-features", *args, "--out", features))
    assert_clean_success(train_cli(early, config, run, features=features))
    return demo_dir, early, features, run


SCORE = """
import sys
import tensorflow as tf
served = tf.saved_model.load(sys.argv[1])
score = served.score(tf.constant([sys.argv[2]]), tf.constant([sys.argv[3]]))["score"]
print(float(score[0]))
"""


@pytest.mark.large
def test_the_update_journey_each_command_in_its_own_process(trained_run, tmp_path):
    grown, early, features, run = trained_run
    new_items = load_dataset(grown).item_ids[load_dataset(early).num_items :]
    # The new items' features, appended with the same encoder.
    appended = tmp_path / "features"
    appended.mkdir()
    for path in features.iterdir():
        (appended / path.name).write_bytes(path.read_bytes())
    for modality in ("text", "image"):
        args = ("--data", grown, "--modality", modality, "--encoder", "builtin", "--append")
        assert_clean_success(run_cli("extract-features", *args, "--out", appended))
    updated = tmp_path / "updated"
    update = ("update", "--run", run, "--data", grown, "--features", appended)
    out = assert_clean_success(run_cli(*update, "--out", updated))
    assert "the updated run is in" in out
    assert json.loads((updated / "config.json").read_text())["update"]["from"] == str(run)
    assert "recall@20" in assert_clean_success(run_cli("evaluate", "--run", updated))
    served = tmp_path / "served"
    assert_clean_success(run_cli("export", "--model", updated, "--out", served))
    new_user = json.loads((updated / "ids.json").read_text())["user_ids"][-1]
    result = run_cli("recommend", "--model", served, "--user", new_user, "-k", "5")
    assert_clean_success(result)
    assert "unknown" not in result.stderr
    score = run_python(SCORE, served, new_user, new_items[-1])
    assert np.isfinite(float(score.stdout))

    # Killed after its first epoch and resumed: the same run as the whole one.
    killed = tmp_path / "killed"
    status, _ = stop_after([*update, "--out", killed], killed, 1, signal.SIGKILL)
    assert status == -signal.SIGKILL and len(run_log(killed)) < CONFIG["epochs"]
    assert_clean_success(run_cli(*update, "--out", killed, "--resume"))
    assert_same_run(killed, updated)
    # An update goes on as an update, with its own arguments.
    config = run.parent / "config.json"
    refusals = {
        ("train", "--data", grown, "--features", appended, "--config", config, "--out", killed,
         "--resume"): "continue it with `mmrec-tf update ... --resume`",
        (*update, "--out", killed, "--resume", "--replay", "2"): "updated with --replay 1, not 2",
        (*update, "--out", run): "is the run to update",
    }  # fmt: skip
    for args, message in refusals.items():
        result = run_cli(*args)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def _snapshot(*folders):
    """Every file under `folders` with its content's digest."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.large
def test_careless_updates_say_what_is_wrong_in_one_line_and_change_nothing(trained_run, tmp_path):
    grown, early, features, run = trained_run
    moved = earlier_dataset(grown, tmp_path / "moved", new_items=0, new_users=0, new_interactions=0)
    lines = (moved / "items.csv").read_text().splitlines(keepends=True)
    (moved / "items.csv").write_text("".join([lines[0], lines[2], lines[1], *lines[3:]]))
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "config.json").write_text("{}")
    (finished / "state.json").write_text('{"epochs_done": 3, "finished": true}')
    cases = {
        "not a run": (early, features, early, "is not a run directory"),
        "moved items": (run, features, moved, "row 1 is item 'item0001' where the model's"),
        "features of the earlier items": (run, features, grown, "--append"),
        "a finished update as --out": (run, features, grown, "already holds a finished run"),
        "an infinite replay": (run, features, grown, "replay must be a finite number ≥ 0"),
    }
    before = _snapshot(tmp_path, early, features, run)
    for case, (source, feats, data, message) in cases.items():
        out = finished if case == "a finished update as --out" else tmp_path / "out"
        replay = ("--replay", "inf") if case == "an infinite replay" else ()
        result = run_cli("update", "--run", source, "--data", data, "--features", feats,
                         "--out", out, *replay)  # fmt: skip
        assert result.returncode == 2, case
        assert result.stderr.startswith("mmrec-tf: error:") and message in result.stderr, case
        assert result.stderr.count("\n") == 1, (case, result.stderr)
        assert _snapshot(tmp_path, early, features, run) == before, case


def test_features_from_another_encoder_than_the_runs_are_refused(trained_run, tmp_path):
    from mmrec_tf.training.update import _check_features

    _, early, features, run = trained_run
    made_by = json.loads((run / "config.json").read_text())["feature_encoders"]
    assert made_by["text"]["spec"] == "builtin"
    dataset = load_dataset(early)
    _check_features(made_by["text"], features, "text", dataset)
    other = {**made_by["text"], "weights_sha256": "0" * 64}
    with pytest.raises(ValueError, match="text.json was extracted by another encoder"):
        _check_features(other, features, "text", dataset)
