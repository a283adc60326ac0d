"""What `export --quantize` saves and costs: SavedModel size, `recommend` latency, accuracy.

Usage: python bench/compression.py --data PREPARED_ML100K --features ML100K_MM/features
           [--seeds 0 1 2] [--synthetic-items 1000000] --out RESULTS.json

For each seed, `configs/ml-100k-mm.json`'s model ("ours" of
bench/experiments.py) is trained once and exported three times: float32,
float16 and int8. Per export: the SavedModel's size on disk, the median
latency of its `recommend` (one user, k = 20, loaded in this process, 200
calls after 20 warm-up ones), test Recall@20 and NDCG@20 of the vectors the
SavedModel serves (the full protocol, mask train+valid; tests check that the
served scores are these), and the overlap of each user's top 20 with the
float32 model's (mean share of common items). Then a synthetic catalogue of
`--synthetic-items` items (bench/scale.py's data, an untrained
`MultimodalRecommender` without graphs): size and latency only.
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
sys.path.insert(0, str(Path(__file__).parent))

VARIANTS = (None, "float16", "int8")


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def _latency_ms(folder: Path, user_ids: list[str]) -> float:
    import numpy as np
    import tensorflow as tf

    served = tf.saved_model.load(str(folder))
    k = tf.constant(20)
    times = []
    for index in range(220):
        user = tf.constant([user_ids[index % len(user_ids)]])
        started = time.perf_counter()
        served.recommend(user_id=user, k=k)["item_id"].numpy()
        if index >= 20:
            times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def _exports(model, dataset, root: Path) -> dict:
    """The three exports' size and latency, and the vectors each serves."""
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.serving.vector_table import VectorTable

    users, items = (v.numpy() for v in model.inference_vectors())
    out = {}
    for quantize in VARIANTS:
        name = quantize or "float32"
        folder = export_recommender(model, dataset, root / name, quantize=quantize)
        out[name] = {
            "saved_model_mb": _size_mb(folder),
            "variables_mb": _size_mb(folder / "variables"),
            "recommend_p50_ms": _latency_ms(folder, dataset.user_ids),
            "vectors": (
                VectorTable(users, quantize).dense().numpy(),
                VectorTable(items, quantize).dense().numpy(),
            ),
        }
    return out


def ml100k(args) -> list[dict]:
    import numpy as np
    from experiments import load_reference_features, train_model

    from mmrec_tf.data import load_dataset
    from mmrec_tf.evaluation import evaluate_ranking

    dataset = load_dataset(args.data)
    features, present = load_reference_features(dataset, args.features)
    rows = []
    for seed in args.seeds:
        model, epochs = train_model("ours", dataset, features, present, seed)
        with tempfile.TemporaryDirectory() as root:
            exports = _exports(model, dataset, Path(root))
        tops = {}
        for name, figures in exports.items():
            users, items = figures.pop("vectors")
            scores = lambda batch, u=users, i=items: u[batch] @ i.T  # noqa: E731
            results = evaluate_ranking(scores, dataset, "test", ks=(20,))
            tested = np.unique(dataset.interactions("test")[0])
            seen_users, seen_items = dataset.interaction_pairs(["train", "valid"])
            full = users[tested] @ items.T
            keep = np.isin(seen_users, tested)
            full[np.searchsorted(tested, seen_users[keep]), seen_items[keep]] = -np.inf
            tops[name] = np.argsort(-full, axis=1, kind="stable")[:, :20]
            pairs = zip(tops[name], tops["float32"], strict=True)
            overlap = np.mean([len(set(a) & set(b)) / 20 for a, b in pairs])
            row = {
                "seed": seed,
                "epochs": epochs,
                "variant": name,
                "recall@20": results["recall@20"],
                "ndcg@20": results["ndcg@20"],
                "top20_overlap": float(overlap),
                **figures,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def synthetic(args) -> list[dict]:
    import keras
    from scale import synthetic_dataset

    from mmrec_tf.models import MultimodalRecommender

    dataset, features = synthetic_dataset(args.synthetic_items, args.synthetic_items)
    keras.utils.set_random_seed(0)
    model = MultimodalRecommender.from_dataset(
        dataset, features, embedding_dim=64, num_graph_layers=0
    )
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for name, figures in _exports(model, dataset, Path(root)).items():
            figures.pop("vectors")
            row = {"items": args.synthetic_items, "users": dataset.num_users, "variant": name}
            rows.append({**row, **figures})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="prepared ml-100k-mm")
    parser.add_argument("--features", type=Path, required=True, help="ml-100k-mm/features")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="none: skip")
    parser.add_argument("--synthetic-items", type=int, default=1_000_000, help="0: none")
    parser.add_argument("--out", type=Path, required=True, help="where to write the results")
    args = parser.parse_args()
    results = {"ml100k": ml100k(args)}
    if args.synthetic_items:
        results["synthetic"] = synthetic(args)
    args.out.write_text(json.dumps(results, indent=1))
    for name in ("float32", "float16", "int8") if args.seeds else ():
        chosen = [r for r in results["ml100k"] if r["variant"] == name]
        summary = {
            key: statistics.mean(r[key] for r in chosen)
            for key in ("recall@20", "ndcg@20", "top20_overlap", "saved_model_mb")
        }
        print(name, json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
