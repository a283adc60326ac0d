"""Differentially private training: the accounting, the configuration, a run's report."""

import json
import math

import pytest
from cli_process import run_cli

from mmrec_tf.training import ConfigError, check_config, train
from mmrec_tf.training.privacy import epsilon_spent, noise_for_epsilon


def test_epsilon_matches_tensorflow_privacys_published_statement():
    # TensorFlow Privacy's compute_dp_sgd_privacy_lib test: 10,000 examples, 64 per
    # batch, 5 epochs, noise multiplier 2.0 with microbatching (which doubles the
    # sensitivity: σ = 1.0 per example, as here), δ = 1e-6, RDP accounting.
    # It states ε = 1.616 with Poisson sampling and 13.376 with every example
    # once per epoch (5 unsampled Gaussian releases).
    steps = math.ceil(5 / (64 / 10_000))
    assert epsilon_spent(1.0, 64 / 10_000, steps, 1e-6) == pytest.approx(1.616, abs=5e-4)
    assert epsilon_spent(1.0, 1.0, 5, 1e-6) == pytest.approx(13.376, abs=5e-4)
    assert epsilon_spent(1.0, 0.01, 0, 1e-6) == 0.0


@pytest.mark.parametrize("epsilon", [1.0, 8.0])
def test_the_noise_found_for_a_target_spends_it(epsilon):
    noise = noise_for_epsilon(epsilon, 0.025, 800, 1e-5)
    assert 0.99 * epsilon <= epsilon_spent(noise, 0.025, 800, 1e-5) <= epsilon
    assert epsilon_spent(noise * 0.98, 0.025, 800, 1e-5) > epsilon


@pytest.mark.parametrize(
    "privacy, message",
    [
        ({"l2_clip": 1.0, "target_delta": 1e-6}, "exactly one of"),
        ({"l2_clip": 1.0, "noise_multiplier": 1, "target_epsilon": 2, "target_delta": 1e-6}, "one"),
        ({"noise_multiplier": 1.0, "target_delta": 1e-6}, '"privacy.l2_clip" is missing'),
        ({"l2_clip": 1.0, "noise_multiplier": 1.0}, '"privacy.target_delta" is missing'),
        ({"l2_clip": -1, "noise_multiplier": 1.0, "target_delta": 1e-6}, "must be a number > 0"),
        ({"l2_clip": 1, "noise_multiplier": "1", "target_delta": 1e-6}, "must be a number > 0"),
        (
            {"l2_clip": 1, "noise_multipler": 1, "target_delta": 1e-6},
            'not a key of privacy .did you mean "privacy.noise_multiplier"',
        ),
        ({"l2_clip": 1, "noise_multiplier": 1.0, "target_delta": 1}, "must be < 1"),
    ],
)
def test_a_wrong_privacy_block_names_the_key(privacy, message):
    with pytest.raises(ConfigError, match=message):
        check_config({"privacy": privacy})


def test_privacy_needs_one_device_and_cached_features():
    privacy = {"l2_clip": 1.0, "noise_multiplier": 1.0, "target_delta": 1e-6}
    with pytest.raises(ConfigError, match='"strategy" must be "none"'):
        check_config({"privacy": privacy, "strategy": "mirrored"})
    with pytest.raises(ConfigError, match='"end_to_end" must be null'):
        check_config({"privacy": privacy, "end_to_end": {}})


def _write_config(path, **changes):
    config = {
        "model": "MatrixFactorization",
        "options": {"embedding_dim": 8},
        "batch_size": 128,
        "epochs": 2,
        "privacy": {"l2_clip": 1.0, "target_epsilon": 2.0, "target_delta": 1e-5},
        **changes,
    }
    path.write_text(json.dumps(config))
    return path


@pytest.mark.large  # `mmrec-tf train` in its own process, to the target epsilon
def test_train_reports_the_privacy_spent(demo_dir, tmp_path):
    config = _write_config(tmp_path / "private.json")
    result = run_cli("train", "--data", demo_dir, "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "run" / "privacy.json").read_text())
    from mmrec_tf.data import load_dataset

    count = len(load_dataset(demo_dir).interactions("train")[0])
    assert report["steps"] == 2 * math.ceil(count / 128)
    assert report["sampling_rate"] == pytest.approx(128 / count)
    # σ chosen for ε = 2 over the two epochs; the report recomputes what it spent.
    assert 1.98 <= report["epsilon"] <= 2.0
    spent = epsilon_spent(report["noise_multiplier"], 128 / count, report["steps"], 1e-5)
    assert report["epsilon"] == pytest.approx(spent)
    assert 1e-5 <= report["delta"] < 1.0001e-5 and report["unit"] == "interaction"
    assert f"privacy spent: ε = {report['epsilon']:.3g} at δ = 1e-05 per interaction" in (
        result.stdout
    )
    assert "absl" not in result.stderr
    exported = run_cli("export", "--model", tmp_path / "run", "--out", tmp_path / "served")
    assert exported.returncode == 0, exported.stderr
    assert (
        "note: the model trained with DP-SGD, but the SavedModel also holds each user's seen"
        in (exported.stderr)
    )


def test_train_refuses_what_privacy_cannot_protect(demo_dir, demo_features, tmp_path):
    coupled = _write_config(tmp_path / "graph.json", model="LightGCN")
    with pytest.raises(ConfigError, match="graph of every training interaction"):
        train(demo_dir, coupled, tmp_path / "graph")
    loose = _write_config(
        tmp_path / "loose.json",
        privacy={"l2_clip": 1.0, "noise_multiplier": 1.0, "target_delta": 0.01},
    )
    with pytest.raises(ConfigError, match='target_delta" must be below 1 / '):
        train(demo_dir, loose, tmp_path / "loose")
    tiny = _write_config(
        tmp_path / "tiny.json",
        privacy={"l2_clip": 1.0, "target_epsilon": 1e-4, "target_delta": 1e-5},
    )
    with pytest.raises(
        ConfigError, match='tiny.json: "privacy.target_epsilon": ε = 0.0001 .*above'
    ):
        train(demo_dir, tiny, tmp_path / "tiny")
    for name in ("graph", "loose", "tiny"):
        assert not (tmp_path / name).exists()


def test_a_resumed_run_never_goes_past_its_target_epsilon(demo_dir, tmp_path):
    from mmrec_tf.training import RunDirectory

    config = _write_config(tmp_path / "private.json")  # target ε = 2 by epoch 2
    train(demo_dir, config, tmp_path / "run", epochs=1, verbose=0)
    spent = RunDirectory(tmp_path / "run").privacy()
    assert 1.98 <= spent["epsilon"] <= 2.0  # σ chosen for the one epoch asked for
    with pytest.raises(ConfigError, match="epoch 2 would spend ε = .*, more than privacy.target"):
        train(demo_dir, config, tmp_path / "run", resume=True, verbose=0)
    assert RunDirectory(tmp_path / "run").privacy() == spent


def test_the_shipped_private_configuration_builds_a_model_privacy_accepts(demo_dir, demo_features):
    from pathlib import Path

    from mmrec_tf.data import load_dataset
    from mmrec_tf.models import PrivateGradients
    from mmrec_tf.training import load_config
    from mmrec_tf.training.inputs import ModelInputs, load_features
    from mmrec_tf.training.train import build_model

    config = load_config(Path(__file__).parent.parent / "configs" / "ml-100k-mm-private.json")
    assert config["patience"] >= config["epochs"]  # the validation split stops nothing
    dataset = load_dataset(demo_dir)
    features, present = load_features(dataset, demo_features, config["modalities"])
    model = build_model(config, dataset, ModelInputs(features, present))
    private = PrivateGradients(1.0, 1.0, config["batch_size"])
    model.compile(optimizer="adam", private_gradients=private)
    assert model.private_gradients is private
