"""A 16-d student distilled from the 64-d model, against the same student trained alone.

Usage: python bench/distillation.py --data PREPARED_ML100K --features ML100K_MM/features
           [--seeds 0 1 2] [--alpha 0.5] [--temperature 1.0]

Per seed: the teacher (bench/experiments.py's "ours", configs/ml-100k-mm.json),
the student trained alone ("ours, 16-d") and the student trained through
`Distiller` (the same early stopping on the student's validation Recall@20).
Reports test Recall@20 / NDCG@20 (mask train+valid), the mean overlap of
each user's top 20 with the teacher's, and the float32 SavedModel sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))


def distilled(dataset, features, present, teacher, seed, alpha, temperature):
    import keras
    from experiments import MODELS, fit_with_early_stopping

    from mmrec_tf.models import RECOMMENDERS, Distiller

    class_name, options, learning_rate = MODELS["ours, 16-d"]
    keras.utils.set_random_seed(seed)
    student = RECOMMENDERS[class_name].from_dataset(dataset, features, present, **options)
    distiller = Distiller(student, teacher, temperature=temperature, alpha=alpha)
    distiller.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=True)
    return student, fit_with_early_stopping(distiller, dataset, seed)


def main() -> int:
    import numpy as np
    from experiments import load_reference_features, train_model

    from mmrec_tf.data import load_dataset
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.serving import export_recommender

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--out", type=Path, help="results (JSON)")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    features, present = load_reference_features(dataset, args.features)
    tested = np.unique(dataset.interactions("test")[0])
    seen_users, seen_items = dataset.interaction_pairs(["train", "valid"])

    def top20(model):
        scores = model.score_users(tested)
        keep = np.isin(seen_users, tested)
        scores[np.searchsorted(tested, seen_users[keep]), seen_items[keep]] = -np.inf
        return np.argsort(-scores, axis=1, kind="stable")[:, :20]

    rows = []
    for seed in args.seeds:
        teacher, teacher_epochs = train_model("ours", dataset, features, present, seed)
        alone, alone_epochs = train_model("ours, 16-d", dataset, features, present, seed)
        student, student_epochs = distilled(
            dataset, features, present, teacher, seed, args.alpha, args.temperature
        )
        reference = top20(teacher)
        for name, model, epochs in (
            ("teacher (64-d)", teacher, teacher_epochs),
            ("16-d, trained alone", alone, alone_epochs),
            ("16-d, distilled", student, student_epochs),
        ):
            results = evaluate_ranking(model.score_users, dataset, "test", ks=(20,))
            pairs = zip(top20(model), reference, strict=True)
            with tempfile.TemporaryDirectory() as folder:
                saved = export_recommender(model, dataset, Path(folder) / "m")
                size = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file()) / 1e6
            row = {
                "seed": seed,
                "model": name,
                "epochs": epochs,
                "recall@20": results["recall@20"],
                "ndcg@20": results["ndcg@20"],
                "top20_overlap_with_teacher": float(
                    np.mean([len(set(a) & set(b)) / 20 for a, b in pairs])
                ),
                "saved_model_mb": size,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    for name in dict.fromkeys(r["model"] for r in rows):
        chosen = [r for r in rows if r["model"] == name]
        summary = {
            key: statistics.mean(r[key] for r in chosen)
            for key in ("recall@20", "ndcg@20", "top20_overlap_with_teacher", "saved_model_mb")
        }
        print(name, json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
