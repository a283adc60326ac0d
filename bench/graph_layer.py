"""Time and memory of GraphNetworkLayer on large sparse graphs, against a dense adjacency.

Usage: python bench/graph_layer.py [--out bench/results/graph_layer.json]

Each measurement runs in its own process, so that its peak resident memory is
its own: one forward and backward pass (gradients of sum(output²) with respect
to the layer's weights) of GraphNetworkLayer(64) with attention, 64 input
features, random edges, after one warm-up pass; time is the median of 3 passes
inside a tf.function. `peak RSS` is the process's peak; `pass RSS` the growth of
the peak over what the process held before the first pass (inputs included).
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

SPARSE_SIZES = [
    (100_000, 100_000),
    (100_000, 500_000),
    (100_000, 1_000_000),
    (100_000, 2_000_000),
    (100_000, 4_000_000),
]
# Sizes where the dense [N, N] formulation still fits, measured both ways.
DENSE_SIZES = [(5_000, 100_000), (10_000, 200_000)]


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(nodes: int, edges: int, form: str, jit: bool) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from mmrec_tf.layers import GraphNetworkLayer

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, nodes, size=(int(edges * 1.05), 2)) @ [nodes, 1])[:edges]
    rng.shuffle(keys)
    keys = np.sort(keys[:edges])
    indices = np.stack([keys // nodes, keys % nodes], axis=1)
    graph = tf.SparseTensor(indices, tf.ones(len(indices)), [nodes, nodes])
    features = tf.constant(rng.normal(size=(nodes, 64)).astype("float32"))
    adjacency = graph if form == "sparse" else tf.sparse.to_dense(graph)
    layer = GraphNetworkLayer(64)
    layer.build(features.shape)

    @tf.function(jit_compile=jit)
    def forward_backward(x, a):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x, a)))
        return tape.gradient(loss, layer.trainable_weights)

    before = _peak_rss_bytes()
    [g.numpy() for g in forward_backward(features, adjacency)]  # warm-up and tracing
    times = []
    for _ in range(3):
        start = time.perf_counter()
        [g.numpy() for g in forward_backward(features, adjacency)]
        times.append(time.perf_counter() - start)
    peak = _peak_rss_bytes()
    return {
        "form": form,
        "jit_compile": jit,
        "nodes": nodes,
        "edges": len(indices),
        "seconds": statistics.median(times),
        "peak_rss_gb": peak / 1e9,
        "pass_rss_gb": (peak - before) / 1e9,
    }


def _run(nodes, edges, form, jit) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", str(nodes), str(edges), form, str(int(jit))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/graph_layer.json"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        nodes, edges, form, jit = args.worker
        print(json.dumps(worker(int(nodes), int(edges), form, bool(int(jit)))))
        return 0
    rows = [_run(n, e, "sparse", False) for n, e in SPARSE_SIZES]
    rows += [_run(n, e, "sparse", True) for n, e in SPARSE_SIZES[2:3]]
    for n, e in DENSE_SIZES:
        rows += [_run(n, e, "sparse", False), _run(n, e, "dense", False)]
    print(f"GraphNetworkLayer(64), forward + backward, {os.cpu_count()} CPUs:\n")
    print("| form | XLA | nodes | edges | seconds | peak RSS GB | pass RSS GB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['form']} | {'yes' if r['jit_compile'] else 'no'} | {r['nodes']:,} | "
            f"{r['edges']:,} | {r['seconds']:.3f} | {r['peak_rss_gb']:.2f} | "
            f"{r['pass_rss_gb']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
