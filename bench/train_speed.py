"""Training-epoch and full-evaluation time of MultimodalRecommender on ml-100k-mm.

Usage: python bench/train_speed.py --data PREPARED_ML100K --features ML100K_MM/features
           [--baseline CHECKOUT_OF_ANOTHER_COMMIT [--repeats 3]] [--history]

Cached mode (reference text and poster features), configs/ml-100k-mm.json's
model. For 1 and 2 threads (each in its own process, TensorFlow's intra- and
inter-op threads both set) and `jit_compile` True and False: the median time
of 3 training epochs after one warm-up epoch, and of 3 full evaluations
(test split, every user ranked over the whole catalogue).
`--history` adds HistoryRecommender as configs/ml-100k-mm-history.json sets
it (its batch size, its history length), 1 thread, XLA, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STATIC_CONFIG = "configs/ml-100k-mm.json"
HISTORY_CONFIG = "configs/ml-100k-mm-history.json"


def worker(data, features_dir, threads, jit, model_name="ours"):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    sys.path.insert(0, str(Path(__file__).parent))
    from experiments import load_reference_features

    from mmrec_tf import models
    from mmrec_tf.data import bpr_triples, load_dataset
    from mmrec_tf.evaluation import evaluate_ranking

    keras.utils.set_random_seed(0)
    dataset = load_dataset(data)
    features, present = load_reference_features(dataset, Path(features_dir))
    model_class, config_path = {
        "history": ("HistoryRecommender", HISTORY_CONFIG),
        "ours": ("MultimodalRecommender", STATIC_CONFIG),
    }[model_name]
    config = json.loads((Path(__file__).parent.parent / config_path).read_text())
    model = getattr(models, model_class).from_dataset(
        dataset, features, present, **config["options"]
    )
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), jit_compile=jit)
    triples = bpr_triples(dataset, config["batch_size"], seed=0, **model.sampler_options())
    model.fit(triples, epochs=1, verbose=0)  # warm-up: tracing and compilation
    epochs, evaluations = [], []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(triples, epochs=1, verbose=0)
        epochs.append(time.perf_counter() - start)
        start = time.perf_counter()
        evaluate_ranking(model.score_users, dataset, "test")
        evaluations.append(time.perf_counter() - start)
    return {
        "model": model_name,
        "threads": threads,
        "jit_compile": jit,
        "epoch_seconds": statistics.median(epochs),
        "evaluation_seconds": statistics.median(evaluations),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_speed.json"))
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another commit (git worktree add DIR COMMIT): its code runs "
        "interleaved with this one's, 1 thread and XLA, and the ratios are reported",
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (--baseline)")
    parser.add_argument(
        "--history",
        action="store_true",
        help=f"also time HistoryRecommender ({HISTORY_CONFIG}), 1 thread, XLA",
    )
    # THREADS JIT [MODEL]: two only, as a baseline checkout's own script takes them.
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        threads, jit = int(args.worker[0]), args.worker[1] == "1"
        model = args.worker[2] if len(args.worker) > 2 else "ours"
        print(json.dumps(worker(args.data, args.features, threads, jit, model)))
        return 0
    if args.baseline:
        return compare(args)
    tree = Path(__file__).parent.parent
    rows = [_run(tree, args, t, j) for t in (1, 2) for j in (True, False)]
    if args.history:
        rows.append(_run(tree, args, 1, True, "history"))
    print("| model | threads | jit_compile | seconds per epoch | seconds per full evaluation |")
    print("| --- | ---: | --- | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']} | {r['threads']} | {r['jit_compile']} | {r['epoch_seconds']:.2f} | "
            f"{r['evaluation_seconds']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


def compare(args) -> int:
    """This code against `args.baseline`'s, alternating, so that machine noise hits both."""
    trees = {"baseline": args.baseline.resolve(), "this": Path(__file__).parent.parent.resolve()}
    runs = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            runs[name].append(_run(tree, args, 1, True))
    medians = {
        name: {
            key: statistics.median(r[key] for r in rows)
            for key in ("epoch_seconds", "evaluation_seconds")
        }
        for name, rows in runs.items()
    }
    print("| code | s/epoch | s/evaluation |\n| --- | ---: | ---: |")
    for name, m in medians.items():
        print(
            f"| {name} ({trees[name]}) | {m['epoch_seconds']:.3f} | {m['evaluation_seconds']:.3f} |"
        )
    for key in ("epoch_seconds", "evaluation_seconds"):
        ratio = medians["this"][key] / medians["baseline"][key]
        print(f"{key.split('_')[0]}: this / baseline = {ratio:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()}, **runs}))
    return 0


def _run(tree: Path, args, threads: int, jit: bool, model: str = "ours") -> dict:
    """One worker process running `tree`'s code (its bench script, its mmrec_tf)."""
    result = subprocess.run(
        [
            sys.executable,
            str(tree / "bench" / "train_speed.py"),
            "--data",
            str(args.data),
            "--features",
            str(args.features),
            "--worker",
            str(threads),
            str(int(jit)),
            *([] if model == "ours" else [model]),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
