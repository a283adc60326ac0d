"""`extract-features --append`: encoding only the items added at the end of items.csv."""

import csv
import json
import os
import shutil

import numpy as np
import pytest
from cli_process import assert_clean_success, run_cli
from extraction_testing import BatchCounter

from mmrec_tf.cli import main
from mmrec_tf.data import MediaError
from mmrec_tf.data.feature_cache import FeatureCache, FeatureShard
from mmrec_tf.encoders.extract import extract_features

# The demo's last 20 of 200 items are the new ones; one of them lacks each modality.
NEW = 20
NEW_AND_MISSING = {"text": "item0185", "image": "item0183"}
HELD = 200 - NEW
# An append of the 20 in chunks of 8 (8, 8, 4), 4 items a batch: 5 batches.
SMALL = {"batch_size": 4, "chunk_size": 8, "progress": False}


def _dataset_of(root, out, choose):
    """Writes at `out` the dataset at `root` with the items.csv rows `choose(rows)`
    returns and the interactions with them; the other files are hard links (a
    symbolic link out of a dataset is refused)."""
    with open(root / "items.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns, items = reader.fieldnames, choose(list(reader))
    with open(root / "interactions.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        kept = {row["item_id"] for row in items}
        header, interactions = reader.fieldnames, [r for r in reader if r["item_id"] in kept]
    out.mkdir(parents=True)
    for entry in root.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, copy_function=os.link)
        elif entry.name not in ("items.csv", "interactions.csv"):
            os.link(entry, out / entry.name)
    for name, fields, rows in (
        ("items.csv", columns, items),
        ("interactions.csv", header, interactions),
    ):
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return out


def _snapshot(folder):
    """Every file under `folder`, hidden ones included: {relative path: (bytes, mtime)}."""
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier(demo_dir, tmp_path_factory):
    """The demo dataset before its last NEW items arrived."""
    return _dataset_of(demo_dir, tmp_path_factory.mktemp("earlier") / "data", lambda r: r[:HELD])


@pytest.fixture(scope="module")
def earlier_features(earlier, tmp_path_factory):
    out = tmp_path_factory.mktemp("earlier_features")
    for modality in ("text", "image"):
        extract_features(earlier, modality, "builtin", out, progress=False)
    return out


@pytest.fixture
def features(earlier_features, tmp_path):
    """A copy of the earlier dataset's features that a test may append to."""
    return FeatureCache(shutil.copytree(earlier_features, tmp_path / "features"))


@pytest.mark.parametrize("modality", ["text", "image"])
def test_an_append_gives_a_whole_extractions_rows_encoding_only_the_new_items(
    modality, features, demo_dir, demo_features, monkeypatch
):
    before = np.load(features.features_path(modality))
    counter = BatchCounter(monkeypatch, interrupt_at=None)
    path = extract_features(demo_dir, modality, "builtin", features.folder, append=True, **SMALL)
    assert counter.batches == 5  # the 20 new items, 4 a batch
    whole = FeatureCache(demo_features)
    appended = np.load(path)
    np.testing.assert_array_equal(appended[:HELD], before)
    # Texts are padded to their batch's longest, and batches start elsewhere.
    np.testing.assert_allclose(appended, np.load(whole.features_path(modality)), atol=1e-6)
    assert features.metadata(modality) == whole.metadata(modality)
    assert NEW_AND_MISSING[modality] in features.metadata(modality)["missing_item_ids"]
    assert not features.partial_folder(modality).exists()


def test_an_append_with_no_new_item_rewrites_nothing(features, earlier, monkeypatch):
    before = _snapshot(features.folder)
    counter = BatchCounter(monkeypatch, interrupt_at=None)
    path = extract_features(earlier, "text", "builtin", features.folder, append=True, **SMALL)
    assert path == features.features_path("text") and counter.batches == 0
    assert _snapshot(features.folder) == before


def test_an_append_stopped_between_the_array_and_its_json_is_done_again(
    features, demo_dir, demo_features
):
    # The array of an append already written, its JSON not yet: the JSON says what holds.
    whole = FeatureCache(demo_features)
    shutil.copy(whole.features_path("text"), features.features_path("text"))
    path = extract_features(demo_dir, "text", "builtin", features.folder, append=True, **SMALL)
    np.testing.assert_allclose(np.load(path), np.load(whole.features_path("text")), atol=1e-6)
    assert features.metadata("text") == whole.metadata("text")


def _edit_json(key, value):
    def edit(features, data):
        metadata = features.metadata("text")
        features.metadata_path("text").write_text(json.dumps({**metadata, key: value}))
        return data, {}

    return edit


def _reordered(features, data):
    swap = lambda r: [*r[:3], r[4], r[3], *r[5:]]  # noqa: E731
    return _dataset_of(data, features.folder.parent / "reordered", swap), {}


def _shortened(features, data):
    return _dataset_of(data, features.folder.parent / "short", lambda r: r[: HELD - 5]), {}


def _stale_partial(features, data):
    features.partial_folder("text").mkdir()
    manifest = {"spec": "builtin", "first_item": 170}
    (features.partial_folder("text") / "manifest.json").write_text(json.dumps(manifest))
    return data, {}


REFUSALS = {
    "with --overwrite": (
        lambda features, data: (data, {"overwrite": True}),
        ValueError,
        "--append adds the rows of new items to existing features: it goes with neither "
        "--overwrite nor --shard",
    ),
    "with --shard": (
        lambda features, data: (data, {"shard": FeatureShard(0, 2)}),
        ValueError,
        "goes with neither --overwrite nor --shard",
    ),
    "another spec": (
        _edit_json("spec", "minilm"),
        ValueError,
        "text.json was made with spec 'minilm', not 'builtin': --append needs the encoder",
    ),
    "other weights": (
        _edit_json("weights_sha256", "0" * 64),
        ValueError,
        f"text.json was made with weights_sha256 '{'0' * 64}', not '",
    ),
    "other decoding options": (
        _edit_json("options", {"text": {}}),
        ValueError,
        "text.json was made with options {'text': {}}, not {}",
    ),
    "items in another order": (
        _reordered,
        ValueError,
        "text.json has item 'item0003' at row 3, where the dataset has 'item0004': --append "
        "only adds items at the end of items.csv",
    ),
    "fewer items": (
        _shortened,
        ValueError,
        "text.json has item 'item0175' at row 175, where the dataset has no item",
    ),
    "another run's partial": (
        _stale_partial,
        FileExistsError,
        "holds an interrupted extraction with another encoder or dataset; pass --overwrite to "
        "start again (with --append: remove that folder)",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_name_the_problem_and_leave_the_files_as_they_were(case, features, demo_dir):
    setup, error, message = REFUSALS[case]
    data, options = setup(features, demo_dir)
    before = _snapshot(features.folder)
    with pytest.raises(error) as raised:
        extract_features(data, "text", "builtin", features.folder, append=True, **options)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert _snapshot(features.folder) == before


def test_an_append_needs_features_to_append_to(demo_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="run `mmrec-tf extract-features` without --append"):
        extract_features(demo_dir, "text", "builtin", tmp_path / "none", append=True)
    assert not (tmp_path / "none").exists()
    # And the refusal to overwrite says how to add the new items instead.
    extract_features(demo_dir, "text", "builtin", tmp_path, progress=False)
    with pytest.raises(FileExistsError, match="or --append to encode only the items it lacks"):
        extract_features(demo_dir, "text", "builtin", tmp_path, progress=False)


def _grown_with_a_bad_poster(demo_dir, out):
    """A copy of the demo dataset where a new item's poster (item0189's, in the second
    chunk of the new items) is not a picture; returns (dataset, poster)."""
    grown = _dataset_of(demo_dir, out, lambda rows: rows)
    poster = grown / "images" / "item0189.png"
    poster.unlink()  # the link only: the demo's file stays
    poster.write_bytes(b"not a picture")
    return grown, poster


def test_an_append_stopped_by_a_bad_file_resumes_once_it_is_fixed(
    features, demo_dir, demo_features, tmp_path, monkeypatch
):
    grown, poster = _grown_with_a_bad_poster(demo_dir, tmp_path / "grown")
    before = _snapshot(features.folder)
    with pytest.raises(MediaError, match="item0189"):
        extract_features(grown, "image", "builtin", features.folder, append=True, **SMALL)
    partial = features.partial_folder("image")
    assert sorted(p.name for p in partial.iterdir()) == ["chunk_00000.npy", "manifest.json"]
    after = _snapshot(features.folder)
    assert {k: v for k, v in after.items() if k.parts[0] != partial.name} == before
    poster.unlink()
    os.link(demo_dir / "images" / poster.name, poster)
    counter = BatchCounter(monkeypatch, interrupt_at=None)
    path = extract_features(grown, "image", "builtin", features.folder, append=True, **SMALL)
    assert counter.batches == 3  # the second and third chunks: 8 and 4 items
    whole = FeatureCache(demo_features)
    np.testing.assert_allclose(np.load(path), np.load(whole.features_path("image")), atol=1e-6)
    assert features.metadata("image") == whole.metadata("image")
    assert not partial.exists()


def test_a_bad_new_file_masked_is_listed_as_failed(features, demo_dir, tmp_path):
    grown, _ = _grown_with_a_bad_poster(demo_dir, tmp_path / "grown")
    path = extract_features(
        grown, "image", "builtin", features.folder, append=True, on_error="mask", **SMALL
    )
    assert features.metadata("image")["failed_item_ids"] == ["item0189"]
    appended = np.load(path)
    assert appended.shape[0] == 200 and not appended[189].any() and appended[188].any()


def _append_args(demo_dir, features):
    return [
        *("extract-features", "--data", str(demo_dir), "--modality", "text"),
        *("--encoder", "builtin", "--out", str(features.folder), "--append"),
    ]


def test_the_cli_says_what_it_appended_and_refuses_in_one_line(features, demo_dir, capsys):
    args = _append_args(demo_dir, features)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.endswith(f"the rows of {NEW} new item(s) after the {HELD} it held\n")
    assert main(args) == 0
    npy = features.features_path("text")
    assert capsys.readouterr().out == (
        f"no new items: {npy} already holds all 200 items of {demo_dir}\n"
    )
    assert main([*args, "--shard", "0/2"]) == 2
    assert capsys.readouterr().err == (
        "mmrec-tf: error: --append adds the rows of new items to existing features: it goes "
        "with neither --overwrite nor --shard\n"
    )


@pytest.mark.large
def test_the_cli_appends_in_its_own_process(features, demo_dir):
    args = _append_args(demo_dir, features)
    out = assert_clean_success(run_cli(*args))
    assert f"the rows of {NEW} new item(s) after the {HELD} it held" in out
    assert "no new items" in assert_clean_success(run_cli(*args))
