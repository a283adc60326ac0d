import csv
import json
import stat
from pathlib import Path

import numpy as np
import pytest

from mmrec_tf.cli import main
from mmrec_tf.data.writing import current_umask


@pytest.mark.large
def test_train_evaluate_and_resume(demo_dir, demo_features, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "options": {"embedding_dim": 8},
                "learning_rate": 0.01,
                "batch_size": 256,
                "epochs": 3,
                "patience": 5,
            }
        )
    )
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(demo_dir),
        "--features",
        str(demo_features),
        "--config",
        str(config),
        "--out",
        str(run),
    ]
    assert main(args) == 0
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "model.keras",
        "checkpoints",
        "state.json",
        "log.csv",
        "tensorboard",
    }
    assert main(args) == 2  # an existing run is never overwritten
    assert "pass --resume" in capsys.readouterr().err
    config.write_text(
        json.dumps(
            {
                "options": {"embedding_dim": 8},
                "learning_rate": 0.01,
                "batch_size": 256,
                "epochs": 5,
                "patience": 5,
            }
        )
    )
    assert main([*args, "--resume"]) == 0
    with open(run / "log.csv", newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [1, 2, 3, 4, 5]
    assert main(["evaluate", "--run", str(run), "--split", "test"]) == 0
    results = json.loads((run / "eval_test.json").read_text())
    assert {"recall@20", "ndcg@20", "precision@20", "hit@20", "coverage@20", "novelty@20"} <= set(
        results
    )
    assert 0 <= results["recall@20"] <= 1 and np.isfinite(results["novelty@20"])
    assert "recall@20" in capsys.readouterr().out

    saved = tmp_path / "saved"
    assert main(["export", "--model", str(run / "model.keras"), "--out", str(saved)]) == 0
    # Written through private temporary files, but readable as the umask says
    # (a server running as another user must be able to load them).
    umask = current_umask()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((run / "model.keras").stat().st_mode) == 0o666 & ~umask
    assert main(["export", "--model", str(run / "model.keras"), "--out", str(saved)]) == 2
    assert "embed_items" in capsys.readouterr().out
    _check_embed_items(demo_dir, run, saved)
    assert main(["recommend", "--model", str(saved), "--user", "user0001", "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].split()[0] == "1"
    assert all("Demo item" in line for line in lines)  # the title column
    assert main(["recommend", "--model", str(run), "--user", "user0001"]) == 2
    assert "run `mmrec-tf export` first" in capsys.readouterr().err


def test_features_must_match_the_dataset(demo_dir, demo_features, tmp_path, make_dataset):
    other = make_dataset([{"item_id": "x", "text": "t"}])
    config = tmp_path / "config.json"
    config.write_text("{}")
    assert (
        main(
            [
                "train",
                "--data",
                str(other),
                "--features",
                str(demo_features),
                "--config",
                str(config),
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )


def test_every_configurable_model_builds_from_the_dataset(demo_dir, demo_features):
    from mmrec_tf.data import load_dataset
    from mmrec_tf.models import RECOMMENDERS
    from mmrec_tf.training import load_features

    dataset = load_dataset(demo_dir)
    features, present = load_features(dataset, demo_features)
    for name, model_class in RECOMMENDERS.items():
        model = model_class.from_dataset(dataset, features, present, embedding_dim=4)
        assert type(model) is model_class
        assert model.score_users([0, 1]).shape == (2, dataset.num_items), name
    with pytest.raises(ValueError, match="VBPR needs item features"):
        RECOMMENDERS["VBPR"].from_dataset(dataset, {}, {})


def test_demo_config_file_is_the_quickstart_configuration():
    from pathlib import Path

    from mmrec_tf.training import DEMO_CONFIG

    shipped = Path(__file__).parent.parent / "configs" / "demo.json"
    assert json.loads(shipped.read_text()) == DEMO_CONFIG


@pytest.mark.large
def test_end_to_end_configuration_trains_on_raw_files(demo_dir, demo_features, tmp_path):
    shipped = json.loads(
        (Path(__file__).parent.parent / "configs" / "demo-end-to-end.json").read_text()
    )
    # The shipped configuration, cut to one modality and two epochs for the test's time.
    config = {**shipped, "epochs": 2, "options": {"embedding_dim": 8}}
    config["end_to_end"] = {
        **shipped["end_to_end"],
        "modalities": ["image"],
        "image_size": [16, 16],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    run = tmp_path / "run"
    args = ["train", "--data", str(demo_dir), "--config", str(path), "--out", str(run)]
    assert main(args) == 0
    assert main(["evaluate", "--run", str(run), "--split", "test"]) == 0
    results = json.loads((run / "eval_test.json").read_text())
    assert 0 < results["recall@20"] <= 1
    with pytest.raises(ValueError, match="do not pass --features"):
        from mmrec_tf.training import train

        train(demo_dir, path, tmp_path / "other", features_dir=demo_features)


def _check_embed_items(demo_dir, run, saved):
    """The SavedModel's embed_items, fed raw files, gives the trained model's content
    vectors: the builtin extractors rebuilt from the features' metadata inside it."""
    import keras
    import tensorflow as tf

    from mmrec_tf.data import load_dataset

    dataset = load_dataset(demo_dir)
    model = keras.models.load_model(run / "model.keras")
    items = [0, 1, 2, 3]
    images = [
        (dataset.root / dataset.media["image"][i]).read_bytes()
        if dataset.media["image"][i]
        else b""
        for i in items
    ]
    served = tf.saved_model.load(str(saved / "embed_items"))
    vectors = served.embed_items(
        {"text": tf.constant([dataset.text[i] or "" for i in items]), "image": tf.constant(images)}
    )["item_vector"]
    np.testing.assert_allclose(vectors.numpy(), model.content_vectors().numpy()[items], atol=1e-4)


def test_validation_users_is_null_or_a_positive_integer():
    from mmrec_tf.training import ConfigError, check_config

    assert check_config({})["validation_users"] is None
    assert check_config({"validation_users": 5000})["validation_users"] == 5000
    for wrong in (0, "all", 2.5):
        with pytest.raises(ConfigError, match='"validation_users" must be an integer ≥ 1 or null'):
            check_config({"validation_users": wrong})


def test_the_optimizer_is_adam_or_lazy_adam():
    from mmrec_tf.training import ConfigError, check_config
    from mmrec_tf.training.config import OPTIMIZERS
    from mmrec_tf.training.train import OPTIMIZER_CLASSES

    assert check_config({})["optimizer"] == "adam"
    assert set(OPTIMIZER_CLASSES) == set(OPTIMIZERS)
    with pytest.raises(ConfigError, match='"optimizer" must be one of adam, lazy_adam'):
        check_config({"optimizer": "sgd"})


def test_no_modalities_is_a_model_of_ids_alone(demo_dir, demo_features):
    from mmrec_tf.data import load_dataset
    from mmrec_tf.data.feature_cache import FeatureCache
    from mmrec_tf.training import ConfigError, check_config, load_features

    assert check_config({"modalities": []})["modalities"] == []
    with pytest.raises(ConfigError, match='"modalities" must be null or a list'):
        check_config({"modalities": ["text", "text"]})
    dataset = load_dataset(demo_dir)
    assert load_features(dataset, demo_features, []) == ({}, {})
    assert set(load_features(dataset, demo_features, None)[0]) == set(
        FeatureCache(demo_features).modalities()
    )


def test_a_model_option_beside_options_says_where_it_goes():
    from mmrec_tf.training import ConfigError, check_config

    with pytest.raises(ConfigError) as error:
        check_config({"content_loss_weight": 1.0})
    assert str(error.value) == (
        'configuration: "content_loss_weight" is not a configuration key; it is an option of '
        'MultimodalRecommender: write it inside "options" ("options": {"content_loss_weight": ...})'
    )
    with pytest.raises(ConfigError, match='"learning_rat" is not a configuration key'):
        check_config({"learning_rat": 1.0})


def test_a_run_configuration_is_resolved_once_frozen_and_checked_across_keys(tmp_path):
    from mmrec_tf.training.config import ConfigError
    from mmrec_tf.training.run_config import resolve_config

    config = resolve_config(
        {"options": {"embedding_dim": 8}, "modalities": ["text"]},
        "c.json",
        data=tmp_path,
        epochs=3,
        strategy="mirrored",
    )
    assert (config["epochs"], config["strategy"], config["data"]) == (3, "mirrored", str(tmp_path))
    with pytest.raises(TypeError):
        config["epochs"] = 4
    with pytest.raises(TypeError):
        config["options"]["embedding_dim"] = 4
    assert config.to_json_object()["modalities"] == ["text"]
    assert json.loads(json.dumps(config.to_json_object()))["options"] == {"embedding_dim": 8}
    privacy = {"l2_clip": 1.0, "noise_multiplier": 1.0, "target_delta": 1e-6}
    cases = [
        ({"privacy": privacy}, {"strategy": "mirrored"}, '"privacy" trains on one device'),
        ({"end_to_end": {}}, {"strategy": "multi-worker"}, "multi-worker strategy"),
        ({"end_to_end": {}}, {"features": tmp_path}, "do not pass --features"),
        ({}, {"epochs": 0}, "epochs must be an integer ≥ 1"),
        ({}, {"strategy": "ring"}, "strategy must be one of none, mirrored, multi-worker"),
    ]
    for raw, overrides, message in cases:
        with pytest.raises(ConfigError, match=message):
            resolve_config(raw, "c.json", data=tmp_path, **overrides)
