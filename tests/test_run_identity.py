"""A run knows its data: reordered rows give the same results, other ids are refused.

Every command runs in its own process, as a user's shell runs them one after another.
"""

import concurrent.futures
import csv
import hashlib
import json
import random
import shutil

import pytest
from cli_process import assert_clean_success, run_cli

pytestmark = pytest.mark.large

USERS = ("user0000", "user0007")


@pytest.fixture(scope="module")
def trained(demo_run, tmp_path_factory):
    """The session's demo run, its evaluation and the recommendations of its export:
    what every later command must reproduce."""
    root = tmp_path_factory.mktemp("identity")
    _, run = _moved({**demo_run, "root": root}, "original")
    return {
        **demo_run,
        "root": root,
        "run": run,
        **_evaluate_export_and_recommend(run, root / "export"),
    }


def _evaluate_export_and_recommend(run, out) -> dict:
    """{"evaluation": RUN/eval_test.json, "recommendations": what `recommend` prints for
    USERS from the export}: evaluate and export side by side (two cores), then the users."""

    def in_processes(commands):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return [assert_clean_success(r) for r in pool.map(lambda c: run_cli(*c), commands)]

    in_processes([("evaluate", "--run", run), ("export", "--model", run, "--out", out)])
    return {
        "evaluation": json.loads((run / "eval_test.json").read_text()),
        "recommendations": in_processes(
            [("recommend", "--model", out, "--user", user) for user in USERS]
        ),
    }


def _moved(trained, name):
    """A copy of the run and its data elsewhere (config.json names the copy's data)."""
    root = trained["root"] / name
    data, run = root / "data", root / "run"
    shutil.copytree(trained["data"], data)
    shutil.copytree(trained["run"], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data": str(data)}))
    return data, run


def _shuffle_rows(path, seed):
    with open(path, newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    random.Random(seed).shuffle(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


def _tree_digest(root) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_reordered_rows_give_the_same_evaluation_and_recommendations(trained):
    data, run = _moved(trained, "reordered")
    _shuffle_rows(data / "interactions.csv", seed=1)
    _shuffle_rows(data / "items.csv", seed=2)
    again = _evaluate_export_and_recommend(run, run.parent / "export")
    assert again["evaluation"] == trained["evaluation"]
    assert again["recommendations"] == trained["recommendations"]


def test_a_changed_item_id_is_refused_in_one_line_and_nothing_is_written(trained):
    data, run = _moved(trained, "changed")
    for name in ("items.csv", "interactions.csv"):
        path = data / name
        path.write_text(path.read_text().replace("item0042,", "item0042-new,"))
    before = _tree_digest(run)
    export = run.parent / "export"
    commands = [
        ("evaluate", "--run", run),
        ("export", "--model", run, "--out", export),
        ("train", "--data", data, "--features", trained["features"], "--config",
         trained["config"], "--out", run, "--resume"),
    ]  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(lambda command: run_cli(*command), commands))
    for result in results:
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result
        assert lines == [
            f"mmrec-tf: error: {data / 'items.csv'} has no item 'item0042', which the model "
            f"learned ({run / 'ids.json'}): a run reads the ids it was trained on; use that "
            "dataset, or train a new run on this one"
        ], result
    assert _tree_digest(run) == before  # eval_test.json, log, checkpoints as they were
    assert not export.exists()


def test_a_run_from_before_ids_were_recorded_still_evaluates_with_a_note(trained):
    data, run = _moved(trained, "older")
    (run / "ids.json").unlink()
    result = run_cli("evaluate", "--run", run)
    assert result.returncode == 0, result
    assert result.stderr.startswith(f"note: {run} has no ids.json")
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads((run / "eval_test.json").read_text()) == trained["evaluation"]
    # Resumed, it records its ids from then on (and says so no more).
    resumed = run_cli(
        *("train", "--data", data, "--features", trained["features"]),
        *("--config", trained["config"], "--out", run, "--resume"),
    )
    assert resumed.returncode == 0, resumed
    assert (run / "ids.json").read_bytes() == (trained["run"] / "ids.json").read_bytes()
