"""Cold start: held-out items ranked from their content alone, through the SavedModel.

Usage: python bench/cold_start.py demo
       python bench/cold_start.py ml-100k-mm --data PREPARED_ML100K --features FEATS

A share of the items that have interactions (seed 0; 30% of the demo's 200
items, 10% of ml-100k-mm's, so that more than 20 are held out) lose all their
interactions;
`MultimodalRecommender` trains on the rest (configs/demo.json on the demo data
with features from the builtin encoders; configs/ml-100k-mm.json on
ml-100k-mm with `FEATS` from `mmrec-tf extract-features`: minilm text,
mobilenet_v2:imagenet posters). The model is exported with `embed_items`; each
held-out item's raw files (text, image bytes, WAV bytes, video frames) go
through that signature, and every user who interacted with held-out items
ranks them by `embed_users(u) · embed_items(item)`. Reports Recall@20 and
NDCG@20 against a random order and the (oracle) popularity order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODALITIES = ("text", "image", "audio", "video")


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
    import io

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


def run(dataset, features_dir, config, modalities, fraction):
    import keras
    import numpy as np
    import tensorflow as tf

    from mmrec_tf.data import bpr_triples
    from mmrec_tf.evaluation import RankingEvaluation
    from mmrec_tf.evaluation.cold_start import evaluate_cold_start, hold_out_items
    from mmrec_tf.models import MultimodalRecommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import content_encoders, load_features

    split = hold_out_items(dataset, fraction, seed=0)
    features, present = load_features(dataset, features_dir, list(modalities))
    keras.utils.set_random_seed(0)
    model = MultimodalRecommender.from_dataset(
        split.dataset, features, present, **config["options"]
    )
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), jit_compile=True)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_recall@20", mode="max", patience=config["patience"], restore_best_weights=True
    )
    model.fit(
        bpr_triples(split.dataset, config["batch_size"], seed=0),
        epochs=config["epochs"],
        callbacks=[RankingEvaluation(split.dataset), stopping],
        verbose=0,
    )
    encoders, options = content_encoders({"features": str(features_dir)}, model)
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_recommender(
            model,
            split.dataset,
            Path(tmp) / "saved",
            content_encoders=encoders,
            content_options=options,
        )
        served = tf.saved_model.load(str(saved))
        tower = tf.saved_model.load(str(saved / "embed_items"))
        vectors = []
        for start in range(0, len(split.items), 32):
            chunk = split.items[start : start + 32].tolist()
            inputs = {m: tf.constant(v) for m, v in raw_content(dataset, chunk, modalities).items()}
            vectors.append(tower.embed_items(inputs)["item_vector"].numpy())
        users = served.embed_users(tf.constant(dataset.user_ids))["user_vector"].numpy()
    scores = users @ np.concatenate(vectors).T
    return evaluate_cold_start(split, scores, 20)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=["demo", "ml-100k-mm"])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--features", type=Path)
    args = parser.parse_args(argv)
    from mmrec_tf.data import generate_demo_dataset, load_dataset
    from mmrec_tf.encoders.extract import extract_features
    from mmrec_tf.training import DEFAULTS, DEMO_CONFIG

    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset == "demo":
            data = generate_demo_dataset(Path(tmp) / "demo")
            features = Path(tmp) / "features"
            for modality in MODALITIES:
                extract_features(data, modality, "builtin", features, progress=False)
            config, modalities, fraction = {**DEFAULTS, **DEMO_CONFIG}, MODALITIES, 0.3
        else:
            if args.data is None or args.features is None:
                parser.error("ml-100k-mm needs --data and --features")
            data, features = args.data, args.features
            shipped = Path(__file__).parent.parent / "configs" / "ml-100k-mm.json"
            config = {**DEFAULTS, **json.loads(shipped.read_text())}
            modalities, fraction = tuple(config["modalities"]), 0.1
        results = run(load_dataset(data), features, config, modalities, fraction)
    print(json.dumps(results, indent=1))
    print("| ordering | Recall@20 | NDCG@20 |\n| --- | ---: | ---: |")
    for name in ("model", "random", "popularity_oracle"):
        recall, ndcg = results[f"{name}/recall@20"], results[f"{name}/ndcg@20"]
        print(f"| {name} | {recall:.4f} | {ndcg:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
