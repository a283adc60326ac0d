"""The design document's whole model (configs/document.json) as users run it, and
`graph="attention"` through train, export and serving: one process per command."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_process import assert_clean_success, run_cli, run_python, train_cli

pytestmark = pytest.mark.large

CONFIGS = Path(__file__).parent.parent / "configs"


def changed(config_name: str, tmp_path: Path, **changes) -> Path:
    """A shipped configuration with `changes`."""
    config = json.loads((CONFIGS / config_name).read_text())
    config.update(changes)
    path = tmp_path / config_name
    path.write_text(json.dumps(config))
    return path


def test_document_configuration_runs_end_to_end_on_raw_files(demo_dir, tmp_path):
    shipped = json.loads((CONFIGS / "document.json").read_text())
    # The document's pipeline: its four encoders, attention across modalities, the
    # attention graph network.
    assert shipped["end_to_end"]["encoders"] == {
        "text": "builtin",  # a BERT (keras-hub BertBackbone), trained from scratch
        "image": "vgg16",
        "audio": "lstm",
        "video": "i3d",
    }
    assert shipped["options"]["graph"] == "attention"
    assert shipped["options"]["fusion"] == "attention"
    run, served = tmp_path / "run", tmp_path / "served"
    # As the README shows it, with 2 epochs: the quick look MMREC_QUICK=1 gives the notebooks.
    assert_clean_success(train_cli(demo_dir, CONFIGS / "document.json", run, "--epochs", "2"))
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == 2 and state["finished"]
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
    assert "recall@20" in assert_clean_success(run_cli("evaluate", "--run", run))
    assert_clean_success(run_cli("export", "--model", run, "--data", demo_dir, "--out", served))
    lines = assert_clean_success(
        run_cli("recommend", "--model", served, "--user", "user0001", "-k", "5")
    )
    assert len(lines.strip().splitlines()) == 5
    # The encoders are in the model: its content tower embeds raw items.
    assert (served / "embed_items" / "saved_model.pb").is_file()


def test_attention_graph_trains_exports_and_serves(demo_dir, demo_features, tmp_path):
    run, served = tmp_path / "run", tmp_path / "served"
    options = {"embedding_dim": 16, "item_graph_k": 5, "graph": "attention"}
    config = changed("demo.json", tmp_path, options=options)
    trained = train_cli(demo_dir, config, run, "--epochs", "2", features=demo_features)
    assert_clean_success(trained)
    assert_clean_success(run_cli("export", "--model", run, "--data", demo_dir, "--out", served))
    # The SavedModel in plain TensorFlow ranks as the trained model does.
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "user, item = tf.constant(['user0001']), tf.constant(['item0001'])\n"
        "out = m.signatures['score'](user_id=user, item_id=item)\n"
        "print(float(out['score'].numpy().ravel()[0]))\n"
    )
    served_score = python_output(code, served)
    code = (
        "import sys\n"
        "from mmrec_tf.data import load_dataset\n"
        "from mmrec_tf.models import load_recommender\n"
        "d = load_dataset(sys.argv[2]); m = load_recommender(sys.argv[1])\n"
        "print(m.score_users([d.user_ids.index('user0001')])[0, d.item_ids.index('item0001')])\n"
    )
    model_score = python_output(code, run / "model.keras", demo_dir)
    np.testing.assert_allclose(served_score, model_score, rtol=1e-4, atol=1e-5)


def python_output(code, *args) -> float:
    """The number `code` prints last, run in a fresh interpreter (TensorFlow's logging allowed:
    this is a program of the user's, not the CLI)."""
    result = run_python(code, *args)
    assert result.returncode == 0, result.stderr
    return float(result.stdout.split()[-1])
