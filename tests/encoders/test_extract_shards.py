"""`extract-features --shard I/N` on N machines, then `merge-features`."""

import concurrent.futures
import json
import shutil

import numpy as np
import pytest
from cli_process import assert_clean_success, run_cli, train_cli
from extraction_testing import BatchCounter

from mmrec_tf.cli import main
from mmrec_tf.data import load_dataset
from mmrec_tf.data.feature_cache import FeatureCache, FeatureShard
from mmrec_tf.encoders.extract import extract_features

# Text: the cheapest of the builtin encoders. 200 demo items in 3 shards: 66, 67 and 67.
MODALITY = "text"


@pytest.fixture(scope="module")
def whole(demo_features):
    """One unsharded extraction (the session's builtin features of the demo): what the
    merged shards must equal. Tests must not modify it."""
    return FeatureCache(demo_features)


@pytest.fixture(scope="module")
def three_shards(demo_dir, tmp_path_factory):
    """A features folder holding shards 0/3, 1/3 and 2/3, not merged."""
    out = tmp_path_factory.mktemp("shards")
    for index in range(3):
        extract_features(
            demo_dir, MODALITY, "builtin", out, shard=FeatureShard(index, 3), progress=False
        )
    return out


@pytest.fixture
def shards(three_shards, tmp_path):
    """A copy of the three shards that a test may break."""
    return FeatureCache(shutil.copytree(three_shards, tmp_path / "features"))


def _shard_json(cache, index, count=3):
    return cache.metadata_path(MODALITY, FeatureShard(index, count))


def test_the_shards_are_contiguous_ranges_of_the_item_order():
    # ⌊I·n/N⌋ … ⌊(I+1)·n/N⌋ − 1, written out for n = 200, N = 3.
    assert [FeatureShard(i, 3).items(200) for i in range(3)] == [
        range(0, 66),
        range(66, 133),
        range(133, 200),
    ]
    assert FeatureShard.parse("2/3") == FeatureShard(2, 3)


def test_merged_shards_are_the_unsharded_features(whole, shards, demo_dir):
    assert FeatureCache(shards.folder).modalities() == []  # shards are no modality's features
    path = shards.merge_shards(MODALITY)
    assert path == shards.features_path(MODALITY)
    merged, reference = np.load(path), np.load(whole.features_path(MODALITY))
    assert merged.dtype == np.float32 and merged.shape == reference.shape == (200, 64)
    # Batches start elsewhere in a shard and texts are padded to their batch's longest.
    np.testing.assert_allclose(merged, reference, atol=1e-6)
    assert shards.metadata(MODALITY) == whole.metadata(MODALITY)
    features, present = shards.load(load_dataset(demo_dir))
    assert features[MODALITY].shape == (200, 64) and present[MODALITY].shape == (200,)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        shards.merge_shards(MODALITY)


def test_a_missing_shard_is_named_and_nothing_is_written(shards):
    _shard_json(shards, 1).unlink()
    with pytest.raises(FileNotFoundError, match=r"text.shards lacks shard\(s\) 1/3"):
        shards.merge_shards(MODALITY)
    assert not shards.features_path(MODALITY).exists()


def test_a_shard_present_twice_is_named_and_nothing_is_written(shards):
    copy = _shard_json(shards, 1).with_name("00001-of-00003 (copy).json")
    shutil.copy(_shard_json(shards, 1), copy)
    shutil.copy(_shard_json(shards, 1).with_suffix(".npy"), copy.with_suffix(".npy"))
    with pytest.raises(
        ValueError, match=r"00001-of-00003.*json and .*00001-of-00003.*json are both shard 1/3"
    ):
        shards.merge_shards(MODALITY)
    assert not shards.features_path(MODALITY).exists()


@pytest.mark.parametrize(
    "key, value",
    [("spec", "keras_hub:other"), ("weights_sha256", "0" * 64), ("item_ids_sha256", "0" * 64)],
)
def test_a_shard_made_otherwise_is_named_by_the_cli(shards, key, value, capsys):
    shard = _shard_json(shards, 2)
    metadata = json.loads(shard.read_text())
    shard.write_text(json.dumps({**metadata, key: value}))
    status = main(["merge-features", "--features", str(shards.folder), "--modality", MODALITY])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"mmrec-tf: error: {shard} has {key} {value!r}, unlike ")
    assert not shards.features_path(MODALITY).exists()


def test_a_shard_of_another_count_is_named(shards, demo_dir):
    other = FeatureShard(3, 4)
    extract_features(demo_dir, MODALITY, "builtin", shards.folder, shard=other, progress=False)
    path = shards.metadata_path(MODALITY, other)
    with pytest.raises(ValueError, match=f"{path} has shard_count 4, unlike .*00000-of-00003"):
        shards.merge_shards(MODALITY)
    assert not shards.features_path(MODALITY).exists()


@pytest.mark.parametrize(
    "shard, message",
    [
        ("3/3", "a shard I/N needs 0 ≤ I < N"),
        ("0/0", "a shard I/N needs 0 ≤ I < N"),
        ("a/b", "a shard is I/N, e.g. 0/4"),
        ("1", "a shard is I/N, e.g. 0/4"),
        ("-1/3", "a shard is I/N, e.g. 0/4"),
    ],
)
def test_a_bad_shard_argument_is_a_clear_cli_error(shard, message, demo_dir, tmp_path, capsys):
    out = tmp_path / "features"
    args = ["extract-features", "--data", str(demo_dir), "--modality", MODALITY]
    assert main([*args, "--encoder", "builtin", "--out", str(out), f"--shard={shard}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mmrec-tf: error: --shard: {message}") and err.count("\n") == 1
    assert not out.exists()


def test_more_shards_than_items_is_an_error(demo_dir, tmp_path, capsys):
    args = ["extract-features", "--data", str(demo_dir), "--modality", MODALITY]
    args += ["--encoder", "builtin", "--out", str(tmp_path / "features"), "--shard", "0/201"]
    assert main(args) == 2
    assert "201 shards for 200 items" in capsys.readouterr().err
    assert not (tmp_path / "features").exists()


def test_an_interrupted_shard_resumes(three_shards, demo_dir, tmp_path, monkeypatch):
    counter = BatchCounter(monkeypatch, interrupt_at=3)
    shard, out = FeatureShard(1, 3), tmp_path / "features"

    def extract_shard():  # 67 items: chunks (and batches) of 20, 20, 20 and 7
        return extract_features(
            demo_dir,
            MODALITY,
            "builtin",
            out,
            shard=shard,
            chunk_size=20,
            batch_size=20,
            progress=False,
        )

    with pytest.raises(KeyboardInterrupt):
        extract_shard()
    partial = out / "text.shards" / ".00001-of-00003.partial"
    assert sorted(p.name for p in partial.iterdir()) == [
        "chunk_00000.npy",
        "chunk_00001.npy",
        "manifest.json",
    ]
    assert not (out / ".text.partial").exists()  # an unsharded run's is another folder
    counter.interrupt_at = None
    resumed = np.load(extract_shard())
    assert counter.batches == 3 + 2  # the two finished chunks were not encoded again
    reference = FeatureCache(three_shards).features_path(MODALITY, shard)
    np.testing.assert_allclose(resumed, np.load(reference), atol=1e-6)
    assert not partial.exists()


@pytest.mark.large
def test_shards_from_three_processes_merge(whole, demo_dir, tmp_path):
    features = tmp_path / "features"

    def extract_shard(index):
        return run_cli(
            *("extract-features", "--data", demo_dir, "--modality", MODALITY),
            *("--encoder", "builtin", "--out", features, "--shard", f"{index}/3"),
        )

    # As on three machines sharing a folder: all at once.
    with concurrent.futures.ThreadPoolExecutor(3) as machines:
        for extracted in machines.map(extract_shard, range(3)):
            stdout = assert_clean_success(extracted)
            assert f"merge-features --features {features} --modality text" in stdout
    merged = assert_clean_success(
        run_cli("merge-features", "--features", features, "--modality", MODALITY)
    )
    assert f"wrote {features / 'text.npy'}" in merged
    np.testing.assert_allclose(
        np.load(features / "text.npy"), np.load(whole.features_path(MODALITY)), atol=1e-6
    )


@pytest.mark.large
def test_training_reads_merged_features(shards, demo_dir, tmp_path):
    shards.merge_shards(MODALITY)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"options": {"embedding_dim": 8}, "epochs": 1}))
    trained = assert_clean_success(
        train_cli(demo_dir, config, tmp_path / "run", features=shards.folder)
    )
    assert "best epoch 1 of 1" in trained
