"""Shared fixtures: the demo dataset, ml-100k-mm, and small hand-made datasets."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ML_100K_MM = "ml-100k-mm"
CHECKOUT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """These tests test this checkout: not another copy of mmrec_tf that the running
    interpreter happens to import (a bare `pytest` from another environment can)."""
    import importlib.util

    spec = importlib.util.find_spec("mmrec_tf")
    found = Path(spec.origin).resolve().parent.parent if spec and spec.origin else None
    if found != CHECKOUT:
        raise pytest.UsageError(
            f"these tests are for the mmrec_tf in {CHECKOUT}, but this interpreter "
            f"({os.sys.executable}) imports {found or 'no mmrec_tf'}: install the checkout "
            "(pip install -e .) and run `python -m pytest` with that interpreter"
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (setup.cfg's addopts): two worker processes, each given a test file at a
    time (`--dist loadfile`: a module's fixtures are built once), when the whole suite or
    a lane of it runs; none when tests are named on the command line, where a worker's
    start-up (TensorFlow's import, the session's fixtures) costs more than it saves.
    Two: the suite was measured on 2 cores, and each worker holds its own TensorFlow.
    `-n N` on the command line overrides this."""
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return 0
    return 2 if len(os.sched_getaffinity(0)) >= 2 else 0


def _ml100k_mm_dir() -> Path | None:
    root = os.environ.get("MMREC_DATA_DIR")
    if not root:
        return None
    root = Path(root)
    for candidate in (root / ML_100K_MM, root):
        if (candidate / "u.data").is_file() and (candidate / "split.tsv").is_file():
            return candidate
    return None


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Downloads and converted weights go to a temporary cache, not the user's."""
    previous = os.environ.get("MMREC_CACHE_DIR")
    os.environ["MMREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        del os.environ["MMREC_CACHE_DIR"]
    else:
        os.environ["MMREC_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def ml100k_mm_source() -> Path:
    """The shared ml-100k-mm directory; skips (or fails under MMREC_REQUIRE_DATA=1) without it."""
    source = _ml100k_mm_dir()
    if source is None:
        reason = (
            f"ml-100k-mm not found: set MMREC_DATA_DIR to the folder holding {ML_100K_MM}/ "
            f"(MMREC_DATA_DIR={os.environ.get('MMREC_DATA_DIR')!r})"
        )
        if os.environ.get("MMREC_REQUIRE_DATA") == "1":
            pytest.fail(reason + " and MMREC_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return source


@pytest.fixture(scope="session")
def ml100k_dir(ml100k_mm_source, tmp_path_factory) -> Path:
    """ml-100k-mm converted with `prepare_movielens_100k` (once per session)."""
    from mmrec_tf.data import prepare_movielens_100k

    return prepare_movielens_100k(tmp_path_factory.mktemp("prepared") / "ml-100k", ml100k_mm_source)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The default demo dataset (once per session). Tests must not modify it."""
    from mmrec_tf.data import generate_demo_dataset

    return generate_demo_dataset(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="session")
def demo_features(demo_dir, tmp_path_factory) -> Path:
    """Builtin text and image features of the demo dataset (once per session)."""
    from mmrec_tf.encoders.extract import extract_features

    out = tmp_path_factory.mktemp("features")
    for modality in ("text", "image"):
        extract_features(demo_dir, modality, "builtin", out, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_run(demo_dir, demo_features, tmp_path_factory) -> dict:
    """A run that `mmrec-tf train` wrote in its own process, on the demo dataset with its
    builtin text and image features, one epoch of 8-d vectors (once per session):
    {"data", "features", "config", "run"}. Tests must not modify it: copy the run."""
    from cli_process import assert_clean_success, train_cli

    root = tmp_path_factory.mktemp("demo_run")
    config = root / "config.json"
    config.write_text(json.dumps({"options": {"embedding_dim": 8}, "epochs": 1}))
    assert_clean_success(train_cli(demo_dir, config, root / "run", features=demo_features))
    return {"data": demo_dir, "features": demo_features, "config": config, "run": root / "run"}


def write_dataset(root: Path, items: list[dict], interactions: list[dict]) -> Path:
    """Writes a small dataset from dict rows (columns from the first row)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("items.csv", items), ("interactions.csv", interactions)):
        with open(root / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return root


@pytest.fixture
def make_dataset(tmp_path):
    """Returns write_dataset bound to a fresh directory, default interactions included."""

    def make(items, interactions=None, name="dataset"):
        if interactions is None:
            interactions = [{"user_id": "u1", "item_id": items[0]["item_id"], "split": "train"}]
        return write_dataset(tmp_path / name, items, interactions)

    return make
