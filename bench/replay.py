"""Replaying ml-100k-mm in time: no retraining, `update`, or full retraining after each increment.

Usage: python bench/replay.py --data ML --features FEATS [--config CONFIG]
           [--seeds 0 1 2] [--start 0.7] [--increments 6] [--scratch DIR] --out FILE.json
       python bench/replay.py --plot FILE.png --results FILE.json

ML is a prepared ml-100k-mm (`mmrec-tf prepare movielens-100k`), FEATS its
features (`mmrec-tf extract-features`), CONFIG a configuration
(configs/ml-100k-mm-history.json by default: a model that reads histories).
The interactions are ordered by time (ties in file order); the first
`--start` of them are stage 0, and the rest is cut into `--increments` + 1
equal slices. Stage s holds the interactions before the end of slice s:
its items are those interacted with by then, in the order of their first
interaction (so each stage's items.csv is the last one's with new items
appended), its latest 5% of interactions are the validation split and the
rest train; the next slice, for the stage's users and items, is its test
split. Each stage's features are the rows of FEATS for its items, as
`extract-features --append` would have added them (the encoders are frozen
and deterministic; bench/extract_append.py measures what appending costs).

For each seed: `train` on stage 0; then after each increment s = 1 … N:

- `none`: the stage-0 model, unchanged, serving each user from their
  latest interactions (the history protocol: train and validation of stage
  s); it cannot recommend the items that arrived after it was trained;
- `update`: `mmrec_tf.training.update` of the last update (of the stage-0
  run at s = 1) on stage s, for at most `--update-epochs` epochs (3 by
  default; the run's configuration's with 0) and `--replay`;
- `retrain`: `train` from scratch on stage s;

each scored by Recall@20 and NDCG@20 on stage s's test split (the next
slice; seen items masked), with `seconds` the wall time of the update or
the retraining (in this process: loading, building, compiling and fitting,
validation included). The JSON holds, per increment, each method's mean
over the seeds and the per-seed values; `summary` the ratios the targets
read: update / retrain Recall@20 on each increment and seconds overall.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

METRICS = ("recall@20", "ndcg@20")
METHODS = ("none", "update", "retrain")
VALIDATION_SHARE = 0.05


def write_stages(data: Path, features: Path, scratch: Path, start: float, increments: int):
    """Writes stage 0 … `increments` (dataset and features folders) under `scratch`;
    returns [(dataset folder, features folder)]."""
    from mmrec_tf.data.feature_cache import FeatureCache, item_ids_sha256

    with open(data / "interactions.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    rows = [rows[i] for i in sorted(range(len(rows)), key=lambda i: int(rows[i]["timestamp"]))]
    with open(data / "items.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        item_header, item_rows = reader.fieldnames, {row["item_id"]: row for row in reader}
    first = start * len(rows)
    bounds = [
        round(first + s * (len(rows) - first) / (increments + 1)) for s in range(increments + 2)
    ]
    cache = FeatureCache(features)
    stages = []
    for stage in range(increments + 1):
        folder, end = scratch / f"stage{stage}", bounds[stage]
        items = list(dict.fromkeys(row["item_id"] for row in rows[:end]))
        users = {row["user_id"] for row in rows[:end]}
        known = set(items)
        valid_from = round(end * (1 - VALIDATION_SHARE))
        split = ["train"] * valid_from + ["valid"] * (end - valid_from)
        test = [
            r
            for r in rows[end : bounds[stage + 1]]
            if r["item_id"] in known and r["user_id"] in users
        ]
        folder.mkdir(parents=True)
        for entry in data.iterdir():
            if entry.is_dir():
                shutil.copytree(entry, folder / entry.name, copy_function=os.link)
        _write(folder / "items.csv", item_header, [item_rows[i] for i in items])
        staged = [{**r, "split": s} for r, s in zip(rows[:end], split, strict=True)]
        _write(folder / "interactions.csv", header, staged + [{**r, "split": "test"} for r in test])
        stage_features = scratch / f"features{stage}"
        for modality in cache.modalities():
            metadata = cache.metadata(modality)
            row_of = {item: i for i, item in enumerate(metadata["item_ids"])}
            array = np.load(cache.features_path(modality))[[row_of[i] for i in items]]
            missing, failed = set(metadata["missing_item_ids"]), set(metadata["failed_item_ids"])
            FeatureCache(stage_features).write(
                modality,
                array,
                {
                    **metadata,
                    "item_ids": items,
                    "item_ids_sha256": item_ids_sha256(items),
                    "missing_item_ids": [i for i in items if i in missing],
                    "failed_item_ids": [i for i in items if i in failed],
                },
            )
        stages.append((folder, stage_features))
    return stages


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(rows)


def run_metrics(run) -> dict:
    """Recall@20 and NDCG@20 of a run's best model on its dataset's test split."""
    from mmrec_tf.evaluation import evaluate_ranking, history_scorer
    from mmrec_tf.models import load_recommender
    from mmrec_tf.training import RunDirectory

    run = RunDirectory(run)
    dataset, model = run.dataset(), load_recommender(run.best_model_path)
    score = history_scorer(model, dataset, "train+valid", "test")
    results = evaluate_ranking(score, dataset, "test", mask="train+valid", ks=(20,))
    return {metric: results[metric] for metric in METRICS}


def unchanged_metrics(run, stage_data) -> dict:
    """The stage-0 run's model on a later stage: its users' latest interactions, items
    it never learned dropped from their histories and never recommended."""
    from mmrec_tf.data import load_dataset
    from mmrec_tf.data.histories import PADDING, Sequences
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.evaluation.protocol import popular_for_unknown_users
    from mmrec_tf.models import load_recommender
    from mmrec_tf.training import RunDirectory

    run = RunDirectory(run)
    model = load_recommender(run.best_model_path)
    dataset = run.identity().grown(load_dataset(stage_data), "stage 0")
    sequences = Sequences.from_dataset(dataset, ["train", "valid"])
    known_items = model.num_items

    def score_users(users):
        histories = sequences.latest(model.history_window(), users)
        histories = np.where(histories < known_items, histories, PADDING)
        scores = np.full((len(users), dataset.num_items), -np.inf, np.float32)
        scores[:, :known_items] = model.score_histories(histories)
        return scores

    score = popular_for_unknown_users(score_users, dataset, ["train", "valid"])
    results = evaluate_ranking(score, dataset, "test", mask="train+valid", ks=(20,))
    return {metric: results[metric] for metric in METRICS}


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def replay(args) -> dict:
    from mmrec_tf.training import train, update

    scratch = args.scratch
    stages = write_stages(args.data, args.features, scratch / "data", args.start, args.increments)
    raw = json.loads(args.config.read_text())
    per_seed = {}
    for seed in args.seeds:
        config = scratch / f"config-{seed}.json"
        config.write_text(json.dumps({**raw, "seed": seed}))
        runs = scratch / f"runs-{seed}"
        first, seconds = timed(
            train, stages[0][0], config, runs / "stage0", stages[0][1], verbose=0
        )
        rows = [{"increment": 0, "retrain": {**run_metrics(first), "seconds": seconds}}]
        print(seed, rows[-1], flush=True)
        latest = first
        for stage in range(1, args.increments + 1):
            data, features = stages[stage]
            retrained, retrain_s = timed(
                train, data, config, runs / f"retrain{stage}", features, verbose=0
            )
            updated, update_s = timed(
                update,
                latest,
                data,
                runs / f"update{stage}",
                features,
                epochs=args.update_epochs or None,
                replay=args.replay,
                verbose=0,
            )
            latest = updated
            rows.append(
                {
                    "increment": stage,
                    "none": unchanged_metrics(first, data),
                    "update": {**run_metrics(updated), "seconds": update_s},
                    "retrain": {**run_metrics(retrained), "seconds": retrain_s},
                }
            )
            print(seed, rows[-1], flush=True)
        per_seed[seed] = rows
    return summarise(per_seed, args)


def summarise(per_seed: dict, args) -> dict:
    increments = []
    for position in range(args.increments + 1):
        rows = [rows[position] for rows in per_seed.values()]
        entry = {"increment": position}
        for method in METHODS:
            if method in rows[0]:
                keys = rows[0][method]
                entry[method] = {k: statistics.mean(r[method][k] for r in rows) for k in keys}
        entry["per_seed"] = {seed: per_seed[seed][position] for seed in per_seed}
        increments.append(entry)
    later = increments[1:]
    recall_ratios = [
        r["update"]["recall@20"] / r["retrain"]["recall@20"]
        for s in per_seed.values()
        for r in s[1:]
    ]
    summary = {
        "update_over_retrain_recall@20_per_increment": [
            e["update"]["recall@20"] / e["retrain"]["recall@20"] for e in later
        ],
        "update_over_retrain_recall@20_lowest_of_any_seed": min(recall_ratios),
        "update_over_retrain_seconds": sum(e["update"]["seconds"] for e in later)
        / sum(e["retrain"]["seconds"] for e in later),
    }
    return {
        "data": str(args.data),
        "config": str(args.config),
        "seeds": args.seeds,
        "start": args.start,
        "update_epochs": args.update_epochs,
        "replay": args.replay,
        "increments": increments,
        "summary": summary,
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    later = results["increments"][1:]
    steps = [e["increment"] for e in later]
    figure, (recall, seconds) = plt.subplots(1, 2, figsize=(10, 4))
    for method in METHODS:
        recall.plot(steps, [e[method]["recall@20"] for e in later], marker="o", label=method)
    recall.set(xlabel="increment", ylabel="Recall@20 on the next increment", title="accuracy")
    recall.legend()
    width = 0.4
    for offset, method in ((-width / 2, "update"), (width / 2, "retrain")):
        values = [e[method]["seconds"] for e in later]
        seconds.bar(np.array(steps) + offset, values, width, label=method)
    seconds.set(xlabel="increment", ylabel="seconds", title="wall time (2 CPU cores)")
    seconds.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--features", type=Path)
    default_config = Path(__file__).parent.parent / "configs" / "ml-100k-mm-history.json"
    parser.add_argument("--config", type=Path, default=default_config)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--start", type=float, default=0.7)
    parser.add_argument("--increments", type=int, default=6)
    parser.add_argument("--update-epochs", type=int, default=3)
    parser.add_argument("--replay", type=float, default=1.0)
    parser.add_argument(
        "--scratch", type=Path, help="where stages and runs go (default: a temp dir)"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--results", type=Path, help="with --plot: a JSON this script wrote")
    args = parser.parse_args()
    if args.plot and args.results:
        plot(json.loads(args.results.read_text()), args.plot)
        return 0
    if args.data is None or args.features is None:
        parser.error("--data and --features are required")
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        args.scratch = args.scratch or Path(temporary)
        results = replay(args)
    print(json.dumps(results["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
