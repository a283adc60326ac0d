import csv
import zipfile

import numpy as np
import pytest

from mmrec_tf.data import (
    ImageOptions,
    ItemLoader,
    TextOptions,
    load_dataset,
    prepare_movielens_100k,
    validate_dataset,
)
from mmrec_tf.data.movielens import PLOT_PLACEHOLDER


def _items(root):
    with open(root / "items.csv", newline="", encoding="utf-8") as f:
        return {row["item_id"]: row for row in csv.DictReader(f)}


def test_prepared_ml100k_mm_validates_with_the_published_counts(ml100k_dir):
    report = validate_dataset(ml100k_dir)
    assert report.ok, report.format()
    assert report.summary == {
        "items": 1682,
        "users": 943,
        "interactions": 100_000,
        "splits": {"train": 80_024, "valid": 9_988, "test": 9_988},
        "items_with": {"text": 1682, "image": 1623, "audio": 0, "video": 0},
    }


def test_item_text_joins_title_genres_directors_plot_and_cast(ml100k_dir, ml100k_mm_source):
    items = _items(ml100k_dir)
    toy_story = items["1"]
    assert toy_story["text"].startswith(
        "Toy Story (1995). Animation, Children's, Comedy. Directed by John Lasseter. "
    )
    assert "Starring Tom Hanks" in toy_story["text"]
    assert toy_story["genres"] == "Animation|Children's|Comedy"
    assert toy_story["image"] == "posters/1.jpg"
    assert not any(PLOT_PLACEHOLDER in row["text"] for row in items.values())
    assert sum(bool(row["plot"]) for row in items.values()) == 1591 - 51
    # Latin-1 titles arrive as proper UTF-8 text.
    assert any("é" in row["title"] for row in items.values())
    without_imdb = [row for row in items.values() if not row["director"]]
    assert len(without_imdb) == 1682 - 1591
    assert all(row["text"].count(".") <= 2 + row["title"].count(".") for row in without_imdb)


def test_ml100k_loaders_decode_posters_and_text(ml100k_dir):
    dataset = load_dataset(ml100k_dir)
    missing = next(i for i in range(dataset.num_items) if dataset.media["image"][i] is None)
    loader = ItemLoader(
        dataset,
        ["text", "image"],
        image=ImageOptions(size=(32, 32)),
        text=TextOptions(sequence_length=32),
    )
    batch = next(iter(loader.as_dataset(items=[0, 1, missing], batch_size=3)))
    assert batch["image_mask"].numpy().tolist() == [True, True, False]
    assert batch["image"].shape == (3, 32, 32, 3)
    assert 0.05 < float(batch["image"][0].numpy().std()) and not batch["image"][2].numpy().any()
    assert batch["text_padding_mask"].numpy().all(axis=1).tolist() == [True, True, True]


def _ml100k_zip(source, path, corrupt=False):
    with zipfile.ZipFile(path, "w") as zf:
        data = (source / "u.data").read_bytes()
        zf.writestr("ml-100k/u.data", data[:-2] + b"9\n" if corrupt else data)
        zf.writestr("ml-100k/u.item", (source / "u.item").read_bytes())
        zf.writestr("ml-100k/README", "MovieLens 100K")
    return path.as_uri()


def test_download_path_checks_and_caches_the_archive(ml100k_mm_source, tmp_path):
    url = _ml100k_zip(ml100k_mm_source, tmp_path / "ml-100k.zip")
    cache = tmp_path / "cache"
    out = prepare_movielens_100k(tmp_path / "out", url=url, cache_dir=cache)
    dataset = load_dataset(out)
    assert (dataset.num_items, dataset.num_users, dataset.num_interactions) == (1682, 943, 100_000)
    assert dataset.split_counts() == {"train": 80_024, "valid": 9_988, "test": 9_988}
    assert _items(out)["1"]["text"] == "Toy Story (1995). Animation, Children's, Comedy."
    assert dataset.modality_counts()["image"] == 0
    # The archive is cached: a second run needs no download.
    (tmp_path / "ml-100k.zip").unlink()
    prepare_movielens_100k(tmp_path / "again", url=url, cache_dir=cache)
    assert (tmp_path / "again" / "items.csv").read_bytes() == (out / "items.csv").read_bytes()


def test_download_with_a_wrong_checksum_is_refused(ml100k_mm_source, tmp_path):
    url = _ml100k_zip(ml100k_mm_source, tmp_path / "bad.zip", corrupt=True)
    with pytest.raises(ValueError, match="has md5 .* expected 6e47046882bad158b0efbb84cd5cb987"):
        prepare_movielens_100k(tmp_path / "out", url=url, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "ml-100k").exists()


def test_source_must_be_movielens(tmp_path):
    with pytest.raises(FileNotFoundError, match="u.item not found"):
        prepare_movielens_100k(tmp_path / "out", tmp_path)


def test_reference_features_cover_every_prepared_item(ml100k_dir, ml100k_mm_source):
    features = np.load(ml100k_mm_source / "features" / "image_mobilenet_v2.npy", mmap_mode="r")
    missing = (ml100k_mm_source / "features" / "image_missing_item_ids.txt").read_text().split()
    dataset = load_dataset(ml100k_dir)
    assert features.shape[0] == dataset.num_items
    without_image = [
        dataset.item_ids[i] for i in range(dataset.num_items) if dataset.media["image"][i] is None
    ]
    assert without_image == missing
