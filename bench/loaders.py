"""Decode throughput of the item loaders, per modality, on the demo dataset.

Usage: python bench/loaders.py [--data DIR] [--repeats 3] [--out bench/results/loaders.json]

For each modality, the loader decodes every item that has it (default options:
images 224x224, audio 3 s at 16 kHz to 64 log-mel bins, video 8 frames of
112x112, text 64 tokens), after one warm-up pass; the median of `--repeats`
passes is reported in items per second. For images and audio it also times a
graph-only pipeline (tf.io.read_file and the same decode function, no per-file
error handling) in the same run, to show what naming bad files costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from mmrec_tf.data import (  # noqa: E402
    AudioOptions,
    ImageOptions,
    ItemLoader,
    decode_audio,
    decode_image,
    generate_demo_dataset,
    load_dataset,
)


def _time_passes(make_dataset, repeats: int) -> float:
    for _ in make_dataset():  # warm-up: tracing and file cache
        pass
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in make_dataset():
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _graph_only(dataset, modality, decode, options):
    paths = [
        str(dataset.media_path(modality, i))
        for i in range(dataset.num_items)
        if dataset.media[modality][i] is not None
    ]
    return (
        len(paths),
        lambda: (
            tf.data.Dataset.from_tensor_slices(paths)
            .map(lambda p: decode(tf.io.read_file(p), options), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(32)
            .prefetch(tf.data.AUTOTUNE)
        ),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, help="a dataset (default: the demo dataset, generated)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/loaders.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or generate_demo_dataset(Path(tmp) / "demo")
        dataset = load_dataset(data)
        rows = []
        for modality in ("text", "image", "audio", "video"):
            items = [i for i in range(dataset.num_items) if dataset.modality_available(modality)[i]]
            loader = ItemLoader(dataset, [modality])
            seconds = _time_passes(
                lambda loader=loader, items=items: loader.as_dataset(items, batch_size=32),
                args.repeats,
            )
            rows.append(
                {
                    "modality": modality,
                    "pipeline": "ItemLoader",
                    "items": len(items),
                    "seconds": seconds,
                    "items_per_second": len(items) / seconds,
                }
            )
        for modality, decode, options in (
            ("image", decode_image, ImageOptions()),
            ("audio", decode_audio, AudioOptions()),
        ):
            count, make = _graph_only(dataset, modality, decode, options)
            seconds = _time_passes(make, args.repeats)
            rows.append(
                {
                    "modality": modality,
                    "pipeline": "graph-only",
                    "items": count,
                    "seconds": seconds,
                    "items_per_second": count / seconds,
                }
            )
    print(
        f"Decode throughput on {data if args.data else 'the demo dataset'} "
        f"({os.cpu_count()} CPUs, TensorFlow {tf.__version__}), median of {args.repeats}:\n"
    )
    print("| modality | pipeline | items | items/s |\n| --- | --- | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['modality']} | {row['pipeline']} | {row['items']} | "
            f"{row['items_per_second']:,.0f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
