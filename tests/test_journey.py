"""The README's workflow as a user runs it: every command in its own process, in order.

Each step is a fresh interpreter, so what one command leaves on disk is all the
next one has: classes registered only in the training process, or a
SavedModel that needs more than TensorFlow, fail here.
"""

import json
import shlex
from pathlib import Path

import pytest
from cli_process import assert_clean_success, run_cli, run_python
from pretrained import load_or_skip

pytestmark = pytest.mark.large

# A client that has TensorFlow and nothing else of ours.
SERVE = """
import sys
import tensorflow as tf

served = tf.saved_model.load(sys.argv[1])
out = served.recommend(tf.constant([sys.argv[2], "nobody"]), tf.constant(5))
assert "tensorflow_text" not in sys.modules and "mmrec_tf" not in sys.modules
print(out["item_id"].numpy()[0][0].decode(), out["known_user"].numpy().tolist())
"""

README = Path(__file__).parent.parent / "README.md"
SESSION_HEADING = "A session, each command in its own shell"
FRESH_MACHINE_HEADING = "## On a fresh machine"


def readme_session() -> list[list[str]]:
    """The README's session: the indented `mmrec-tf` lines after its heading."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index(SESSION_HEADING) :].split("\n\n")[1]
    lines = [line.strip() for line in block.splitlines()]
    assert lines and all(line.startswith("mmrec-tf ") for line in lines), lines
    return [shlex.split(line)[1:] for line in lines]


def test_readme_session_one_process_per_command(tmp_path):
    from mmrec_tf.encoders.pretrained import minilm_directory

    load_or_skip(minilm_directory)  # the session's text features use MiniLM's WordPiece
    # A project directory as the README assumes: the shipped configurations beside it.
    (tmp_path / "configs").symlink_to(README.parent / "configs", target_is_directory=True)
    outputs = {}
    for args in readme_session():
        # A command the session runs twice is keyed by its options the second time.
        key = args[0] if args[0] not in outputs else " ".join(map(str, args))
        outputs[key] = assert_clean_success(run_cli(*args, cwd=tmp_path))
    assert "0 error(s)" in outputs["validate"]
    assert "best epoch" in outputs["train"]
    assert "recall@20" in outputs["evaluate"]
    assert "embed_items" in outputs["export"]
    run, saved = tmp_path / "runs" / "demo", tmp_path / "served" / "demo"
    assert json.loads((run / "eval_test.json").read_text())["recall@20"] > 0
    lines = outputs["recommend"].strip().splitlines()
    assert [line.split()[0] for line in lines] == [str(r) for r in range(1, 11)]
    # --explain: under each of the first three, the user's items and the shares.
    explained = (
        outputs["recommend --model served/demo --user user0001 -k 3 --explain"].strip().splitlines()
    )
    assert explained[::3] == lines[:3]
    for reason, shares in zip(explained[1::3], explained[2::3], strict=True):
        # A model whose users are fitted rows: past items the item is close to.
        assert reason.strip().startswith("close to: ")
        modalities, content = shares.strip().split("; ")
        assert [part.split()[0] for part in modalities.split(", ")] == [
            "audio", "image", "text", "video"
        ]  # fmt: skip
        assert content.startswith("content ") and content.endswith(" against ID and graphs")

    # export also takes the model file, and a partitioned index (all 4 partitions probed:
    # the same items as the exact export); an unknown user is told what they get.
    from_file = tmp_path / "saved-file"
    indexed = run_cli(
        *("export", "--model", run / "model.keras", "--out", from_file),
        *("--index", "partitioned", "--partitions", "4", "--probe", "4"),
    )
    assert "4 partitions, all probed: an exact search" in assert_clean_success(indexed)
    unknown = run_cli("recommend", "--model", saved, "--user", "nobody", "-k", "5")
    assert len(assert_clean_success(unknown).strip().splitlines()) == 5
    assert "'nobody' is not in the training data" in unknown.stderr

    served = run_python(SERVE, from_file, "user0001")
    assert served.returncode == 0, served.stderr
    assert served.stdout.split()[0] == lines[0].split()[2]  # the CLI's first item
    assert served.stdout.strip().endswith("[True, False]")


def readme_fresh_machine() -> list[list[str]]:
    """The `mmrec-tf` commands of the README's "On a fresh machine", in order (the
    quick start after `pip install . &&`, then those serving its model)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(FRESH_MACHINE_HEADING) :].split("\n## ")[0]
    lines = [line.split("&&")[-1].strip() for line in section.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("mmrec-tf ")]


def test_readme_quickstart_then_export_and_recommend_in_a_fresh_directory(tmp_path):
    commands = readme_fresh_machine()
    assert [args[0] for args in commands] == ["quickstart", "export", "recommend"]
    outputs = {args[0]: assert_clean_success(run_cli(*args, cwd=tmp_path)) for args in commands}
    assert "wrote the demo dataset" in outputs["quickstart"]
    assert "best epoch" in outputs["quickstart"]
    assert "MultimodalRecommender" in outputs["quickstart"]
    assert "MostPopular" in outputs["quickstart"]
    lines = outputs["recommend"].strip().splitlines()
    assert len(lines) == 5 and all("Demo item" in line for line in lines)
    # The README: the quick start's run is mmrec_quickstart/run; its export about 9 MB.
    run, served = tmp_path / "mmrec_quickstart" / "run", tmp_path / "mmrec_quickstart" / "served"
    assert "recall@20" in assert_clean_success(run_cli("evaluate", "--run", run))
    size = sum(f.stat().st_size for f in served.rglob("*") if f.is_file())
    assert 5e6 < size < 15e6, size


ML_CONFIG = {
    "options": {"embedding_dim": 32, "item_graph_k": 5},
    "modalities": ["text", "image"],
    "learning_rate": 0.005,
    "epochs": 3,
}


def test_movielens_journey_one_process_per_command(ml100k_mm_source, tmp_path):
    """The same commands on real data: ml-100k-mm prepared from its source folder."""
    data, features, run = tmp_path / "ml-100k", tmp_path / "features", tmp_path / "run"
    assert_clean_success(
        run_cli("prepare", "movielens-100k", "--source", ml100k_mm_source, "--out", data)
    )
    assert "items with: text 1,682, image 1,623" in assert_clean_success(
        run_cli("validate", "--data", data)
    )
    for modality in ("text", "image"):
        assert_clean_success(
            run_cli(
                *("extract-features", "--data", data, "--modality", modality),
                *("--encoder", "builtin", "--out", features),
            )
        )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(ML_CONFIG))
    trained = run_cli(
        *("train", "--data", data, "--features", features, "--config", config, "--out", run)
    )
    assert "ran all 3 epochs" in assert_clean_success(trained)
    assert_clean_success(run_cli("evaluate", "--run", run))
    assert json.loads((run / "eval_test.json").read_text())["recall@20"] > 0.05
    saved = tmp_path / "saved"
    assert "embed_items" in assert_clean_success(run_cli("export", "--model", run, "--out", saved))
    recommended = run_cli("recommend", "--model", saved, "--user", "1", "-k", "3")
    assert len(assert_clean_success(recommended).strip().splitlines()) == 3
