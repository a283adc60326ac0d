"""The content tower (`embed_items`) stored in float32 and in float16: size, speed, agreement.

Usage: python bench/content_tower.py --run RUN [--items 256] [--batch 32] [--out FILE.json]

Exports RUN (a run directory of a model with content) twice, as `mmrec-tf
export --content-dtype float32|float16` does, and loads each `embed_items`
back with `tf.saved_model.load`. The first `--items` items of the run's
dataset are fed as raw content (their text, their image and audio files:
what a new item brings). For each dtype: `size_mb` (the `embed_items`
folder), `ms_per_batch` (median of 5 calls on `--batch` items, after one
warm-up). For float16 against float32: `max_relative_error` (largest
|v16 − v32| over the largest |v32|), `min_cosine` (the least similar item
pair), and `overlap@20`: for 500 users of the SavedModel (`embed_users`),
the share of their top 20 among these items that float16 keeps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DTYPES = ("float32", "float16")


def raw_content(dataset, modalities, items) -> dict:
    """The `embed_items` inputs of `items`: texts, and files' bytes ("" when absent)."""
    raw = {}
    for modality in modalities:
        if modality == "text":
            raw["text"] = [dataset.text[i] or "" for i in items]
        elif modality in ("image", "audio"):
            paths = [dataset.media_path(modality, i) for i in items]
            raw[modality] = [path.read_bytes() if path else b"" for path in paths]
        else:
            raise SystemExit(f"bench/content_tower.py feeds text, image and audio, not {modality}")
    return raw


def measure(tower, raw, batch) -> tuple[np.ndarray, float]:
    """Every item's vector, and the median milliseconds of a call on `batch` items."""
    import tensorflow as tf

    embed = tower.signatures["serving_default"]

    def call(start, stop):
        inputs = {m: tf.constant(values[start:stop]) for m, values in raw.items()}
        return embed(**inputs)["item_vector"].numpy()

    count = len(next(iter(raw.values())))
    vectors = np.concatenate([call(s, s + batch) for s in range(0, count, batch)])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call(0, batch)
        times.append((time.perf_counter() - start) * 1000)
    return vectors, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import tensorflow as tf

    from mmrec_tf.models import load_recommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import RunDirectory, content_encoders

    run = RunDirectory(args.run)
    run.check_existing()
    config = run.config()
    dataset = run.dataset(config["data"])
    model = load_recommender(run.best_model_path)
    encoders, options = content_encoders(config, model)
    items = list(range(min(args.items, dataset.num_items)))
    raw = raw_content(dataset, model.modalities, items)
    users = dataset.user_ids[:500]
    results, vectors = {"run": str(args.run), "items": len(items), "batch": args.batch}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for dtype in DTYPES:
            path = Path(scratch) / dtype
            export_recommender(
                model,
                dataset,
                path,
                content_encoders=encoders,
                content_options=options,
                content_dtype=dtype,
            )
            size = sum(f.stat().st_size for f in (path / "embed_items").rglob("*") if f.is_file())
            tower = tf.saved_model.load(str(path / "embed_items"))
            vectors[dtype], ms = measure(tower, raw, args.batch)
            results[dtype] = {"size_mb": round(size / 2**20, 2), "ms_per_batch": round(ms, 2)}
            print(dtype, results[dtype], flush=True)
        served = tf.saved_model.load(str(Path(scratch) / "float32"))  # kept: it owns the tables
        user_vectors = served.embed_users(tf.constant(users))["user_vector"].numpy()
    full, half = vectors["float32"], vectors["float16"]
    cosine = (full * half).sum(1) / np.linalg.norm(full, axis=1) / np.linalg.norm(half, axis=1)
    top = {d: np.argsort(-(user_vectors @ v.T), axis=1)[:, :20] for d, v in vectors.items()}
    pairs = zip(top["float32"], top["float16"], strict=True)
    overlap = np.mean([len(set(a) & set(b)) / 20 for a, b in pairs])
    full_size, half_size = (results[d]["size_mb"] for d in DTYPES)
    full_ms, half_ms = (results[d]["ms_per_batch"] for d in DTYPES)
    results["float16_vs_float32"] = {
        "max_relative_error": float(np.abs(half - full).max() / np.abs(full).max()),
        "min_cosine": float(cosine.min()),
        "overlap@20": float(overlap),
        "size_ratio": round(full_size / half_size, 2),
        "time_ratio": round(half_ms / full_ms, 2),
    }
    print(json.dumps(results["float16_vs_float32"]))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
