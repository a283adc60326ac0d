import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def _example(containing: str) -> str:
    """The README's one ```python block that contains `containing`."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, f"{len(found)} python blocks of the README contain {containing!r}"
    return found[0]


def _run_in_project_dir(code, demo_dir, tmp_path, monkeypatch) -> dict:
    """Runs an example where `data/demo` is the demo dataset, as the README assumes."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


def test_readme_python_example_runs(demo_dir, tmp_path, monkeypatch):
    namespace = _run_in_project_dir(
        _example("interactions_dataset(dataset"), demo_dir, tmp_path, monkeypatch
    )
    assert namespace["batch"]["image"].shape[1:] == (128, 128, 3)
    assert namespace["batch"]["audio"].shape[1:] == (98, 64)
    assert next(iter(namespace["train"]))["user_index"].shape == (1024,)


def test_readme_layers_example_runs():
    namespace = {}
    exec(compile(_example("GraphNetwork("), str(README), "exec"), namespace)
    assert namespace["alpha"].shape == (32, 4, 4, 4)
    assert namespace["item_vectors"].shape == (32, 64)
    assert namespace["nodes"].shape == (34, 64)


@pytest.mark.large
def test_readme_recommender_example_runs(demo_dir, tmp_path, monkeypatch):
    namespace = _run_in_project_dir(
        _example("MultimodalRecommender.end_to_end("), demo_dir, tmp_path, monkeypatch
    )
    assert 0 <= namespace["metrics"]["recall@20"] <= 1
    assert (tmp_path / "demo.keras").is_file()


def test_readme_temporal_split_example_writes_the_split_column(demo_dir, tmp_path):
    """On the demo without its split column, the example writes back the demo's own
    split (the demo's generator assigns it with temporal_split too)."""
    mine = tmp_path / "data" / "mine"
    shutil.copytree(demo_dir, mine)
    with open(demo_dir / "interactions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(mine / "interactions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[c for c in rows[0] if c != "split"])
        writer.writeheader()
        writer.writerows({c: v for c, v in row.items() if c != "split"} for row in rows)
    # In its own interpreter, as a user runs a script: quiet, then the file rewritten.
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", _example("temporal_split")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    written = (mine / "interactions.csv").read_bytes()
    assert written == (demo_dir / "interactions.csv").read_bytes()
    assert sorted(p.name for p in mine.iterdir()) == sorted(p.name for p in demo_dir.iterdir())
