"""The graph stage on the demo data: `graph="lightgcn"` against `graph="attention"`, 3 seeds.

Usage: python bench/demo_graphs.py [--seeds 0 1 2] [--data DEMO --features FEATS]

Generates the demo dataset and extracts every modality with the builtin
encoders (unless given), then trains configs/demo.json with each graph
through `mmrec_tf.training.train` (as `mmrec-tf train` does: validation
Recall@20 for early stopping and model selection) and reports test Recall@20
and NDCG@20 (mean ± std over seeds) and seconds per run. The ml-100k-mm
comparison is a row of bench/experiments.py (`--only ours "ours, attention graph"`).
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

GRAPHS = ("lightgcn", "attention")
MODALITIES = ("text", "image", "audio", "video")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
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
        print("| graph | test Recall@20 | test NDCG@20 | s/run |\n| --- | --- | --- | ---: |")
        for graph in GRAPHS:
            recalls, ndcgs, seconds = [], [], []
            for seed in args.seeds:
                config = {**DEMO_CONFIG, "seed": seed}
                config["options"] = {**DEMO_CONFIG["options"], "graph": graph}
                path = tmp / f"{graph}_{seed}.json"
                path.write_text(json.dumps(config))
                start = time.perf_counter()
                run = train(data, path, tmp / f"run_{graph}_{seed}", features, verbose=0)
                seconds.append(time.perf_counter() - start)
                results = evaluate(run)
                recalls.append(results["recall@20"])
                ndcgs.append(results["ndcg@20"])
            print(
                f"| {graph} | {np.mean(recalls):.4f} ± {np.std(recalls):.4f} | "
                f"{np.mean(ndcgs):.4f} ± {np.std(ndcgs):.4f} | {np.mean(seconds):.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
