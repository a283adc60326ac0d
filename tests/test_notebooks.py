"""Every tutorial runs top to bottom in its quick mode, with clean outputs, and is
stored without outputs."""

import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_five_tutorials_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.large
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch, request):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if "movielens" in path.stem:
        source = request.getfixturevalue("ml100k_mm_source")
        monkeypatch.setenv("MMREC_DATA_DIR", str(source))
    monkeypatch.setenv("MMREC_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    assert _noise(notebook) == []


# TensorFlow's C++ and Python logging, warnings, and an object shown by its repr
# (a stray `History` that `fit` returned).
NOISE = re.compile(r"WARNING|Warning|INFO:|[IWE]0000 | at 0x[0-9a-f]+>")


def _noise(notebook) -> list[str]:
    """Outputs a reader should not see: anything on standard error, logging, warnings."""
    found = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if output.get("name") == "stderr" or NOISE.search(text):
                found.append(f"cell {number}: {text.strip()[:300]}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
