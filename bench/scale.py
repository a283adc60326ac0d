"""How training, evaluation and serving cost grow with the catalogue and the interactions.

Usage: python bench/scale.py --out RESULTS.json [--sizes 1e4:1e5,1e6:1e7 ...] [--threads 2]
       python bench/scale.py --plot RESULTS.json [MORE.json ...] [--figure scaling.png]

Synthetic data, features only (no media): items in 100 topics with
popularity following a power law; each user takes 80% of their
interactions from one topic and the rest from the whole catalogue, about 50
interactions per user, split 80/10/10 in time per user. Each item has two
64-dimensional "modalities" (its topic's centroid plus noise), so the content
tower (projections, cross-modal attention, fusion) runs as on real features.

The model is `MultimodalRecommender` without graphs (items stand alone, so a
step computes only its batch's items), embedding 64, BPR, batch 4096, XLA,
`--optimizer` `lazy_adam` (default: only the looked-up embedding rows are
updated) or `adam` (Keras's: every row, every step). For each size
(items:interactions), in a fresh process: one training epoch (seconds; the
XLA compilation is done before, on 2 steps, and given as `compile_s`), the
evaluation of 10,000 sampled test users ranked over the
whole catalogue (batched, seen items masked and top K taken in TensorFlow),
the process's peak RSS, the SavedModel export (seconds, size on disk) and the
exported `recommend`'s median latency for one user and k = 20 (in this
process, after 20 warm-up calls, over 200 calls). With `--graph-steps N`,
also the seconds per step of the same model with two LightGCN graph layers,
whose every step propagates over the whole user-item graph.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_SIZES = "1e4:1e5,1e4:1e6,1e5:1e6,1e5:1e7,1e6:1e6,1e6:1e7"
INTERACTIONS_PER_USER = 50
TOPICS = 100
FEATURE_DIM = 64
BATCH_SIZE = 4096
EVALUATED_USERS = 10_000


def synthetic_dataset(num_items: int, num_interactions: int, seed: int = 0):
    """A `MultimodalDataset` and its features ({modality: [num_items, 64]}), built in memory."""
    import numpy as np

    from mmrec_tf.data.dataset import MultimodalDataset

    rng = np.random.default_rng(seed)
    num_users = max(10, num_interactions // INTERACTIONS_PER_USER)
    topic = rng.integers(TOPICS, size=num_items)
    popularity = rng.permutation(1.0 / (np.arange(num_items) + 10.0) ** 0.8)
    # Items sorted by topic, cumulative popularity: a draw within a topic is a search.
    order = np.argsort(topic, kind="stable")
    cumulative = np.cumsum(popularity[order])
    starts = np.searchsorted(topic[order], np.arange(TOPICS + 1))
    below = np.concatenate([[0.0], cumulative])

    users = np.sort(rng.integers(num_users, size=num_interactions)).astype(np.int32)
    favourite = rng.integers(TOPICS, size=num_users)[users]
    in_topic = rng.random(num_interactions) < 0.8
    lo = np.where(in_topic, below[starts[favourite]], 0.0)
    hi = np.where(in_topic, below[starts[favourite + 1]], cumulative[-1])
    drawn = np.searchsorted(cumulative, lo + rng.random(num_interactions) * (hi - lo))
    items = order[np.minimum(drawn, num_items - 1)].astype(np.int32)

    # Time order within each user (users are sorted): a random permutation of positions.
    timestamps = rng.permutation(num_interactions).astype(np.int64)
    by_time = np.lexsort((timestamps, users))
    users, items, timestamps = users[by_time], items[by_time], timestamps[by_time]
    first = np.searchsorted(users, np.arange(num_users + 1))
    counts = np.diff(first)[users]
    position = np.arange(num_interactions) - first[users]
    splits = np.where(
        position < np.ceil(0.8 * counts),
        "train",
        np.where(position < np.ceil(0.9 * counts), "valid", "test"),
    )
    centroids = rng.normal(size=(2, TOPICS, FEATURE_DIM)).astype(np.float32)
    features = {
        modality: centroids[m][topic]
        + rng.normal(scale=1.0, size=(num_items, FEATURE_DIM)).astype(np.float32)
        for m, modality in enumerate(("image", "text"))
    }
    dataset = MultimodalDataset(
        root=Path("synthetic"),
        item_ids=[f"i{i}" for i in range(num_items)],
        user_ids=[f"u{u}" for u in range(num_users)],
        text=[None] * num_items,
        media={m: [None] * num_items for m in ("image", "audio", "video")},
        metadata={},
        interaction_users=users,
        interaction_items=items,
        timestamps=timestamps,
        splits=splits,
    )
    return dataset, features


def measure(
    num_items: int, num_interactions: int, threads: int, graph_steps: int, optimizer: str
) -> dict:
    """One size's figures (run in a process of its own, for its peak RSS)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np

    from mmrec_tf.data import bpr_num_batches, bpr_triples
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MultimodalRecommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training.train import OPTIMIZER_CLASSES

    result = {"items": num_items, "interactions": num_interactions, "optimizer": optimizer}
    started = time.perf_counter()
    dataset, features = synthetic_dataset(num_items, num_interactions)
    result["users"] = dataset.num_users
    result["train_interactions"] = int((dataset.splits == "train").sum())
    result["data_s"] = time.perf_counter() - started

    def build(num_graph_layers):
        keras.utils.set_random_seed(0)
        model = MultimodalRecommender.from_dataset(
            dataset, features, embedding_dim=64, num_graph_layers=num_graph_layers
        )
        model.compile(optimizer=OPTIMIZER_CLASSES[optimizer](0.005), jit_compile=True)
        return model

    model = build(0)
    steps = bpr_num_batches(dataset, BATCH_SIZE)
    batches = bpr_triples(dataset, BATCH_SIZE, seed=0)
    result["steps"] = steps
    started = time.perf_counter()
    model.fit(batches.take(2), epochs=1, verbose=0)
    result["compile_s"] = time.perf_counter() - started
    started = time.perf_counter()
    history = model.fit(batches, epochs=1, verbose=0)
    result["epoch_s"] = time.perf_counter() - started
    result["loss"] = float(history.history["loss"][-1])

    started = time.perf_counter()
    metrics = evaluate_ranking(
        model.ranking_scorer(), dataset, "test", ks=(20,), sample_users=EVALUATED_USERS
    )
    result["evaluation_s"] = time.perf_counter() - started
    tested = len(np.unique(dataset.interactions("test")[0]))
    result["evaluated_users"] = min(EVALUATED_USERS, tested)
    result["recall@20"] = metrics["recall@20"]

    result["train_evaluate_peak_rss_gb"] = _peak_rss_gb()

    folder = Path(tempfile.mkdtemp()) / "model"
    started = time.perf_counter()
    export_recommender(model, dataset, folder)
    result["export_s"] = time.perf_counter() - started
    result["saved_model_mb"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    served = tf.saved_model.load(str(folder))
    users = [tf.constant([f"u{u}"]) for u in range(220)]
    k = tf.constant(20)
    latencies = []
    for index, user in enumerate(users):
        started = time.perf_counter()
        served.recommend(user_id=user, k=k)["item_id"].numpy()
        if index >= 20:
            latencies.append(time.perf_counter() - started)
    result["recommend_p50_ms"] = 1000 * float(np.median(latencies))
    shutil.rmtree(folder.parent)
    del served
    result["peak_rss_gb"] = _peak_rss_gb()

    if graph_steps:
        graph_model = build(2)
        graph_model.fit(batches.take(2), epochs=1, verbose=0)  # compile
        started = time.perf_counter()
        graph_model.fit(batches.take(graph_steps), epochs=1, verbose=0)
        result["graph_step_s"] = (time.perf_counter() - started) / graph_steps
        result["graph_peak_rss_gb"] = _peak_rss_gb()
    return result


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        items, interactions = part.split(":")
        sizes.append((int(float(items)), int(float(interactions))))
    return sizes


def plot(results_paths: list[Path], figure: Path) -> None:
    """Epoch, evaluation and peak memory against interactions, one line per catalogue
    size and optimizer (`lazy_adam` solid, `adam` dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(path.read_text()) for path in results_paths]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    colours = {}
    for run in runs:
        style = "o-" if run["optimizer"] == "lazy_adam" else "s--"
        results = [r for r in run["results"] if not r.get("failed")]
        for num_items in sorted({r["items"] for r in results}):
            rows = sorted(
                (r for r in results if r["items"] == num_items), key=lambda r: r["interactions"]
            )
            x = [r["interactions"] for r in rows]
            colour = colours.setdefault(num_items, f"C{len(colours)}")
            label = f"{num_items:,} items, {run['optimizer']}"
            axes[0].plot(x, [r["epoch_s"] for r in rows], style, color=colour, label=label)
            if run["optimizer"] == "lazy_adam":
                axes[1].plot(x, [r["evaluation_s"] for r in rows], style, color=colour)
                axes[2].plot(x, [r["peak_rss_gb"] for r in rows], style, color=colour)
    titles = ("training epoch (s)", f"evaluation, {EVALUATED_USERS:,} users (s)", "peak RSS (GB)")
    for axis, title in zip(axes, titles, strict=True):
        axis.set_xscale("log")
        axis.set_xlabel("interactions")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figure, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, help="where to write the results (JSON)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="items:interactions,...")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow's threads")
    parser.add_argument(
        "--graph-steps", type=int, default=0, help="time this many steps of the graph model too"
    )
    parser.add_argument("--optimizer", default="lazy_adam", choices=("adam", "lazy_adam"))
    parser.add_argument("--plot", type=Path, nargs="+", help="results (JSON) to plot")
    parser.add_argument("--figure", type=Path, default=Path("scaling.png"), help="the plot")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        items, interactions = map(int, args.worker.split(":"))
        figures = measure(items, interactions, args.threads, args.graph_steps, args.optimizer)
        print(json.dumps(figures))
        return 0
    if args.plot:
        plot(args.plot, args.figure)
        return 0
    if args.out is None:
        parser.error("--out or --plot is needed")
    results = []
    for items, interactions in _parse_sizes(args.sizes):
        command = [sys.executable, __file__, "--worker", f"{items}:{interactions}"]
        command += ["--threads", str(args.threads), "--graph-steps", str(args.graph_steps)]
        command += ["--optimizer", args.optimizer]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{items}:{interactions} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
            results.append({"items": items, "interactions": interactions, "failed": True})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
        settings = {"threads": args.threads, "optimizer": args.optimizer}
        args.out.write_text(json.dumps({**settings, "results": results}, indent=1))
    return 1 if any(r.get("failed") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
