"""The content tower's projection with feature dropout: one training step, three ways.

Usage: python bench/feature_dropout.py [--items 1682] [--features 1664] [--dim 64]
           [--groups 16] [--out FILE.json]

One thread, XLA, forward and backward of y = dropout(x) W over a catalogue's
features (ml-100k-mm's sizes by default: 1,682 items, MiniLM + MobileNetV2
= 1,664 dimensions), the median of 5 rounds of 20 steps:

- `none`: no dropout (the floor);
- `per_entry`: `PhiloxDropout` on x, then `Dense`: one mask entry per feature
  entry, n × d draws and a masked copy of x each step;
- `per_group`: `FeatureDropoutDense`, one mask per group of items on the
  kernel, (groups + 1) × d draws.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RATE = 0.8


def step_milliseconds(project, x, weights) -> float:
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(project(x)))
        return tape.gradient(loss, weights)

    step()
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            [g.numpy() for g in step()]
        rounds.append((time.perf_counter() - start) / 20 * 1000)
    return statistics.median(rounds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1682)
    parser.add_argument("--features", type=int, default=1664)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from mmrec_tf.layers import FeatureDropoutDense, PhiloxDropout

    keras.utils.set_random_seed(0)
    x = tf.Variable(tf.random.normal((args.items, args.features)), trainable=False)
    dense = keras.layers.Dense(args.dim)
    dense.build((None, args.features))
    dropout = PhiloxDropout(RATE)
    grouped = FeatureDropoutDense(args.dim, RATE, groups=args.groups)
    grouped.build((None, args.features))
    results = {
        "none": step_milliseconds(lambda v: dense(v), x, dense.trainable_weights),
        "per_entry": step_milliseconds(
            lambda v: dense(dropout(v, training=True)), x, dense.trainable_weights
        ),
        "per_group": step_milliseconds(
            lambda v: grouped(v, training=True), x, grouped.trainable_weights
        ),
    }
    print("| projection | ms per step | × none |\n| --- | ---: | ---: |")
    for name, ms in results.items():
        print(f"| {name} | {ms:.2f} | {ms / results['none']:.2f} |")
    if args.out:
        args.out.write_text(json.dumps({**vars(args), "out": str(args.out), **results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
