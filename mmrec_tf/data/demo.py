"""The embedded demo dataset: synthetic items with real media files and a planted signal.

Every item has four hidden attributes with four values each, and each
attribute shows in one modality only:

* `color` in the image: the background hue (red, green, blue or yellow);
* `pitch` in the audio: the tone's fundamental (220, 440, 880 or 1760 Hz);
* `motion` in the video: the direction a square moves (right, left, down,
  up). Positions wrap around the frame, so any single frame looks alike for
  every direction: only the motion tells;
* `topic` in the text: words from one of four topics.

Everything else in each file is noise. Users prefer one value of each
attribute, with their own weights, and interact with items sampled by how well
they match, so a model that sees all four modalities can recommend better than
one that sees any single one. About a tenth of the items lack each media
modality. The hidden attributes are written to `attributes.csv` (for checks;
models must not read it).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmrec_tf.data.splits import temporal_split
from mmrec_tf.data.writing import new_output_dir, write_csv

ATTRIBUTES = ("color", "pitch", "motion", "topic")
COLORS = {
    "red": (200, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 200),
    "yellow": (220, 200, 40),
}
PITCHES_HZ = (220.0, 440.0, 880.0, 1760.0)
MOTIONS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}
TOPICS = {
    "space": "rocket orbit planet astronaut galaxy telescope comet launch lunar star",
    "cooking": "recipe kitchen flavour oven spice bake chef dinner sauce garlic",
    "sport": "match goal stadium team coach score league sprint trophy athlete",
    "nature": "forest river mountain wildlife meadow bird valley rain blossom trail",
}
_FILLER = (
    "the a an this that with about for and of in on story item new classic "
    "short long simple bright quiet modern old small big"
).split()
_MISSING_RATE = 0.1
_SAMPLE_RATE = 16000
_IMAGE_SIZE = 64
_VIDEO_SIZE = 32
_VIDEO_FRAMES = 12


def generate_demo_dataset(
    out: str | Path,
    *,
    num_items: int = 200,
    num_users: int = 150,
    interactions_per_user: tuple[int, int] = (15, 30),
    seed: int = 0,
    video_files: bool = True,
) -> Path:
    """Writes the demo dataset to `out` (which must not exist or be empty).

    The same arguments give the same files, byte for byte.

    Args:
        out: the directory to create.
        num_items: int. Defaults to 200.
        num_users: int. Defaults to 150.
        interactions_per_user: (min, max) interactions of each user.
        seed: int. Defaults to 0.
        video_files: write every other video as an MPEG-4 file (with PyAV)
            rather than a folder of frames. Defaults to True.

    Returns:
        The dataset directory.
    """
    if num_items < 8 or num_users < 1:
        raise ValueError(
            f"need num_items >= 8 and num_users >= 1. Received: {num_items}, {num_users}"
        )
    low, high = interactions_per_user
    if not 3 <= low <= high <= num_items:
        raise ValueError(
            f"interactions_per_user must satisfy 3 <= min <= max <= num_items. "
            f"Received: {interactions_per_user}"
        )
    rng = np.random.default_rng(seed)
    attributes = rng.integers(0, 4, size=(num_items, len(ATTRIBUTES)))
    missing = rng.random((num_items, 3)) < _MISSING_RATE
    text_missing = rng.random(num_items) < _MISSING_RATE / 2
    # Every item keeps at least one modality.
    all_gone = missing.all(axis=1) & text_missing
    text_missing[all_gone] = False

    with new_output_dir(out) as staging:
        for folder in ("images", "audio", "video"):
            (staging / folder).mkdir()
        rows = []
        for i in range(num_items):
            color, pitch, motion, topic = attributes[i]
            item_id = f"item{i:04d}"
            row = {
                "item_id": item_id,
                "title": f"Demo item {i}",
                "text": "" if text_missing[i] else _description(rng, topic),
            }
            row["image"] = "" if missing[i, 0] else _write_image(staging, item_id, color, rng, i)
            row["audio"] = "" if missing[i, 1] else _write_audio(staging, item_id, pitch, rng, i)
            row["video"] = (
                ""
                if missing[i, 2]
                else _write_video(staging, item_id, motion, rng, as_file=video_files and i % 2 == 1)
            )
            rows.append(row)
        write_csv(
            staging / "items.csv", ["item_id", "title", "text", "image", "audio", "video"], rows
        )
        names = [list(COLORS), [f"{p:g}Hz" for p in PITCHES_HZ], list(MOTIONS), list(TOPICS)]
        write_csv(
            staging / "attributes.csv",
            ["item_id", *ATTRIBUTES],
            [
                {
                    "item_id": r["item_id"],
                    **{a: names[k][attributes[i, k]] for k, a in enumerate(ATTRIBUTES)},
                }
                for i, r in enumerate(rows)
            ],
        )
        write_csv(
            staging / "interactions.csv",
            ["user_id", "item_id", "rating", "timestamp", "split"],
            _interactions(rng, attributes, num_users, low, high, [r["item_id"] for r in rows]),
        )
    return Path(out)


def _interactions(rng, attributes, num_users, low, high, item_ids):
    num_items = len(item_ids)
    one_hot = np.eye(4)[attributes]  # [items, attributes, 4]
    users, items, times = [], [], []
    for u in range(num_users):
        preferred = rng.integers(0, 4, size=len(ATTRIBUTES))
        weights = rng.dirichlet(np.full(len(ATTRIBUTES), 2.0)) * 8.0
        match = one_hot[:, np.arange(len(ATTRIBUTES)), preferred]  # [items, attributes]
        logits = match @ weights + rng.gumbel(size=num_items) * 0.5
        count = int(rng.integers(low, high + 1))
        chosen = np.argsort(-logits)[:count]
        rng.shuffle(chosen)
        start = int(rng.integers(1_600_000_000, 1_700_000_000))
        users += [u] * count
        items += chosen.tolist()
        times += (start + np.cumsum(rng.integers(60, 86_400, size=count))).tolist()
    users, items, times = map(np.asarray, (users, items, times))
    splits = temporal_split(users, items, times)
    ratings = np.clip(np.round(3 + rng.normal(size=len(users))), 1, 5).astype(int)
    return [
        {"user_id": f"user{u:04d}", "item_id": item_ids[i], "rating": r, "timestamp": t, "split": s}
        for u, i, r, t, s in zip(users, items, ratings, times, splits, strict=True)
    ]


def _description(rng, topic) -> str:
    topic_words = list(TOPICS.values())[topic].split()
    words = list(rng.choice(topic_words, size=4, replace=False)) + list(rng.choice(_FILLER, size=8))
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def _write_image(root: Path, item_id, color, rng, i) -> str:
    size = _IMAGE_SIZE
    background = np.array(list(COLORS.values())[color], dtype=np.float64)
    pixels = background + rng.normal(0, 18, size=(size, size, 3))
    # Grey shapes of random place and shade, the same for every colour.
    for _ in range(3):
        top, left = rng.integers(0, size - 16, size=2)
        height, width = rng.integers(6, 16, size=2)
        pixels[top : top + height, left : left + width] = rng.integers(30, 230)
    image = tf.constant(np.clip(pixels, 0, 255).astype(np.uint8))
    if i % 2:
        relative, encoded = f"images/{item_id}.png", tf.io.encode_png(image)
    else:
        relative, encoded = f"images/{item_id}.jpg", tf.io.encode_jpeg(image, quality=90)
    (root / relative).write_bytes(encoded.numpy())
    return relative


def _write_audio(root: Path, item_id, pitch, rng, i) -> str:
    # Every tenth clip is 44.1 kHz stereo, so that loaders must mix and resample.
    rate, channels = (44100, 2) if i % 10 == 3 else (_SAMPLE_RATE, 1)
    t = np.arange(rate) / rate
    f0 = PITCHES_HZ[pitch] * (1 + rng.uniform(-0.02, 0.02))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 4) * t + rng.uniform(0, 2 * np.pi))
    tone = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t)
    signal = 0.3 * envelope * tone + 0.05 * rng.normal(size=len(t))
    samples = np.repeat(signal[:, None], channels, axis=1)
    relative = f"audio/{item_id}.wav"
    with wave.open(str(root / relative), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return relative


def _video_frames(motion, rng) -> np.ndarray:
    size, square = _VIDEO_SIZE, 8
    step = np.array(list(MOTIONS.values())[motion]) * 3
    position = rng.integers(0, size, size=2)
    # Dark or bright, never close to the grey background, so the motion shows.
    shade = rng.integers(0, 60, size=3) if rng.random() < 0.5 else rng.integers(196, 256, size=3)
    frames = np.empty((_VIDEO_FRAMES, size, size, 3), np.uint8)
    for f in range(_VIDEO_FRAMES):
        frame = np.clip(120 + rng.normal(0, 20, size=(size, size, 3)), 0, 255)
        rows = (position[0] + np.arange(square)) % size
        cols = (position[1] + np.arange(square)) % size
        frame[np.ix_(rows, cols)] = shade
        frames[f] = frame
        position = (position + step) % size
    return frames


def _write_video(root: Path, item_id, motion, rng, *, as_file: bool) -> str:
    frames = _video_frames(motion, rng)
    if as_file:
        relative = f"video/{item_id}.mp4"
        _write_mp4(root / relative, frames)
        return relative
    relative = f"video/{item_id}"
    (root / relative).mkdir()
    for f, frame in enumerate(frames):
        (root / relative / f"frame{f + 1}.png").write_bytes(tf.io.encode_png(frame).numpy())
    return relative


def _write_mp4(path: Path, frames: np.ndarray) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
