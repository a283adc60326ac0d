import shutil
import subprocess
import sys

import pytest

from mmrec_tf.cli import main
from mmrec_tf.data import load_dataset


def test_validate_prints_summary_then_one_line_per_problem(demo_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    image = next((data / "images").glob("*.jpg"))
    image.write_bytes(image.read_bytes()[:300])
    lines = (data / "interactions.csv").read_text().splitlines()
    lines.append("user0001,ghost,3,1700000000,train")
    (data / "interactions.csv").write_text("\n".join(lines) + "\n")
    status = main(["validate", "--data", str(data)])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0] == "items: 200"
    assert "2 error(s), 0 warning(s)" in out
    problems = out[out.index("2 error(s), 0 warning(s)") + 1 :]
    assert (
        problems[0] == f"error: interactions.csv:{len(lines)}: item_id 'ghost' is not in items.csv"
    )
    assert problems[1].startswith(f"error: images/{image.name}: image of item ")
    assert "Traceback" not in "\n".join(out)


def test_validate_of_a_good_dataset_exits_zero(demo_dir, capsys):
    assert main(["validate", "--data", str(demo_dir), "--no-decode"]) == 0
    out = capsys.readouterr().out
    counts = load_dataset(demo_dir).split_counts()
    assert (
        f"splits: train {counts['train']:,}, valid {counts['valid']:,}, test {counts['test']:,}"
        in out
    )
    assert "0 error(s), 0 warning(s)" in out


def test_unparseable_dataset_is_reported_without_traceback(tmp_path, capsys):
    (tmp_path / "items.csv").write_bytes(b"item_id\n\xff\n")
    assert main(["validate", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "error: items.csv:2: is not UTF-8" in out
    assert "error: interactions.csv: file not found" in out


def test_demo_data_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo-data", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_prepare_movielens_from_source(ml100k_mm_source, tmp_path, capsys):
    out = tmp_path / "ml"
    assert (
        main(["prepare", "movielens-100k", "--source", str(ml100k_mm_source), "--out", str(out)])
        == 0
    )
    assert (out / "items.csv").is_file() and len(list((out / "posters").iterdir())) == 1623


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo-data"],
        ["prepare"],
        ["validate"],
        ["extract-features"],
        ["merge-features"],
        ["train"],
        ["evaluate"],
        ["export"],
        ["recommend"],
        ["quickstart"],
    ],
)
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "mmrec_tf.cli", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: mmrec-tf")


@pytest.mark.parametrize("epochs", ["0", "ten"])
def test_train_epochs_must_be_a_positive_integer(epochs, demo_dir, tmp_path, capsys):
    args = ["train", "--data", str(demo_dir), "--config", "configs/demo.json"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "run"), "--epochs", epochs])
    assert exit_info.value.code == 2
    assert f"--epochs: must be an integer ≥ 1, found '{epochs}'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
