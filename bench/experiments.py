"""The comparison table on ml-100k-mm: baselines, our model and its ablations, 3 seeds.

Usage: python bench/experiments.py --data PREPARED_ML100K --features ML100K_MM/features
           [--seeds 0 1 2] [--only NAME ...] [--out bench/results/experiments]

Each model trains on the canonical split with BPR triples (batch 2048, Adam),
selected by validation Recall@20 with early stopping (`--patience`, default 20; at most 300
epochs), and is tested once at the selected epoch under both masks
(`train+valid`, the default, and MMRec's `train`). Features: the reference
all-MiniLM-L6-v2 text and ImageNet MobileNetV2 poster features of
`ml-100k-mm/features/` (posters missing for 59 items are masked, not
mean-filled). Writes `<out>.md` (mean ± std over seeds) and `<out>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# configs/ml-100k-mm.json; each ablation changes only what its name says.
OURS = {"embedding_dim": 64, "item_graph_k": 10, "l2_regularization": 1e-3}
ABLATIONS = {
    "IDs only": {"modalities": [], "item_graph_k": 0},
    "text only": {"modalities": ["text"]},
    "image only": {"modalities": ["image"]},
    "no IDs": {"use_ids": False},
    "concat fusion": {"fusion": "concat"},
    "16-d": {"embedding_dim": 16},
    "weighted-average fusion": {"fusion": "weighted_average"},
    "no self-attention": {"use_self_attention": False},
    "no item-item graph": {"item_graph_k": 0},
    "no graph": {"num_graph_layers": 0, "item_graph_k": 0},
    "attention graph": {"graph": "attention"},
}
MODELS = {
    # name: (class name, constructor options, learning rate)
    "MostPopular": ("MostPopular", {}, None),
    "BPR-MF": ("MatrixFactorization", {"embedding_dim": 64, "l2_regularization": 1e-4}, 1e-3),
    "LightGCN": (
        "LightGCN",
        {"embedding_dim": 64, "num_layers": 2, "l2_regularization": 1e-4},
        1e-3,
    ),
    "VBPR": ("VBPR", {"embedding_dim": 32, "l2_regularization": 1e-4}, 1e-3),
    "ours": ("MultimodalRecommender", OURS, 5e-3),
    **{
        f"ours, {name}": ("MultimodalRecommender", {**OURS, **changes}, 5e-3)
        for name, changes in ABLATIONS.items()
    },
}


def load_reference_features(dataset, features_dir: Path):
    order = [int(item_id) - 1 for item_id in dataset.item_ids]
    missing = set((features_dir / "image_missing_item_ids.txt").read_text().split())
    features = {
        "text": np.load(features_dir / "text_minilm.npy")[order],
        "image": np.load(features_dir / "image_mobilenet_v2.npy")[order],
    }
    present = {
        "text": np.ones(len(order), bool),
        "image": np.array([item_id not in missing for item_id in dataset.item_ids]),
    }
    return features, present


def train_model(name, dataset, features, present, seed, patience=20):
    """`MODELS[name]` trained as the table trains it: Adam, batch 2048, early stopping
    on validation Recall@20 with the best epoch's weights. Returns (model, epochs)."""
    import keras

    from mmrec_tf import models

    class_name, options, learning_rate = MODELS[name]
    options = dict(options)
    keras.utils.set_random_seed(seed)
    if class_name == "MostPopular":
        return models.MostPopular.from_dataset(dataset), 0
    chosen = options.pop("modalities", sorted(features))
    model = models.RECOMMENDERS[class_name].from_dataset(
        dataset, {m: features[m] for m in chosen}, {m: present[m] for m in chosen}, **options
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=True)
    return model, fit_with_early_stopping(model, dataset, seed, patience)


def fit_with_early_stopping(model, dataset, seed, patience=20) -> int:
    """Fits a compiled `model` as the table does (batch 2048, at most 300 epochs, the
    best validation Recall@20's weights kept); returns the epochs run."""
    import keras

    from mmrec_tf.data import bpr_triples
    from mmrec_tf.evaluation import RankingEvaluation

    evaluation = RankingEvaluation(dataset)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_recall@20", mode="max", patience=patience, restore_best_weights=True
    )
    model.fit(
        bpr_triples(dataset, 2048, seed=seed),
        epochs=300,
        callbacks=[evaluation, stopping],
        verbose=0,
    )
    return len(evaluation.history)


def run(name, dataset, features, present, seed, patience=20):
    from mmrec_tf.evaluation import evaluate_ranking

    start = time.perf_counter()
    model, epochs = train_model(name, dataset, features, present, seed, patience)
    row = {"model": name, "seed": seed, "epochs": epochs, "seconds": time.perf_counter() - start}
    for mask in ("train+valid", "train"):
        results = evaluate_ranking(model.score_users, dataset, "test", mask=mask)
        row.update({f"{mask}/{k}": v for k, v in results.items()})
    return row


def write_tables(rows, out: Path):
    """`out.md`, mean ± std over seeds per model, and `out.json`, every run."""
    lines = [
        "| model | seeds | Recall@20 | NDCG@20 | Recall@20 (mask train) | NDCG@20 (mask train) |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for name in dict.fromkeys(r["model"] for r in rows):
        chosen = [r for r in rows if r["model"] == name]
        cells = []
        for key in (
            "train+valid/recall@20",
            "train+valid/ndcg@20",
            "train/recall@20",
            "train/ndcg@20",
        ):
            values = np.array([r[key] for r in chosen])
            cells.append(f"{values.mean():.4f} ± {values.std():.4f}")
        lines.append(f"| {name} | {len(chosen)} | " + " | ".join(cells) + " |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=Path("bench/results/experiments"))
    parser.add_argument("--patience", type=int, default=20, help="early-stopping patience")
    args = parser.parse_args(argv)
    from mmrec_tf.data import load_dataset

    dataset = load_dataset(args.data)
    features, present = load_reference_features(dataset, args.features)
    rows = []
    for name in args.only or MODELS:
        for seed in args.seeds:
            rows.append(run(name, dataset, features, present, seed, args.patience))
            print(
                f"{name} seed {seed}: recall@20 {rows[-1]['train+valid/recall@20']:.4f} "
                f"ndcg@20 {rows[-1]['train+valid/ndcg@20']:.4f} ({rows[-1]['epochs']} epochs, "
                f"{rows[-1]['seconds']:.0f} s)",
                flush=True,
            )
            write_tables(rows, args.out)  # after every run: a long job cut short keeps its rows
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
