"""Cold start: held-out items ranked from their content alone, through the SavedModel.

Usage: python bench/cold_start.py demo [--config FILE] [--fraction F] [--seed S] [--out FILE.json]
       python bench/cold_start.py ml-100k-mm --data PREPARED_ML100K --features FEATS
           [--config FILE] [--fraction F] [--seed S] [--out FILE.json]

A share `F` of the items that have interactions (drawn with seed `S`; by
default 30% of the demo's 200 items, 10% of ml-100k-mm's) lose all their
interactions. The configuration (`--config`, static or history; by default
configs/demo.json on the demo data with features from the builtin encoders,
configs/ml-100k-mm.json on ml-100k-mm with `FEATS` from `mmrec-tf
extract-features`) trains on the rest with `mmrec_tf.training.train`, as
`mmrec-tf train` does, and the model is exported with `embed_items`. Each
held-out item's raw files (text, image bytes, WAV bytes, video frames) go
through that signature, and every user who interacted with held-out items
ranks them by `embed_users(u) · embed_items(item)`: a history model's user is
their training history, encoded. The anchors rank the same items:
`ContentKNN` over the same features (cosine to the user's training items),
a random order, and the (oracle) popularity order.

Writes (`--out`) and prints the keys `model/recall@20`, `model/ndcg@20`,
`content_knn/recall@20`, `content_knn/ndcg@20`, `random/recall@20`, ...
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODALITIES = ("text", "image", "audio", "video")
CONFIGS = Path(__file__).parent.parent / "configs"


def raw_content(dataset, items, modalities):
    """The signature's inputs for `items`: text, file bytes, video frames."""
    inputs = {}
    for modality in modalities:
        if modality == "text":
            inputs["text"] = [dataset.text[i] or "" for i in items]
        elif modality == "video":
            inputs["video"] = [_frames(dataset, i) for i in items]
        else:
            inputs[modality] = [
                dataset.media_path(modality, i).read_bytes() if dataset.media[modality][i] else b""
                for i in items
            ]
    return inputs


def _frames(dataset, item, count=8):
    """Up to `count` encoded frames (a frame folder, or frames PyAV takes from a file)."""
    from mmrec_tf.data.video import list_frame_files

    path = dataset.media_path("video", item)
    if path is None:
        return [b""] * count
    if path.is_dir():
        frames = [p.read_bytes() for p in list_frame_files(path)]
    else:
        import av
        from PIL import Image

        frames = []
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                buffer = io.BytesIO()
                Image.fromarray(frame.to_ndarray(format="rgb24")).save(buffer, format="PNG")
                frames.append(buffer.getvalue())
    # A fixed number per item so that a batch is a [B, T] tensor.
    positions = [int((k + 0.5) * len(frames) / count) for k in range(count)]
    return [frames[p] for p in positions]


def without_items(data: Path, item_ids: set, out: Path) -> Path:
    """A copy of the dataset directory `data` at `out` (files hard-linked where the
    file system allows) whose interactions.csv has no row of `item_ids`."""

    def link_or_copy(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(data, out, copy_function=link_or_copy)
    interactions = out / "interactions.csv"
    with open(data / "interactions.csv", newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    column = rows[0].index("item_id")
    interactions.unlink()  # a hard link to the original: never write through it
    with open(interactions, "w", newline="", encoding="utf-8") as target:
        csv.writer(target).writerows(
            [rows[0]] + [row for row in rows[1:] if row[column] not in item_ids]
        )
    return out


def run(data: Path, features_dir: Path, config_path: Path, fraction: float, seed: int, work: Path):
    import numpy as np
    import tensorflow as tf

    from mmrec_tf.data import load_dataset
    from mmrec_tf.evaluation.cold_start import evaluate_cold_start, hold_out_items
    from mmrec_tf.models import ContentKNN, load_recommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import RunDirectory, content_encoders, load_features, train

    dataset = load_dataset(data)
    split = hold_out_items(dataset, fraction, seed=seed)
    held_ids = {dataset.item_ids[i] for i in split.items}
    reduced = without_items(data, held_ids, work / "data")
    run_path = train(reduced, config_path, work / "run", features_dir, verbose=0)
    run_dir = RunDirectory(run_path)
    model = load_recommender(run_dir.best_model_path)
    encoders, options = content_encoders(run_dir.config(), model)
    saved = export_recommender(
        model, run_dir.dataset(), work / "saved", content_encoders=encoders, content_options=options
    )
    served = tf.saved_model.load(str(saved))
    tower = tf.saved_model.load(str(saved / "embed_items"))
    vectors = []
    for start in range(0, len(split.items), 32):
        chunk = split.items[start : start + 32].tolist()
        raw = raw_content(dataset, chunk, model.modalities)
        vectors.append(
            tower.embed_items({m: tf.constant(v) for m, v in raw.items()})["item_vector"]
        )
    users = served.embed_users(tf.constant(dataset.user_ids))["user_vector"].numpy()
    results = evaluate_cold_start(split, users @ np.concatenate(vectors).T, 20)
    features, present = load_features(dataset, features_dir, model.modalities)
    knn = ContentKNN.from_dataset(split.dataset, features, present)
    knn_scores = knn.score_users(np.arange(dataset.num_users))[:, split.items]
    anchor = evaluate_cold_start(split, knn_scores, 20)
    results["content_knn/recall@20"] = anchor["model/recall@20"]
    results["content_knn/ndcg@20"] = anchor["model/ndcg@20"]
    results["config"] = str(config_path)
    results["fraction"], results["seed"] = fraction, seed
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=["demo", "ml-100k-mm"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--features", type=Path)
    parser.add_argument("--config", type=Path, help="a training configuration (static or history)")
    parser.add_argument("--fraction", type=float, help="share of items held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results there (JSON)")
    args = parser.parse_args(argv)
    from mmrec_tf import quiet_tensorflow

    quiet_tensorflow()
    from mmrec_tf.data import generate_demo_dataset
    from mmrec_tf.encoders.extract import extract_features

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.dataset == "demo":
            data = generate_demo_dataset(work / "demo")
            features = work / "features"
            for modality in MODALITIES:
                extract_features(data, modality, "builtin", features, progress=False)
            config, fraction = args.config or CONFIGS / "demo.json", args.fraction or 0.3
        else:
            if args.data is None or args.features is None:
                parser.error("ml-100k-mm needs --data and --features")
            data, features = args.data, args.features
            config, fraction = args.config or CONFIGS / "ml-100k-mm.json", args.fraction or 0.1
        results = run(Path(data), features, config, fraction, args.seed, work)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    print("| ordering | Recall@20 | NDCG@20 |\n| --- | ---: | ---: |")
    for name in ("model", "content_knn", "random", "popularity_oracle"):
        recall, ndcg = results[f"{name}/recall@20"], results[f"{name}/ndcg@20"]
        print(f"| {name} | {recall:.4f} | {ndcg:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
