"""Users as their history on ml-100k-mm: both history protocols, new users, 3 seeds.

Usage: python bench/history.py --data PREPARED_ML100K --features ML100K_MM/features
           [--seeds 0 1 2] [--only NAME ...] [--out bench/results/history]

Rows: the closed-form anchors (EASE, ItemKNN, each with and without recency
weights; deterministic, one run) and HistoryRecommender as
configs/ml-100k-mm-history.json sets it, with the reference text and poster
features and without content (IDs only), selected by validation Recall@20
with early stopping. Each is tested on the canonical test split (mask
train+valid) under `history train` and `history train+valid`.

New users: 10% of the users (drawn with the seed) are held out of training
entirely (their train and valid interactions removed); after training on the
rest, each held-out user is ranked from their train+valid items alone and
tested on their test items, against MostPopular of the reduced training set.
Writes `<out>.md` (mean ± std over seeds) and `<out>.json` (every run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from experiments import load_reference_features  # noqa: E402

CONFIG = Path(__file__).parent.parent / "configs" / "ml-100k-mm-history.json"
# Each closed-form anchor: a function of (models, dataset, features, present).
ANCHORS = {
    "EASE (λ 500)": lambda models, d, f, p: models.EASE.from_dataset(d, l2=500.0),
    "EASE (λ 500), recency τ 10": lambda models, d, f, p: models.EASE.from_dataset(
        d, l2=500.0, recency=10.0
    ),
    "ItemKNN (100)": lambda models, d, f, p: models.ItemKNN.from_dataset(d, neighbours=100),
    "ItemKNN (100), recency τ 10": lambda models, d, f, p: models.ItemKNN.from_dataset(
        d, neighbours=100, recency=10.0
    ),
    "ContentKNN (text + poster)": lambda models, d, f, p: models.ContentKNN.from_dataset(d, f, p),
}
NEURAL = {
    "HistoryRecommender": None,  # every modality of the configuration
    "HistoryRecommender, IDs only": [],
}
NAMES = [*ANCHORS, *NEURAL, "new users"]
SPARSE = 30  # training interactions below which a user counts as sparse


def fit(name, dataset, features, present, seed, patience):
    """The trained model for row `name` (early stopping on valid, history train)."""
    import keras

    from mmrec_tf import models
    from mmrec_tf.data import bpr_triples
    from mmrec_tf.evaluation import RankingEvaluation

    if name in ANCHORS:
        return ANCHORS[name](models, dataset, features, present), 0
    config = json.loads(CONFIG.read_text())
    modalities = NEURAL[name] if NEURAL[name] is not None else config["modalities"]
    options = dict(config["options"])
    if not modalities:
        options["item_graph_k"] = 0
    keras.utils.set_random_seed(seed)
    model = models.HistoryRecommender.from_dataset(
        dataset,
        {m: features[m] for m in modalities},
        {m: present[m] for m in modalities},
        **options,
    )
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), jit_compile=True)
    evaluation = RankingEvaluation(dataset)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_recall@20", mode="max", patience=patience, restore_best_weights=True
    )
    triples = bpr_triples(
        dataset,
        config["batch_size"],
        seed=seed,
        **model.sampler_options(),
    )
    model.fit(triples, epochs=config["epochs"], callbacks=[evaluation, stopping], verbose=0)
    return model, len(evaluation.history)


def run(name, dataset, features, present, seed, patience):
    from mmrec_tf.evaluation import evaluate_ranking, history_scorer

    start = time.perf_counter()
    model, epochs = fit(name, dataset, features, present, seed, patience)
    row = {"model": name, "seed": seed, "epochs": epochs, "seconds": time.perf_counter() - start}
    for history in ("train", "train+valid"):
        score = history_scorer(model, dataset, history, "test")
        results = evaluate_ranking(score, dataset, "test")
        row.update({f"{history}/{k}": v for k, v in results.items()})
    # Sparse users: fewer than SPARSE training interactions.
    counts = np.bincount(dataset.interactions("train")[0], minlength=dataset.num_users)
    sparse = _restricted(dataset, counts[dataset.interaction_users] < SPARSE)
    score = history_scorer(model, dataset, "train+valid", "test")
    row["sparse users/recall@20"] = evaluate_ranking(score, sparse, "test")["recall@20"]
    return row


def _restricted(dataset, keep):
    """`dataset` with only the interactions where `keep` is True (same users and items)."""
    return dataclasses.replace(
        dataset,
        interaction_users=dataset.interaction_users[keep],
        interaction_items=dataset.interaction_items[keep],
        timestamps=None if dataset.timestamps is None else dataset.timestamps[keep],
        ratings=None if dataset.ratings is None else dataset.ratings[keep],
        splits=dataset.splits[keep],
    )


def new_users(dataset, features, present, seed, patience, fraction=0.1):
    """Recall@20 of held-out users ranked from their train+valid history."""
    from mmrec_tf.data.histories import Sequences
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MostPopular

    rng = np.random.default_rng(seed)
    held_out = rng.choice(dataset.num_users, int(fraction * dataset.num_users), replace=False)
    is_new = np.isin(dataset.interaction_users, held_out)
    # Their train and valid interactions leave training; their test ones stay as targets.
    reduced = _restricted(dataset, ~is_new | (dataset.splits == "test"))
    histories = Sequences.from_dataset(dataset, ["train", "valid"])
    # The held-out users only: everyone else's test items are dropped from the targets.
    only_new = _restricted(dataset, is_new)
    row = {"model": "new users", "seed": seed, "users": len(held_out)}
    popular = MostPopular.from_dataset(reduced).score_users
    row["MostPopular/recall@20"] = evaluate_ranking(popular, only_new, "test")["recall@20"]
    for name in ("EASE (λ 500), recency τ 10", "HistoryRecommender"):
        model, _ = fit(name, reduced, features, present, seed, patience)
        length = model.history_window() or int(histories.lengths.max())

        def score(users, model=model, length=length):
            return model.score_histories(histories.latest(length, users))

        row[f"{name}/recall@20"] = evaluate_ranking(score, only_new, "test")["recall@20"]
    return row


def write_tables(rows, out: Path):
    lines = [
        "| model | seeds | Recall@20, history train | NDCG@20 | "
        "Recall@20, history train+valid | NDCG@20 | sparse users: Recall@20 |",
        "| --- | ---: | --- | --- | --- | --- | --- |",
    ]
    keys = (
        "train/recall@20",
        "train/ndcg@20",
        "train+valid/recall@20",
        "train+valid/ndcg@20",
        "sparse users/recall@20",
    )
    for name in dict.fromkeys(r["model"] for r in rows if r["model"] != "new users"):
        chosen = [r for r in rows if r["model"] == name]
        cells = [_mean_std([r[k] for r in chosen]) for k in keys]
        lines.append(f"| {name} | {len(chosen)} | " + " | ".join(cells) + " |")
    new = [r for r in rows if r["model"] == "new users"]
    if new:
        lines += [
            "",
            "| new users (10% held out), Recall@20 | seeds | mean ± std |",
            "| --- | ---: | --- |",
        ]
        for key in [k for k in new[0] if k.endswith("/recall@20")]:
            values = [r[key] for r in new]
            lines.append(f"| {key.split('/')[0]} | {len(new)} | {_mean_std(values)} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


def _mean_std(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.4f} ± {values.std():.4f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=NAMES)
    parser.add_argument("--out", type=Path, default=Path("bench/results/history"))
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    args = parser.parse_args(argv)

    from mmrec_tf.data import load_dataset

    dataset = load_dataset(args.data)
    features, present = load_reference_features(dataset, args.features)
    rows = []
    for name in args.only or NAMES:
        # The anchors are deterministic: one run.
        for seed in args.seeds[:1] if name in ANCHORS else args.seeds:
            if name == "new users":
                row = new_users(dataset, features, present, seed, args.patience)
            else:
                row = run(name, dataset, features, present, seed, args.patience)
            rows.append(row)
            shown = {k: round(v, 4) for k, v in row.items() if k.endswith("recall@20")}
            print(f"{name} seed {seed}: {shown} ({row.get('epochs', '')} epochs)", flush=True)
            write_tables(rows, args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
