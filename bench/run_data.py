"""What knowing a run's data costs: validate's evaluation checks and a run's id mapping,
against reading the dataset's CSV files (what every command already pays).

Usage: python bench/run_data.py [--interactions 10000000] [--items 100000]
           [--users 1000000] [--out FILE.json]

Writes a synthetic dataset (random users and items, timestamps, an 80/10/10
split) as CSV, then times, median of three: `load_dataset` (the anchor),
validate's checks beyond parsing (`mmrec_tf.data.validate._warnings`: repeated
pairs across splits, duplicate rows, users and items without training), and
`DataIdentity.of(...).align(...)` (what `train`, `evaluate`, `export` and
`--resume` add to read a dataset as the run learned it). Prints each in seconds
and as a ratio of the anchor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _write(root: Path, interactions: int, items: int, users: int) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    with open(root / "items.csv", "w") as f:
        f.write("item_id,text\n")
        f.writelines(f"i{i},item {i}\n" for i in range(items))
    split = rng.choice(np.array(["train", "valid", "test"]), interactions, p=[0.8, 0.1, 0.1])
    columns = (
        rng.integers(0, users, interactions),
        rng.integers(0, items, interactions),
        rng.integers(0, 10**9, interactions),
    )
    with open(root / "interactions.csv", "w") as f:
        f.write("user_id,item_id,timestamp,split\n")
        for start in range(0, interactions, 10**6):
            rows = slice(start, start + 10**6)
            f.writelines(
                f"u{u},i{i},{t},{s}\n"
                for u, i, t, s in zip(*(c[rows] for c in columns), split[rows], strict=True)
            )
    return root


def _median_seconds(work, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=10**7)
    parser.add_argument("--items", type=int, default=10**5)
    parser.add_argument("--users", type=int, default=10**6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from mmrec_tf.data import DataIdentity, load_dataset
    from mmrec_tf.data.validate import _warnings

    with tempfile.TemporaryDirectory() as tmp:
        data = _write(Path(tmp) / "data", args.interactions, args.items, args.users)
        load, dataset = _median_seconds(lambda: load_dataset(data), repeats=1)
        checks, problems = _median_seconds(lambda: _warnings(dataset))
        identity = DataIdentity.of(dataset)
        align, _ = _median_seconds(lambda: identity.align(dataset, "ids.json"))
    results = {
        "interactions": args.interactions,
        "items": args.items,
        "users": dataset.num_users,
        "load_dataset_s": load,
        "validate_checks_s": checks,
        "identity_align_s": align,
        "validate_checks_ratio": checks / load,
        "identity_align_ratio": align / load,
        "warnings": [str(p) for p in problems],
    }
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
