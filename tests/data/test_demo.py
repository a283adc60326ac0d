import csv
import filecmp

import numpy as np
import pytest

from mmrec_tf.data import (
    ImageOptions,
    ItemLoader,
    VideoOptions,
    decode_wav,
    generate_demo_dataset,
    load_dataset,
    validate_dataset,
)
from mmrec_tf.data.demo import ATTRIBUTES, COLORS, MOTIONS, PITCHES_HZ, TOPICS


def _attributes(demo_dir):
    with open(demo_dir / "attributes.csv", newline="") as f:
        return {row["item_id"]: row for row in csv.DictReader(f)}


def test_same_arguments_give_the_same_files(demo_dir, tmp_path):
    again = generate_demo_dataset(tmp_path / "again")
    comparison = filecmp.dircmp(demo_dir, again)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    for sub in ("images", "audio", "video"):
        _, mismatch, errors = filecmp.cmpfiles(
            demo_dir / sub,
            again / sub,
            [p.name for p in (demo_dir / sub).iterdir() if p.is_file()],
            shallow=False,
        )
        assert not mismatch and not errors


def test_demo_dataset_validates_and_lacks_some_of_each_modality(demo_dir):
    report = validate_dataset(demo_dir)
    assert report.ok, report.format()
    summary = report.summary
    assert (summary["items"], summary["users"]) == (200, 150)
    assert all(150 <= summary["items_with"][m] < 200 for m in ("text", "image", "audio", "video"))
    dataset = load_dataset(demo_dir)
    has_any = np.zeros(dataset.num_items, bool)
    for modality in ("text", "image", "audio", "video"):
        has_any |= dataset.modality_available(modality)
    assert has_any.all()
    kinds = {p.suffix for p in (demo_dir / "images").iterdir()}
    assert kinds == {".jpg", ".png"}
    assert any(p.suffix == ".mp4" for p in (demo_dir / "video").iterdir())
    assert any(p.is_dir() for p in (demo_dir / "video").iterdir())


def test_each_attribute_is_visible_in_its_own_modality(demo_dir):
    dataset = load_dataset(demo_dir)
    truth = _attributes(demo_dir)
    loader = ItemLoader(
        dataset,
        ["image", "video"],
        image=ImageOptions(size=(64, 64)),
        video=VideoOptions(num_frames=12, size=(32, 32)),
    )
    colors = np.array(list(COLORS.values())) / 255.0
    steps = {tuple(np.array(v) * 3 % 32): k for k, v in MOTIONS.items()}
    hits = {"color": [], "pitch": [], "motion": [], "topic": []}
    for i, item_id in enumerate(dataset.item_ids):
        if dataset.media["image"][i]:
            image, _ = loader.load("image", i)
            mean = np.median(image.reshape(-1, 3), axis=0)
            nearest = list(COLORS)[np.argmin(((colors - mean) ** 2).sum(axis=1))]
            hits["color"].append(nearest == truth[item_id]["color"])
        if dataset.media["audio"][i]:
            waveform = decode_wav((demo_dir / dataset.media["audio"][i]).read_bytes()).numpy()
            peak = np.abs(np.fft.rfft(waveform[:16000])).argmax()  # 1 Hz per bin
            nearest = min(PITCHES_HZ, key=lambda f: abs(f - peak))
            hits["pitch"].append(f"{nearest:g}Hz" == truth[item_id]["pitch"])
        if dataset.media["video"][i]:
            video, _ = loader.load("video", i)
            grey = video.mean(axis=-1)
            shifts = []
            for a, b in zip(grey[:-1], grey[1:], strict=True):
                correlation = np.fft.ifft2(np.fft.fft2(b) * np.conj(np.fft.fft2(a))).real
                shifts.append(np.unravel_index(correlation.argmax(), correlation.shape))
            values, counts = np.unique(np.array(shifts), axis=0, return_counts=True)
            hits["motion"].append(
                steps.get(tuple(values[counts.argmax()])) == truth[item_id]["motion"]
            )
        if dataset.text[i]:
            words = set(dataset.text[i].lower().strip(".").split())
            found = [t for t, vocabulary in TOPICS.items() if words & set(vocabulary.split())]
            hits["topic"].append(found == [truth[item_id]["topic"]])
    for attribute, found in hits.items():
        assert len(found) > 150 and np.mean(found) >= 0.97, (attribute, np.mean(found))


def test_users_prefer_attribute_values(demo_dir):
    dataset = load_dataset(demo_dir)
    truth = _attributes(demo_dir)
    rng = np.random.default_rng(0)
    for attribute in ATTRIBUTES:
        values = np.array([truth[i][attribute] for i in dataset.item_ids])
        shuffled = rng.permutation(values)

        def top_share(item_values):
            shares = []
            for u in range(dataset.num_users):
                chosen = item_values[dataset.interaction_items[dataset.interaction_users == u]]
                shares.append(np.unique(chosen, return_counts=True)[1].max() / len(chosen))
            return np.mean(shares)

        assert top_share(values) > top_share(shuffled) + 0.1, attribute


def test_refuses_to_write_over_existing_files(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="already exists and is not empty"):
        generate_demo_dataset(out)
    assert (out / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError, match="interactions_per_user"):
        generate_demo_dataset(tmp_path / "out", interactions_per_user=(50, 10))
    with pytest.raises(ValueError, match="num_items"):
        generate_demo_dataset(tmp_path / "out", num_items=3)
    assert list(tmp_path.iterdir()) == []
