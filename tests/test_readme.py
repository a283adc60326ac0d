import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def _examples():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _run_in_project_dir(code, demo_dir, tmp_path, monkeypatch) -> dict:
    """Runs an example where `data/demo` is the demo dataset, as the README assumes."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


def test_readme_python_example_runs(demo_dir, tmp_path, monkeypatch):
    namespace = _run_in_project_dir(_examples()[0], demo_dir, tmp_path, monkeypatch)
    assert namespace["batch"]["image"].shape[1:] == (128, 128, 3)
    assert namespace["batch"]["audio"].shape[1:] == (98, 64)
    assert next(iter(namespace["train"]))["user_index"].shape == (1024,)


def test_readme_layers_example_runs():
    namespace = {}
    exec(compile(_examples()[1], str(README), "exec"), namespace)
    assert namespace["alpha"].shape == (32, 4, 4, 4)
    assert namespace["item_vectors"].shape == (32, 64)
    assert namespace["nodes"].shape == (34, 64)


@pytest.mark.large
def test_readme_recommender_example_runs(demo_dir, tmp_path, monkeypatch):
    namespace = _run_in_project_dir(_examples()[2], demo_dir, tmp_path, monkeypatch)
    assert 0 <= namespace["metrics"]["recall@20"] <= 1
    assert (tmp_path / "demo.keras").is_file()
