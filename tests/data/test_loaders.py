import shutil

import numpy as np
import pytest
import tensorflow as tf
from media_files import wav_bytes

from mmrec_tf.data import (
    AudioOptions,
    ImageOptions,
    ItemLoader,
    MediaError,
    TextOptions,
    VideoOptions,
    interactions_dataset,
    load_dataset,
)

SMALL = {
    "image": ImageOptions(size=(16, 16)),
    "audio": AudioOptions(duration=0.5, num_mel_bins=16),
    "video": VideoOptions(num_frames=3, size=(8, 8)),
    "text": TextOptions(sequence_length=12),
}


def test_demo_items_decode_with_documented_shapes_and_masks(demo_dir):
    dataset = load_dataset(demo_dir)
    loader = ItemLoader(dataset, **SMALL)
    elements = list(loader.as_dataset(batch_size=64))
    batch = {k: np.concatenate([e[k].numpy() for e in elements]) for k in elements[0]}
    n = dataset.num_items
    assert batch["item_index"].tolist() == list(range(n))
    assert batch["image"].shape == (n, 16, 16, 3)
    assert batch["audio"].shape == (n, loader.audio_options.num_frames, 16)
    assert batch["video"].shape == (n, 3, 8, 8, 3)
    assert batch["text_token_ids"].shape == (n, 12)
    for modality in ("text", "image", "audio", "video"):
        present = dataset.modality_available(modality)
        np.testing.assert_array_equal(batch[f"{modality}_mask"], present)
        assert 0 < (~present).sum() < n, f"the demo should lack some {modality}"
    for modality in ("image", "audio", "video"):
        missing = ~batch[f"{modality}_mask"]
        assert not batch[modality][missing].any()
        assert np.isfinite(batch[modality]).all()
        assert batch[modality][~missing].reshape((~missing).sum(), -1).std(axis=1).min() > 0
    no_text = ~batch["text_mask"]
    assert not batch["text_token_ids"][no_text].any()
    assert not batch["text_padding_mask"][no_text].any()


def test_shuffle_is_deterministic_under_a_seed_and_cache_gives_the_same_items(demo_dir):
    loader = ItemLoader(load_dataset(demo_dir), ["text"], text=SMALL["text"])

    def order(ds):
        return [int(e["item_index"]) for e in ds]

    first = loader.as_dataset(shuffle=True, seed=7)
    epoch1, epoch2 = order(first), order(first)
    assert epoch1 == order(loader.as_dataset(shuffle=True, seed=7))
    assert epoch1 != epoch2 and sorted(epoch1) == list(range(200))
    cached = loader.as_dataset(items=[5, 3, 9], cache=True)
    assert order(cached) == order(cached) == [5, 3, 9]


def test_loader_rejects_bad_arguments(demo_dir):
    dataset = load_dataset(demo_dir)
    with pytest.raises(ValueError, match="on_error must be one of"):
        ItemLoader(dataset, on_error="ignore")
    with pytest.raises(ValueError, match="unknown modalities"):
        ItemLoader(dataset, ["smell"])
    with pytest.raises(ValueError, match="item index 200 is out of range"):
        ItemLoader(dataset, ["text"]).as_dataset(items=[0, 200])


@pytest.fixture
def faulty_dataset(make_dataset, demo_dir):
    """One good file of each kind, and each fault, named by item id."""
    jpeg = tf.io.encode_jpeg(tf.fill([32, 32, 3], tf.constant(90, tf.uint8))).numpy()
    png = tf.io.encode_png(tf.fill([32, 32, 3], tf.constant(90, tf.uint8))).numpy()
    t = np.arange(44100) / 44100
    stereo = wav_bytes(np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.5, 44100)
    mono = wav_bytes(np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 0.5, 16000)
    files = {
        "good.jpg": jpeg,
        "png_named.jpg": png,
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "text.jpg": b"this is a text file, not an image\n",
        "stereo44k.wav": stereo,
        "truncated.wav": mono[: len(mono) // 3],
    }
    items = [
        {"item_id": "good", "image": "good.jpg", "audio": "stereo44k.wav", "video": "frames"},
        {"item_id": "png_named_jpg", "image": "png_named.jpg", "audio": "", "video": ""},
        {"item_id": "truncated_jpeg", "image": "truncated.jpg", "audio": "", "video": ""},
        {"item_id": "text_as_jpeg", "image": "text.jpg", "audio": "", "video": ""},
        {"item_id": "truncated_wav", "image": "", "audio": "truncated.wav", "video": ""},
        {"item_id": "missing_file", "image": "nowhere.jpg", "audio": "", "video": ""},
        {"item_id": "empty_frames", "image": "", "audio": "", "video": "empty"},
    ]
    root = make_dataset(items)
    for name, content in files.items():
        (root / name).write_bytes(content)
    (root / "empty").mkdir()
    video_rows = (demo_dir / "items.csv").read_text().splitlines()
    frames = next(
        r.split(",")[-1] for r in video_rows[1:] if r.split(",")[-1] and not r.endswith(".mp4")
    )
    shutil.copytree(demo_dir / frames, root / "frames")
    return load_dataset(root)


FAULTS = {
    ("truncated_jpeg", "image"): "truncated.jpg",
    ("text_as_jpeg", "image"): "text.jpg",
    ("truncated_wav", "audio"): "truncated.wav",
    ("missing_file", "image"): "nowhere.jpg",
    ("empty_frames", "video"): "empty",
}


@pytest.mark.parametrize("item_id, modality", list(FAULTS))
def test_each_fault_raises_an_error_naming_file_and_item(faulty_dataset, item_id, modality):
    loader = ItemLoader(faulty_dataset, [modality], **{modality: SMALL[modality]})
    item = faulty_dataset.item_index[item_id]
    with pytest.raises(MediaError) as info:
        loader.load(modality, item)
    assert info.value.path == FAULTS[item_id, modality] and info.value.item_id == item_id
    assert f"file {FAULTS[item_id, modality]!r} of item {item_id!r}" in str(info.value)
    # Inside tf.data the error keeps the file's name.
    with pytest.raises(tf.errors.OpError, match=f"{FAULTS[item_id, modality]}.*{item_id}"):
        list(loader.as_dataset(items=[item]))


def test_mask_policy_masks_bad_files_and_records_them(faulty_dataset):
    loader = ItemLoader(
        faulty_dataset,
        ["image", "audio", "video"],
        on_error="mask",
        image=SMALL["image"],
        audio=SMALL["audio"],
        video=SMALL["video"],
    )
    batch = next(iter(loader.as_dataset(batch_size=100)))
    index = faulty_dataset.item_index
    recorded = {(e.item_id, e.modality): e.path for e in loader.errors}
    assert recorded == {key: path for key, path in FAULTS.items()}
    assert batch["image_mask"].numpy().tolist() == [True, True, False, False, False, False, False]
    assert batch["audio_mask"].numpy().tolist() == [True] + [False] * 6
    assert batch["video_mask"].numpy().tolist() == [True] + [False] * 6
    # The PNG named .jpg decodes to the same picture as the JPEG.
    good, png = batch["image"][index["good"]], batch["image"][index["png_named_jpg"]]
    np.testing.assert_allclose(png, good, atol=2 / 255)
    np.testing.assert_allclose(png, 90 / 255, atol=1e-6)


def test_valid_stereo_44k_wav_loads_like_its_mono_16k_twin(faulty_dataset):
    loader = ItemLoader(faulty_dataset, ["audio"], audio=SMALL["audio"])
    spectrogram, present = loader.load("audio", faulty_dataset.item_index["good"])
    assert present
    t = np.arange(8000) / 16000
    twin = tf.constant(wav_bytes(0.5 * np.sin(2 * np.pi * 440 * t), 16000))
    from mmrec_tf.data import decode_audio

    expected = np.exp(decode_audio(twin, SMALL["audio"]).numpy())
    np.testing.assert_allclose(np.exp(spectrogram), expected, atol=1e-3 * expected.max())


def test_interactions_dataset_yields_each_split(demo_dir):
    dataset = load_dataset(demo_dir)
    for split, count in dataset.split_counts().items():
        rows = list(interactions_dataset(dataset, split, batch_size=10_000))[0]
        users, items = dataset.interactions(split)
        assert len(rows["user_index"]) == count
        np.testing.assert_array_equal(rows["user_index"], users)
        np.testing.assert_array_equal(rows["item_index"], items)
        assert rows["rating"].dtype == tf.float32
    shuffled = interactions_dataset(dataset, "train", shuffle=True, seed=1, batch_size=10_000)
    first = next(iter(shuffled))["item_index"].numpy()
    assert sorted(first.tolist()) == sorted(dataset.interactions("train")[1].tolist())


def test_raw_text_and_waveforms_for_encoders_that_need_them(demo_dir):
    dataset = load_dataset(demo_dir)
    loader = ItemLoader(
        dataset,
        ["text", "audio"],
        text=TextOptions(output="string"),
        audio=AudioOptions(duration=0.5, output="waveform"),
    )
    batch = next(iter(loader.as_dataset(batch_size=200)))
    texts = [t.decode() for t in batch["text"].numpy()]
    assert texts == [t or "" for t in dataset.text]
    assert batch["audio"].shape == (200, 8000)
    with_audio = batch["audio_mask"].numpy()
    assert np.abs(batch["audio"].numpy()[with_audio]).max(axis=1).min() > 0.05
    with pytest.raises(ValueError, match="output must be"):
        AudioOptions(output="mfcc")
