"""`extract-features --append` against a whole extraction: adding a dataset's newest items.

Usage: python bench/extract_append.py --data DIR [--encoder minilm] [--modality text]
       [--fraction 0.01] [--batch-size 32] [--out bench/results/extract_append.json]

DIR is a prepared dataset (ml-100k-mm: plots in items.csv's `text`, posters in
`image`). In a scratch folder, the dataset without the last `--fraction` of
the rows of items.csv (and without the interactions with them; its media
folders hard-linked, since a symbolic link out of a dataset is refused, or
copied where DIR is on another file system) gets its features extracted,
untimed. Then, in this process, each timed from the dataset's loading and the
encoder's building to the files written (what a CLI run does, less Python's
and TensorFlow's start): (a) `--append` of the held-back items, with the whole
items.csv in place, and (b) a whole extraction of the whole dataset into
another folder. Writes `append_seconds`, `full_seconds`, `ratio` (the target:
at most 0.05 for 1%) and `max_abs_difference`, between the appended
features and the whole extraction's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmrec_tf.encoders.extract import extract_features  # noqa: E402

TABLES = ("items.csv", "interactions.csv")


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _dataset_without_last(data: Path, out: Path, count: int) -> Path:
    """Writes at `out` the dataset at `data` without the last `count` rows of its
    items.csv and the interactions with them; the rest is linked."""
    out.mkdir(parents=True)
    for entry in data.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, copy_function=_link_or_copy)
        elif entry.name not in TABLES:
            _link_or_copy(entry, out / entry.name)
    kept = None
    for name in TABLES:
        with open(data / name, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns, rows = reader.fieldnames, list(reader)
        if kept is None:  # items.csv
            rows = rows[: len(rows) - count]
            kept = {row["item_id"] for row in rows}
        else:
            rows = [row for row in rows if row["item_id"] in kept]
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return out


def _timed(function, *args, **kwargs) -> tuple[Path, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared dataset")
    parser.add_argument("--encoder", default="minilm", help="encoder spec (default minilm)")
    parser.add_argument("--modality", default="text", choices=["text", "image", "audio", "video"])
    parser.add_argument(
        "--fraction", type=float, default=0.01, help="the share of items held back (default 0.01)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("bench/results/extract_append.json"))
    args = parser.parse_args(argv)
    with open(args.data / "items.csv", newline="", encoding="utf-8") as f:
        num_items = sum(1 for _ in csv.DictReader(f))
    new_items = max(1, round(args.fraction * num_items))
    run = {"modality": args.modality, "batch_size": args.batch_size, "progress": False}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        data = _dataset_without_last(args.data, scratch / "data", new_items)
        features = scratch / "features"
        extract_features(data, spec=args.encoder, out=features, **run)
        for name in TABLES:  # the new items arrive
            (data / name).unlink()
            shutil.copy(args.data / name, data / name)
        appended, append_seconds = _timed(
            extract_features, data, spec=args.encoder, out=features, append=True, **run
        )
        whole, full_seconds = _timed(
            extract_features, data, spec=args.encoder, out=scratch / "whole", **run
        )
        difference = float(np.abs(np.load(appended) - np.load(whole)).max())
    result = {
        "data": str(args.data),
        "encoder": args.encoder,
        "modality": args.modality,
        "items": num_items,
        "new_items": new_items,
        "append_seconds": append_seconds,
        "full_seconds": full_seconds,
        "ratio": append_seconds / full_seconds,
        "max_abs_difference": difference,
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
    }
    print(
        f"{args.modality} {args.encoder}: --append of the last {new_items} of {num_items} items "
        f"{append_seconds:.1f} s, a whole extraction {full_seconds:.1f} s, ratio "
        f"{result['ratio']:.3f} (target ≤ 0.05); appended rows within {difference:.1e} of "
        "the whole extraction's"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
