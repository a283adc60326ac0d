"""Model variants on the demo data, 3 seeds: the graph stage, the history model.

Usage: python bench/demo_models.py [--seeds 0 1 2] [--only NAME ...]
           [--data DEMO --features FEATS]

Generates the demo dataset and extracts every modality with the builtin
encoders (unless given), then trains configs/demo.json changed as each
variant says through `mmrec_tf.training.train` (as `mmrec-tf train` does:
validation Recall@20 for early stopping and model selection) and reports test
Recall@20 and NDCG@20 (mean ± std over seeds; history train, and for a model
that reads histories also history train+valid) and seconds per run. The
ml-100k-mm comparisons are bench/experiments.py and bench/history.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# name: changes to configs/demo.json (options are merged).
VARIANTS = {
    "MultimodalRecommender (graph lightgcn)": {},
    "MultimodalRecommender, graph attention": {"options": {"graph": "attention"}},
    # The demo's users have steady tastes (one planted attribute per modality), so
    # the whole history (mean) and a user ID embedding matter more than the latest item.
    "HistoryRecommender": {
        "model": "HistoryRecommender",
        "options": {
            "loss": "softmax",
            "history_length": 50,
            "history_pooling": "mean",
            "use_user_ids": True,
            "l2_regularization": 0.0,
        },
    },
}
MODALITIES = ("text", "image", "audio", "video")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--data", type=Path, help="a demo dataset already generated")
    parser.add_argument("--features", type=Path, help="its builtin features, all modalities")
    args = parser.parse_args(argv)
    from mmrec_tf.data import generate_demo_dataset
    from mmrec_tf.encoders.extract import extract_features
    from mmrec_tf.training import DEMO_CONFIG, evaluate, train

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data or generate_demo_dataset(tmp / "demo")
        features = args.features or tmp / "features"
        if args.features is None:
            for modality in MODALITIES:
                extract_features(data, modality, "builtin", features, progress=False)
        print(
            "| model | test Recall@20 | test NDCG@20 | Recall@20, history train+valid | "
            "NDCG@20 | s/run |\n| --- | --- | --- | --- | --- | ---: |"
        )
        for number, name in enumerate(args.only or VARIANTS):
            changes = VARIANTS[name]
            results, seconds = {"train": [], "train+valid": []}, []
            for seed in args.seeds:
                config = {**DEMO_CONFIG, **changes, "seed": seed}
                config["options"] = {**DEMO_CONFIG["options"], **changes.get("options", {})}
                path = tmp / f"{number}_{seed}.json"
                path.write_text(json.dumps(config))
                start = time.perf_counter()
                run = train(data, path, tmp / f"run_{number}_{seed}", features, verbose=0)
                seconds.append(time.perf_counter() - start)
                results["train"].append(evaluate(run))
                if config["model"] == "HistoryRecommender":
                    results["train+valid"].append(evaluate(run, history="train+valid"))
            cells = [
                _mean_std([r[metric] for r in results[history]])
                for history in ("train", "train+valid")
                for metric in ("recall@20", "ndcg@20")
            ]
            print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(seconds):.0f} |", flush=True)
    return 0


def _mean_std(values) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}" if values else "–"


if __name__ == "__main__":
    sys.exit(main())
