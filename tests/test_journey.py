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
        outputs[args[0]] = assert_clean_success(run_cli(*args, cwd=tmp_path))
    assert "0 error(s)" in outputs["validate"]
    assert "best epoch" in outputs["train"]
    assert "recall@20" in outputs["evaluate"]
    assert "embed_items" in outputs["export"]
    run, saved = tmp_path / "runs" / "demo", tmp_path / "served" / "demo"
    assert json.loads((run / "eval_test.json").read_text())["recall@20"] > 0
    lines = outputs["recommend"].strip().splitlines()
    assert [line.split()[0] for line in lines] == [str(r) for r in range(1, 11)]

    # export also takes the model file; an unknown user is told what they get.
    from_file = tmp_path / "saved-file"
    assert_clean_success(run_cli("export", "--model", run / "model.keras", "--out", from_file))
    unknown = run_cli("recommend", "--model", saved, "--user", "nobody", "-k", "5")
    assert len(assert_clean_success(unknown).strip().splitlines()) == 5
    assert "'nobody' is not in the training data" in unknown.stderr

    served = run_python(SERVE, from_file, "user0001")
    assert served.returncode == 0, served.stderr
    assert served.stdout.split()[0] == lines[0].split()[2]  # the CLI's first item
    assert served.stdout.strip().endswith("[True, False]")


def test_quickstart_then_its_model_through_evaluate_and_export(tmp_path):
    out = tmp_path / "qs"
    first = assert_clean_success(run_cli("quickstart", "--out", out))
    assert "wrote the demo dataset" in first and "best epoch" in first
    assert "MultimodalRecommender" in first and "MostPopular" in first
    assert "recall@20" in assert_clean_success(run_cli("evaluate", "--run", out / "run"))
    saved = tmp_path / "saved"
    assert_clean_success(run_cli("export", "--model", out / "run", "--out", saved))
    assert "Demo item" in assert_clean_success(
        run_cli("recommend", "--model", saved, "--user", "user0000", "-k", "3")
    )


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
