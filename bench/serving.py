"""Serving a catalogue on CPU: exact, int8 and partitioned `recommend` against faiss and HNSW.

Usage: python bench/serving.py [--items 100000 1000000] [--threads 2]
           [--variants NAME ...] [--partitions P] [--probe M] [--out FILE.json]
       python bench/serving.py --trained RUN [--partitions P] [--probe M] [--out FILE.json]

For each catalogue size, in its own process: 64-d item vectors clustered as
trained ones are (n / 1,000 cluster centres, each item its centre plus
noise, scaled by a log-normal norm as popularity scales a trained item's),
10,000 users drawn the same way who each saw 50 random items. Each variant
is a SavedModel written by `write_saved_model` (the code path of
`export_recommender`) and loaded back with `tf.saved_model.load`:

- `exact_float32`, `exact_int8`: every item scored (`--index exact`, and
  `--quantize int8`);
- `partitioned`, `partitioned_int8`: `--index partitioned` (`--partitions`,
  `--probe`: the export's defaults unless given);
- `signature_floor`: a 1-item catalogue, what a signature call costs by itself;

and the anchors on the same vectors, outside TensorFlow: `faiss_exact`
(IndexFlatIP), `faiss_ivf` (IndexIVFFlat, inner product, as many lists as
the partitioned index; nprobe from its probe, doubled until overlap@20
reaches 0.98), `faiss_hnsw` (IndexHNSWFlat, M 32; efSearch from 64, doubled
the same way). faiss and hnswlib are benchmark-only dependencies
(`pip install faiss-cpu`).

Each variant: `p50_ms`, `p99_ms` for one user and k = 20 (200 calls after 10
warm-up calls, a random user each time), `users_per_s` at batch 256 (median
of 5 calls), `concurrent_users_per_s` with 16 callers of one user each
(threads of one process), `overlap@20` against the exact top 20 in float32
(NumPy, 200 users, seen items excluded; the anchors search 20 + 50 and drop
seen items), `export_s` and the process's peak memory so far
(`peak_memory_mb`). A partitioned variant below 0.98 overlap also reports the
probe (the signature's `probe` input, doubled) at which it reaches 0.98:
`probe_at_0.98`, `p50_ms_at_0.98`.

`--trained RUN`: the run's model exported exact and partitioned on its own
dataset, and Recall@20 of the canonical test split through each SavedModel's
`recommend` (seen items: train).

`--plot FILE.png --results A.json B.json ...`: p50 by catalogue size, one line
per variant, from earlier runs' `--out` files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NUM_USERS = 10_000
SEEN_PER_USER = 50
DIM = 64
K = 20
CALLERS = 16
# Each SavedModel variant as (quantize, index).
SAVED_MODELS = {
    "signature_floor": (None, "exact"),
    "exact_float32": (None, "exact"),
    "exact_int8": ("int8", "exact"),
    "partitioned": (None, "partitioned"),
    "partitioned_int8": ("int8", "partitioned"),
}
ANCHORS = ("faiss_exact", "faiss_ivf", "faiss_hnsw")
VARIANTS = (*SAVED_MODELS, *ANCHORS)


def clustered_vectors(rng, count, centres, chunk=1_000_000):
    """Vectors near random `centres`, with log-normal norms (float32, made by chunks
    so that 10⁷ of them fit in memory)."""
    import numpy as np

    vectors = np.empty((count, DIM), np.float32)
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        which = rng.integers(0, len(centres), size)
        noise = rng.standard_normal((size, DIM), dtype=np.float32)
        norms = np.exp(0.5 * rng.standard_normal((size, 1), dtype=np.float32))
        vectors[start : start + size] = (centres[which] + 0.5 * noise) * norms
    return vectors


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timings(recommend_one, recommend_batch, users) -> dict:
    """p50/p99 of one user, users per second at batch 256 and with 16 callers."""
    import numpy as np

    rng = np.random.default_rng(1)

    def one():
        start = time.perf_counter()
        recommend_one(users[rng.integers(len(users))])
        return time.perf_counter() - start

    for _ in range(10):
        one()
    single = sorted(one() for _ in range(200))
    batch = [users[u] for u in rng.integers(0, len(users), 256)]
    recommend_batch(batch)
    batched = []
    for _ in range(5):
        start = time.perf_counter()
        recommend_batch(batch)
        batched.append(time.perf_counter() - start)

    def caller(seed):
        local = np.random.default_rng(seed)
        for _ in range(20):
            recommend_one(users[local.integers(len(users))])

    callers = [threading.Thread(target=caller, args=(s,)) for s in range(CALLERS)]
    start = time.perf_counter()
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    concurrent = CALLERS * 20 / (time.perf_counter() - start)
    return {
        "p50_ms": 1000 * single[len(single) // 2],
        "p99_ms": 1000 * single[int(0.99 * len(single)) - 1],
        "users_per_s": 256 / statistics.median(batched),
        "concurrent_users_per_s": concurrent,
    }


def exact_top(queries, items, seen, chunk=250_000):
    """Each query's K best unseen items in float32, by chunks of the catalogue."""
    import numpy as np

    best_rows = np.zeros((len(queries), 0), np.int64)
    best_scores = np.zeros((len(queries), 0), np.float32)
    for start in range(0, len(items), chunk):
        scores = queries @ items[start : start + chunk].T
        local = seen - start
        inside = (local >= 0) & (local < scores.shape[1])
        rows = np.nonzero(inside)[0]
        scores[rows, local[inside]] = -np.inf
        rows = np.concatenate(
            [best_rows, start + np.arange(scores.shape[1])[None].repeat(len(queries), 0)], 1
        )
        scores = np.concatenate([best_scores, scores], 1)
        keep = np.argpartition(-scores, K, axis=1)[:, :K]
        best_rows = np.take_along_axis(rows, keep, 1)
        best_scores = np.take_along_axis(scores, keep, 1)
    return best_rows  # each row's K best, in no particular order (overlap needs none)


def overlap(found, exact) -> float:
    return float(sum(len(set(f) & set(e)) for f, e in zip(found, exact, strict=True)) / exact.size)


def worker(num_items, variants, partitions, probe, threads) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from mmrec_tf.serving.catalogue_search import default_partitions, default_probe

    rng = np.random.default_rng(0)
    centres = 2.0 * rng.normal(size=(max(16, num_items // 1000), DIM)).astype(np.float32)
    items = clustered_vectors(rng, num_items, centres)
    users = clustered_vectors(rng, NUM_USERS, centres)
    seen = np.sort(rng.integers(0, num_items, (NUM_USERS, SEEN_PER_USER)), axis=1)
    partitions = partitions or default_partitions(num_items)
    probe = probe or default_probe(partitions)
    user_ids = [f"u{u}" for u in range(NUM_USERS)]
    item_ids = [f"i{i}" for i in range(num_items)]
    sample = rng.choice(NUM_USERS, 200, replace=False)
    exact = exact_top(users[sample], items, seen[sample])
    rows = []
    for variant in variants:
        row = {"variant": variant, "items": num_items, "threads": threads}
        start = time.perf_counter()
        if variant in SAVED_MODELS:
            recommend_one, recommend_batch, found, extra = _saved_model(
                variant, items, users, seen, user_ids, item_ids, sample, partitions, probe, exact
            )
        else:
            recommend_one, recommend_batch, found, extra = _faiss(
                variant, items, users, seen, sample, partitions, probe, threads, exact
            )
        row["export_s"] = time.perf_counter() - start
        row.update(extra)
        row.update(timings(recommend_one, recommend_batch, user_ids))
        if found is not None:
            row["overlap@20"] = overlap(found, exact)
        row["peak_memory_mb"] = peak_memory_mb()
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _saved_model(variant, items, users, seen, user_ids, item_ids, sample, partitions, probe, exact):
    import numpy as np
    import tensorflow as tf

    from mmrec_tf.serving.export import write_saved_model
    from mmrec_tf.serving.serving_tables import ServingTables

    quantize, index = SAVED_MODELS[variant]
    if variant == "signature_floor":
        items, item_ids, seen = items[:1], item_ids[:1], np.zeros((len(users), 0), np.int32)
    settings = {"partitions": partitions, "probe": probe} if index == "partitioned" else {}
    tables = ServingTables(
        user_ids,
        item_ids,
        users,
        items,
        (np.arange(len(users) + 1, dtype=np.int64) * seen.shape[1], seen.ravel().astype(np.int32)),
        np.ones(len(items), np.float32),
        item_ids,
        quantize=quantize,
        search=index,
        **settings,
    )
    folder = tempfile.mkdtemp()
    write_saved_model(tables, Path(folder) / "saved")
    del tables
    served = tf.saved_model.load(str(Path(folder) / "saved"))
    k = tf.constant(K, tf.int32)

    def recommend_one(user):
        served.recommend(tf.constant([user]), k)["item_id"].numpy()

    def recommend_batch(batch):
        return served.recommend(tf.constant(batch), k)["item_id"].numpy()

    def found_at(probe):
        asked = tf.constant([user_ids[u] for u in sample])
        ids = served.recommend(asked, k, *([] if probe is None else [tf.constant(probe)]))
        return np.array([[int(i[1:]) for i in row] for row in ids["item_id"].numpy().astype(str)])

    found = None if variant == "signature_floor" else found_at(None)
    size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    extra = {"saved_model_mb": size / 1e6, **settings}
    if index == "partitioned" and overlap(found, exact) < 0.98:
        # The probe input: the same SavedModel searching more, until it reaches 0.98.
        wider = probe
        while overlap(found_at(wider), exact) < 0.98 and wider < partitions:
            wider = min(2 * wider, partitions)
        user = tf.constant([user_ids[0]])
        served.recommend(user, k, tf.constant(wider))
        calls = []
        for _ in range(100):
            start = time.perf_counter()
            served.recommend(user, k, tf.constant(wider))["item_id"].numpy()
            calls.append(time.perf_counter() - start)
        extra["probe_at_0.98"] = wider
        extra["p50_ms_at_0.98"] = 1000 * statistics.median(calls)
        extra["overlap@20_at_0.98"] = overlap(found_at(wider), exact)
    return recommend_one, recommend_batch, found, extra


def _faiss(variant, items, users, seen, sample, partitions, probe, threads, exact):
    """A faiss index on the same vectors; IVF and HNSW at the smallest search effort
    (nprobe from the partitioned index's probe, efSearch from 64, doubling) whose
    overlap@20 reaches 0.98, so that latencies compare at equal overlap."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(threads)
    if variant == "faiss_exact":
        index = faiss.IndexFlatIP(DIM)
    elif variant == "faiss_ivf":
        quantizer = faiss.IndexFlatIP(DIM)
        index = faiss.IndexIVFFlat(quantizer, DIM, partitions, faiss.METRIC_INNER_PRODUCT)
        index.train(items)
    else:
        index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    index.add(items)
    wanted = K + seen.shape[1]

    def search(rows):
        _, found = index.search(users[rows], wanted)
        pairs = zip(found, seen[rows], strict=True)
        return [[i for i in f if i not in set(s)][:K] for f, s in pairs]

    settings = {}
    if variant == "faiss_ivf":
        index.nprobe = probe
        while overlap(np.array(search(sample)), exact) < 0.98 and index.nprobe < partitions:
            index.nprobe = min(2 * index.nprobe, partitions)
        settings = {"partitions": partitions, "probe": index.nprobe}
    elif variant == "faiss_hnsw":
        index.hnsw.efSearch = 64
        while overlap(np.array(search(sample)), exact) < 0.98 and index.hnsw.efSearch < 4096:
            index.hnsw.efSearch *= 2
        settings = {"M": 32, "efSearch": index.hnsw.efSearch}

    def recommend_one(user):
        search([int(user[1:])])

    def recommend_batch(batch):
        search([int(u[1:]) for u in batch])

    return recommend_one, recommend_batch, np.array(search(sample)), settings


def trained(run, partitions, probe) -> list[dict]:
    """Recall@20 of the canonical test split through exact and partitioned SavedModels."""
    import numpy as np
    import tensorflow as tf

    from mmrec_tf.models import load_recommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import RunDirectory

    directory = RunDirectory(run)
    dataset = directory.dataset(directory.config()["data"])
    model = load_recommender(directory.best_model_path)
    test_users, test_items = dataset.interactions("test")
    users = np.unique(test_users)
    rows = []
    for index in ("exact", "partitioned"):
        settings = {"partitions": partitions, "probe": probe} if index == "partitioned" else {}
        path = Path(tempfile.mkdtemp()) / index
        export_recommender(model, dataset, path, index=index, **settings)
        served = tf.saved_model.load(str(path))
        ids = [dataset.user_ids[u] for u in users]
        found = served.recommend(tf.constant(ids), tf.constant(K))["item_id"].numpy().astype(str)
        lookup = {item: i for i, item in enumerate(dataset.item_ids)}
        recalls = []
        for row, user in enumerate(users):
            held_out = set(test_items[test_users == user])
            hits = sum(lookup[i] in held_out for i in found[row])
            recalls.append(hits / min(len(held_out), K))
        rows.append({"variant": index, "recall@20": float(np.mean(recalls)), **settings})
    return rows


def plot(results, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for file in results for row in json.loads(Path(file).read_text())]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for variant in VARIANTS:
        points = sorted((r["items"], r["p50_ms"]) for r in rows if r["variant"] == variant)
        if points:
            axis.plot(*zip(*points, strict=True), marker="o", label=variant)
    axis.set(xscale="log", yscale="log", xlabel="items (64-d)", ylabel="p50 ms, one user, k = 20")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--probe", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trained", type=Path, help="a run directory: accuracy through the index")
    parser.add_argument("--out", type=Path, default=Path("bench/results/serving.json"))
    parser.add_argument("--plot", type=Path, help="draw p50 by size from --results files")
    parser.add_argument("--results", type=Path, nargs="+", default=[])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plot:
        plot(args.results, args.plot)
        return 0
    if args.worker:
        rows = worker(args.worker, args.variants, args.partitions, args.probe, args.threads)
        print(json.dumps(rows))
        return 0
    if args.trained:
        rows = trained(args.trained, args.partitions, args.probe)
        for row in rows:
            print(json.dumps(row))
    else:
        rows = []
        for num_items in args.items:
            command = [sys.executable, __file__, "--worker", str(num_items)]
            command += ["--threads", str(args.threads), "--variants", *args.variants]
            for name in ("partitions", "probe"):
                if getattr(args, name):
                    command += [f"--{name}", str(getattr(args, name))]
            result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            rows += json.loads(result.stdout.strip().splitlines()[-1])
        print(
            "| items | variant | p50 ms | p99 ms | users/s at 256 | users/s, 16 callers | "
            "overlap@20 |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
        )
        for r in rows:
            print(
                f"| {r['items']:,} | {r['variant']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['users_per_s']:,.0f} | {r['concurrent_users_per_s']:,.0f} | "
                f"{r.get('overlap@20', float('nan')):.3f} |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
