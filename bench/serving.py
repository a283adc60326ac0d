"""Latency and throughput of an exported recommender's `recommend` signature on CPU.

Usage: python bench/serving.py [--items 1682 100000 1000000] [--threads 2]

For each catalogue size, in its own process: a SavedModel written by
`mmrec_tf.serving.write_saved_model` (the code path of `export_recommender`)
with random 64-d vectors, 10,000 users who each saw 50 random items, loaded
back with `tf.saved_model.load`; then `recommend(k=20)` timed for one user
(p50 and p99 over 200 calls after 10 warm-up calls, a random known user each
time) and at batch 256 (users per second, median of 5 calls).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NUM_USERS = 10_000
SEEN_PER_USER = 50
DIM = 64


def worker(num_items: int, threads: int) -> dict:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from mmrec_tf.serving.export import ServingTables, write_saved_model

    rng = np.random.default_rng(0)
    user_ids = [f"u{u}" for u in range(NUM_USERS)]
    item_ids = [f"i{i}" for i in range(num_items)]
    seen = np.sort(rng.integers(0, num_items, (NUM_USERS, SEEN_PER_USER)), axis=1)
    tables = ServingTables(
        user_ids,
        item_ids,
        rng.normal(size=(NUM_USERS, DIM)).astype(np.float32),
        rng.normal(size=(num_items, DIM)).astype(np.float32),
        (np.arange(NUM_USERS + 1, dtype=np.int64) * SEEN_PER_USER, seen.ravel().astype(np.int32)),
        rng.random(num_items).astype(np.float32),
        item_ids,
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_saved_model(tables, Path(tmp) / "saved")
        del tables
        served = tf.saved_model.load(str(Path(tmp) / "saved"))
        k = tf.constant(20, tf.int32)

        def one():
            user = tf.constant([user_ids[rng.integers(NUM_USERS)]])
            start = time.perf_counter()
            served.recommend(user, k)["item_id"].numpy()
            return time.perf_counter() - start

        for _ in range(10):
            one()
        single = sorted(one() for _ in range(200))
        batch = tf.constant([user_ids[u] for u in rng.integers(0, NUM_USERS, 256)])
        served.recommend(batch, k)
        batched = []
        for _ in range(5):
            start = time.perf_counter()
            served.recommend(batch, k)["item_id"].numpy()
            batched.append(time.perf_counter() - start)
    return {
        "items": num_items,
        "threads": threads,
        "p50_ms": 1000 * single[len(single) // 2],
        "p99_ms": 1000 * single[int(0.99 * len(single)) - 1],
        "users_per_second_at_256": 256 / statistics.median(batched),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1682, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/serving.json"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads)))
        return 0
    rows = []
    print("| items | p50 ms (1 user) | p99 ms (1 user) | users/s at batch 256 |")
    print("| ---: | ---: | ---: | ---: |")
    for num_items in args.items:
        command = [sys.executable, __file__, "--worker", str(num_items)]
        command += ["--threads", str(args.threads)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        row = json.loads(result.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"| {num_items:,} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{row['users_per_second_at_256']:,.0f} |",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
