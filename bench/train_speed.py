"""Training-epoch and full-evaluation time of MultimodalRecommender on ml-100k-mm.

Usage: python bench/train_speed.py --data PREPARED_ML100K --features ML100K_MM/features

Cached mode (reference text and poster features), the configuration of
`bench/experiments.py`'s "ours". For 1 and 2 threads (each in its own process,
TensorFlow's intra- and inter-op threads both set) and `jit_compile` True and
False: the median time of 3 training epochs after one warm-up epoch, and of 3
full evaluations (test split, every user ranked over the whole catalogue).
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


def worker(data, features_dir, threads, jit):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    sys.path.insert(0, str(Path(__file__).parent))
    from experiments import load_reference_features

    from mmrec_tf.data import bpr_triples, load_dataset
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MultimodalRecommender

    keras.utils.set_random_seed(0)
    dataset = load_dataset(data)
    features, present = load_reference_features(dataset, Path(features_dir))
    model = MultimodalRecommender.from_dataset(dataset, features, present, item_graph_k=10)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=jit)
    triples = bpr_triples(dataset, 2048, seed=0)
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
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        threads, jit = int(args.worker[0]), args.worker[1] == "1"
        print(json.dumps(worker(args.data, args.features, threads, jit)))
        return 0
    rows = []
    for threads in (1, 2):
        for jit in (True, False):
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--data",
                    str(args.data),
                    "--features",
                    str(args.features),
                    "--worker",
                    str(threads),
                    str(int(jit)),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print("| threads | jit_compile | seconds per epoch | seconds per full evaluation |")
    print("| ---: | --- | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['threads']} | {r['jit_compile']} | {r['epoch_seconds']:.2f} | "
            f"{r['evaluation_seconds']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
