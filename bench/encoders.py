"""Encoder throughput on CPU: items per second at batch 32, and peak memory.

Usage: python bench/encoders.py [--batches 3] [--out bench/results/encoders.json]

Each encoder runs in its own process (so that its peak resident memory is its
own) on synthetic inputs of the shape its loader produces, in inference mode:
one warm-up batch, then the median of `--batches` timed batches (one for I3D).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BATCH = 32
ENCODERS = {
    # name: (modality, how to build it, input description)
    "text builtin (2-layer BERT, 64 tokens)": "text_builtin",
    "text all-MiniLM-L6-v2 (128 tokens)": "text_minilm",
    "image builtin (small CNN, 224x224)": "image_builtin",
    "image MobileNetV2 ImageNet (224x224)": "image_mobilenet_v2",
    "image VGG16 (224x224)": "image_vgg16",
    "audio builtin (small CNN, 98x64 log-mel)": "audio_builtin",
    "audio LSTM(64) (98x64 log-mel)": "audio_lstm",
    "audio aiSFX (100x96 log-mel)": "audio_aisfx",
    "video builtin (frame pooling + motion, 8x112x112)": "video_builtin",
    "video I3D Kinetics-400 (16x224x224)": "video_i3d",
}


def _build(key):
    import numpy as np

    from mmrec_tf import encoders

    rng = np.random.default_rng(0)
    if key.startswith("text"):
        length = 64 if key == "text_builtin" else 128
        encoder = encoders.TextEncoder.small() if key == "text_builtin" else encoders.minilm()[0]
        ids = rng.integers(1000, 20000, size=(BATCH, length)).astype("int32")
        return encoder, {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
    if key.startswith("image"):
        encoder = {
            "image_builtin": lambda: encoders.ImageEncoder.small(),
            "image_mobilenet_v2": encoders.mobilenet_v2_imagenet,
            "image_vgg16": lambda: encoders.ImageEncoder.from_keras_applications(
                "VGG16", weights=None
            ),
        }[key]()
        return encoder, rng.random((BATCH, 224, 224, 3)).astype("float32")
    if key.startswith("audio"):
        if key == "audio_aisfx":
            return encoders.aisfx_sound_effects(), rng.normal(size=(BATCH, 100, 96)).astype(
                "float32"
            ) - 10
        encoder = (
            encoders.AudioEncoder.small_cnn()
            if key == "audio_builtin"
            else encoders.AudioEncoder.lstm(num_mel_bins=64)
        )
        return encoder, rng.normal(size=(BATCH, 98, 64)).astype("float32")
    if key == "video_builtin":
        from mmrec_tf.encoders.extract import builtin_encoder

        encoder = builtin_encoder("video")
        return encoder, rng.random((BATCH, 8, 112, 112, 3)).astype("float32")
    return encoders.i3d_kinetics400(), rng.random((BATCH, 16, 224, 224, 3)).astype("float32")


def worker(key: str, batches: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    encoder, inputs = _build(key)
    encoder(inputs, training=False)  # warm-up
    times = []
    for _ in range(1 if key == "video_i3d" else batches):
        start = time.perf_counter()
        encoder(inputs, training=False).numpy()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "encoder": key,
        "items_per_second": BATCH / seconds,
        "seconds_per_batch": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "output_dim": int(
            encoder(
                inputs[:1]
                if not isinstance(inputs, dict)
                else {k: v[:1] for k, v in inputs.items()}
            ).shape[-1]
        ),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/encoders.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.batches)))
        return 0
    rows = []
    for name, key in ENCODERS.items():
        result = subprocess.run(
            [sys.executable, __file__, "--worker", key, "--batches", str(args.batches)],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            print(f"{name}: failed\n{result.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append({"name": name, **json.loads(result.stdout.strip().splitlines()[-1])})
    print(f"Encoders on CPU ({os.cpu_count()} cores), batch {BATCH}, inference:\n")
    print("| encoder | output | items/s | peak RSS GB |\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['name']} | {r['output_dim']} | {r['items_per_second']:,.1f} | "
            f"{r['peak_rss_gb']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
