import json

import numpy as np
import pytest
import tensorflow as tf
from extraction_testing import BatchCounter

from mmrec_tf.cli import main
from mmrec_tf.data import load_dataset
from mmrec_tf.encoders import extract
from mmrec_tf.encoders.extract import build_extractor, extract_features


def test_features_follow_item_order_with_zero_rows_for_missing(demo_dir, tmp_path):
    path = extract_features(demo_dir, "audio", "builtin", tmp_path, chunk_size=64, progress=False)
    features = np.load(path)
    metadata = json.loads((tmp_path / "audio.json").read_text())
    dataset = load_dataset(demo_dir)
    assert features.shape == (200, 64) and features.dtype == np.float32
    assert metadata["item_ids"] == dataset.item_ids and metadata["dim"] == 64
    missing = ~dataset.modality_available("audio")
    assert metadata["missing_item_ids"] == [dataset.item_ids[i] for i in np.flatnonzero(missing)]
    assert not features[missing].any() and (np.abs(features[~missing]).sum(axis=1) > 0).all()
    assert metadata["spec"] == "builtin" and len(metadata["weights_sha256"]) == 64
    assert not (tmp_path / ".audio.partial").exists()


def test_existing_features_are_kept_unless_overwrite(demo_dir, tmp_path):
    (tmp_path / "text.npy").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        extract_features(demo_dir, "text", "builtin", tmp_path, progress=False)
    assert (tmp_path / "text.npy").read_bytes() == b"mine"
    extract_features(demo_dir, "text", "builtin", tmp_path, overwrite=True, progress=False)
    assert np.load(tmp_path / "text.npy").shape == (200, 64)


def test_an_interrupted_run_resumes_from_finished_chunks(demo_dir, tmp_path, monkeypatch):
    reference = np.load(
        extract_features(
            demo_dir, "image", "builtin", tmp_path / "whole", chunk_size=50, progress=False
        )
    )
    counter = BatchCounter(monkeypatch, interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        extract_features(
            demo_dir,
            "image",
            "builtin",
            tmp_path / "resumed",
            chunk_size=50,
            batch_size=50,
            progress=False,
        )
    assert sorted(p.name for p in (tmp_path / "resumed" / ".image.partial").iterdir()) == [
        "chunk_00000.npy",
        "chunk_00001.npy",
        "manifest.json",
    ]
    counter.interrupt_at = None
    resumed = np.load(
        extract_features(
            demo_dir,
            "image",
            "builtin",
            tmp_path / "resumed",
            chunk_size=50,
            batch_size=50,
            progress=False,
        )
    )
    np.testing.assert_allclose(resumed, reference, atol=1e-5)


def test_an_interrupted_cli_run_says_how_to_resume(demo_dir, tmp_path, monkeypatch, capsys):
    BatchCounter(monkeypatch, interrupt_at=2)
    args = ["extract-features", "--data", str(demo_dir), "--modality", "image"]
    args += ["--encoder", "builtin", "--out", str(tmp_path), "--chunk-size", "50"]
    assert main([*args, "--batch-size", "50"]) == 130
    assert capsys.readouterr().err == (
        "mmrec-tf: interrupted: run the same command again to resume (finished chunks are kept)\n"
    )
    assert (tmp_path / ".image.partial" / "chunk_00000.npy").is_file()
    # A command with nothing to resume has nothing to add.
    import mmrec_tf.data

    monkeypatch.setattr(mmrec_tf.data, "validate_dataset", _interrupt)
    assert main(["validate", "--data", str(demo_dir)]) == 130
    assert capsys.readouterr().err == "mmrec-tf: interrupted\n"


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_a_partial_run_of_another_encoder_is_not_mixed_in(demo_dir, tmp_path):
    partial = tmp_path / ".text.partial"
    partial.mkdir()
    (partial / "manifest.json").write_text(json.dumps({"spec": "minilm"}))
    with pytest.raises(FileExistsError, match="interrupted extraction with another encoder"):
        extract_features(demo_dir, "text", "builtin", tmp_path, progress=False)


def test_specs_are_checked():
    with pytest.raises(ValueError, match="does not encode audio"):
        build_extractor("minilm", "audio")
    with pytest.raises(ValueError, match="did you mean 'i3d:kinetics400'"):
        build_extractor("i3d", "video")
    with pytest.raises(ValueError, match="modality must be one of"):
        build_extractor("builtin", "smell")


def test_tfhub_spec_feeds_images_to_a_saved_model(demo_dir, tmp_path):
    class MeanColour(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            return tf.reduce_mean(images, axis=[1, 2])

    tf.saved_model.save(MeanColour(), str(tmp_path / "module"))
    features = np.load(
        extract_features(
            demo_dir, "image", f"tfhub:{tmp_path / 'module'}", tmp_path / "feats", progress=False
        )
    )
    dataset = load_dataset(demo_dir)
    present = dataset.modality_available("image")
    assert features.shape == (200, 3)
    assert ((features[present] > 0) & (features[present] < 1)).all()


def test_cli_extracts_and_reports(demo_dir, tmp_path, capsys):
    assert (
        main(
            [
                "extract-features",
                "--data",
                str(demo_dir),
                "--modality",
                "video",
                "--encoder",
                "builtin",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    # The builtin video encoder: a 16-d frame summary and 7 × 7 motion correlations.
    assert np.load(tmp_path / "video.npy").shape == (200, 16 + 49)
    assert (
        main(
            [
                "extract-features",
                "--data",
                str(demo_dir),
                "--modality",
                "video",
                "--encoder",
                "builtin",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "pass --overwrite" in capsys.readouterr().err


def test_keras_hub_and_keras_applications_specs():
    from pretrained import load_or_skip

    from mmrec_tf.encoders import minilm_directory

    directory = load_or_skip(minilm_directory)
    extractor = build_extractor(f"keras_hub:{directory}", "text")
    assert extractor.encoder.exact_gelu and not extractor.encoder.trainable
    assert extractor.options["text"].vocabulary == str(directory / "vocab.txt")
    image = build_extractor("keras_applications:MobileNetV2:none", "image")
    assert image.encoder.output_dim == 1280
    assert image.encoder.preprocessing == "keras_applications.mobilenet_v2"


def test_builtin_encoders_are_seeded_without_touching_the_callers_seed():
    import random

    import keras

    random.seed(123)
    before = random.getstate()
    first = extract.builtin_encoder("image")
    assert random.getstate() == before  # what the caller seeded goes on unchanged
    second = extract.builtin_encoder("image")
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # Weights made after it follow the caller's seed, not the encoder's.
    keras.utils.set_random_seed(1)
    extract.builtin_encoder("text")
    after_encoder = keras.initializers.GlorotUniform()((4, 4)).numpy()
    keras.utils.set_random_seed(1)
    alone = keras.initializers.GlorotUniform()((4, 4)).numpy()
    np.testing.assert_array_equal(after_encoder, alone)


def test_a_bad_file_stops_extraction_with_its_name_and_leaves_nothing(demo_dir, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    image = sorted((data / "images").iterdir())[3]
    image.unlink()
    image.mkdir()  # a directory where the image should be
    out = tmp_path / "features"
    with pytest.raises(extract.MediaError, match=f"images/{image.name}.*is a directory"):
        extract_features(data, "image", "builtin", out, progress=False, chunk_size=64)
    assert not out.exists()
