"""Does content earn its place on known items? A configuration with and without content.

Usage: python bench/content_value.py --data PREPARED_ML100K --features FEATS
           [--config configs/ml-100k-mm-history.json] [--seeds 0 1 2] [--out FILE.json]

For each seed, the configuration trains twice with `mmrec_tf.training.train`
(as `mmrec-tf train` does): as it is, and without content (`"modalities":
[]`, `"item_graph_k": 0`, no content loss or feature dropout).
`mmrec_tf.training.evaluate` then tests each run on the canonical test split
(mask train+valid) under `history train` and, for a model that reads
histories, `history train+valid`: Recall@20 and NDCG@20 over all test
interactions and over the item groups `sparse` and `warm` (by training
interactions; `mmrec_tf.evaluation.popularity_groups`). Writes every run's
figures (`--out`) and prints mean ± std over seeds.
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

CONFIG = Path(__file__).parent.parent / "configs" / "ml-100k-mm-history.json"
METRICS = ("recall@20", "ndcg@20")
GROUPS = ("", "/sparse", "/warm")


# The options that only a model with content reads, and their values without it.
CONTENT_OPTIONS = {"item_graph_k": 0, "content_loss_weight": 0.0, "feature_dropout": 0.0}


def without_content(config: dict) -> dict:
    return {**config, "modalities": [], "options": {**config["options"], **CONTENT_OPTIONS}}


def measure(data, features, config: dict, seed: int, work: Path) -> dict:
    from mmrec_tf.models import load_recommender
    from mmrec_tf.training import RunDirectory, evaluate, train

    config_path = work / f"config-{seed}.json"
    config_path.write_text(json.dumps({**config, "seed": seed}))
    start = time.perf_counter()
    run = train(data, config_path, work / f"run-{seed}", features, verbose=0)
    row = {"seed": seed, "seconds": time.perf_counter() - start}
    row["epochs"] = len(RunDirectory(run).log_path.read_text().splitlines()) - 1
    reads_histories = load_recommender(RunDirectory(run).best_model_path).history_window()
    for history in ("train", "train+valid") if reads_histories is not None else ("train",):
        results = evaluate(run, history=history)
        row.update({f"{history}/{m}{g}": results.get(f"{m}{g}") for m in METRICS for g in GROUPS})
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from mmrec_tf import quiet_tensorflow

    quiet_tensorflow()
    config = json.loads(args.config.read_text())
    variants = {"with content": config, "without content": without_content(config)}
    rows = {name: [] for name in variants}
    for seed in args.seeds:
        for name, variant in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                rows[name].append(measure(args.data, args.features, variant, seed, Path(tmp)))
            print(name, json.dumps(rows[name][-1]), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({"config": str(args.config), "runs": rows}, indent=1))
    keys = [k for k in rows["with content"][0] if "@" in k]
    print("| variant | " + " | ".join(keys) + " |")
    print("| --- |" + " ---: |" * len(keys))
    for name, runs in rows.items():
        cells = []
        for key in keys:
            values = np.array([r[key] for r in runs if r.get(key) is not None], float)
            cells.append(f"{values.mean():.4f} ± {values.std():.4f}" if len(values) else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
