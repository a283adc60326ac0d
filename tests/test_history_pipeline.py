"""A model that reads histories as users run it: train, evaluate under both history
protocols, export and recommend from a history, one process per command."""

import concurrent.futures
import json

import pytest
from cli_process import assert_clean_success, run_cli, train_cli

from mmrec_tf.data import load_dataset

pytestmark = pytest.mark.large

CONFIG = {
    "model": "HistoryRecommender",
    "options": {"embedding_dim": 16, "history_length": 10, "loss": "softmax", "item_graph_k": 5},
    "learning_rate": 0.005,
    "batch_size": 256,
    "epochs": 3,
    "patience": 5,
}


def test_history_model_from_training_to_serving(demo_dir, demo_features, tmp_path):
    config, run, served = tmp_path / "history.json", tmp_path / "run", tmp_path / "served"
    config.write_text(json.dumps(CONFIG))
    assert_clean_success(train_cli(demo_dir, config, run, features=demo_features))
    outputs = {}
    histories = ("train", "train+valid")
    evaluations = _concurrently(*(("evaluate", "--run", run, "--history", h) for h in histories))
    for history, evaluation in zip(histories, evaluations, strict=True):
        printed = assert_clean_success(evaluation)
        name = "eval_test.json" if history == "train" else "eval_test_history-train+valid.json"
        assert f"wrote {run / name}" in printed
        outputs[history] = json.loads((run / name).read_text())
        assert outputs[history]["protocol"] == {
            "split": "test",
            "history": history,
            "mask": "train+valid",
        }
    # The valid interactions are part of the history: the rankings differ.
    assert outputs["train"]["recall@20"] != outputs["train+valid"]["recall@20"]

    assert_clean_success(run_cli("export", "--model", run, "--data", demo_dir, "--out", served))
    histories = ("item0001,item0002,nope", "nope", "", ",", " ")
    known, unknown, *empties = _concurrently(
        *(("recommend", "--model", served, "--history", h, "-k", "3") for h in histories)
    )
    rows = assert_clean_success(known).strip().splitlines()
    assert len(rows) == 3 and not any(" item0001 " in r or " item0002 " in r for r in rows)
    assert unknown.returncode == 0
    assert "no item of the history is known" in unknown.stderr
    # An empty history (no ids, or only separators) gets the most popular items too.
    popular = unknown.stdout.strip().splitlines()
    for result in empties:
        assert assert_clean_success(result).strip().splitlines() == popular
        assert result.stderr.strip() == (
            "mmrec-tf: the history is empty: showing the most popular items"
        )

    # Explained: each item under its line, with the history's items that raise it most.
    explained = _concurrently(
        ("recommend", "--model", served, "--history", "item0001,item0002,nope", "-k", "3",
         "--explain"),
        ("recommend", "--model", served, "--user", "user0001", "-k", "3", "--explain"),
    )  # fmt: skip
    for result in explained:
        lines = assert_clean_success(result).strip().splitlines()
        assert [line.split()[0] for line in lines[::3]] == ["1", "2", "3"]
        for reason, shares in zip(lines[1::3], lines[2::3], strict=True):
            assert reason.strip().startswith("because of: ")
            assert shares.strip().startswith("image ") and "% against ID and graphs" in shares
    history_reasons = explained[0].stdout.strip().splitlines()[1::3]
    assert all("item0001" in r or "item0002" in r or "no past item" in r for r in history_reasons)
    assert "nope" not in explained[0].stdout

    # Served after validation: the valid items are known too, never recommended again.
    latest = tmp_path / "served-latest"
    exported = run_cli(
        "export", "--model", run, "--data", demo_dir, "--out", latest, "--seen", "train+valid"
    )
    assert_clean_success(exported)
    dataset = load_dataset(demo_dir)
    user = dataset.user_index["user0001"]
    users, items = dataset.interactions("valid")
    valid_items = {dataset.item_ids[i] for i in items[users == user]}
    everything = dataset.num_items
    printed = assert_clean_success(
        run_cli("recommend", "--model", latest, "--user", "user0001", "-k", str(everything))
    )
    recommended = {line.split()[2] for line in printed.strip().splitlines()}
    assert valid_items and not valid_items & recommended


def test_a_static_model_refuses_the_train_plus_valid_history(demo_run):
    run = demo_run["run"]  # a MultimodalRecommender: users are fitted ids
    refused = run_cli("evaluate", "--run", run, "--history", "train+valid")
    assert refused.returncode != 0
    assert "needs a model that reads histories" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (run / "eval_test_history-train+valid.json").exists()


def _concurrently(*commands):
    """`run_cli` of each command, two processes at a time (the machine's two cores)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda command: run_cli(*command), commands))
