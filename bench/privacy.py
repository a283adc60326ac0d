"""What differential privacy costs on ml-100k-mm: Recall@20 and NDCG@20 at several ε.

Usage: python bench/privacy.py --data PREPARED_ML100K --features FEATS --out DIR
           [--config configs/ml-100k-mm-private.json] [--epsilons 1 3 8] [--seeds 0 1 2]
           [--epochs N]

FEATS is `mmrec-tf extract-features` output (text and image, as the README
extracts them). For each seed, the configuration trains without its
"privacy" object (ordinary BPR training, "no DP") and with it at each
target ε (DP-SGD, the noise multiplier chosen for that ε over the
configuration's epochs), as `mmrec-tf train` does (without privacy, up to
300 epochs with early stopping, as bench/experiments.py trains); the selected epoch is
tested as `mmrec-tf evaluate` does (test split, mask train+valid). Writes
DIR/privacy.md (mean ± std over seeds, with δ, σ and the steps, and the
median seconds of a training) and
DIR/privacy.json (every run), and keeps the runs in DIR/runs/ (a run that
finished is reused when the benchmark runs again with the same --out).
MostPopular is reported exact and with ε-DP counts (Laplace noise, one
draw per seed): the private baseline that DP-SGD has to beat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train_and_test(data, features, config: dict, out: Path) -> dict:
    """A run's test results; kept beside it (`out`.result.json), so that running the
    benchmark again with the same --out reuses the runs that finished."""
    from mmrec_tf.training import RunDirectory, evaluate, train

    kept = out.with_suffix(".result.json")
    if kept.is_file():
        return json.loads(kept.read_text())
    out.mkdir(parents=True, exist_ok=True)
    config_path = out.with_suffix(".json")
    config_path.write_text(json.dumps(config, indent=1))
    start = time.perf_counter()
    train(data, config_path, out, features_dir=features, verbose=0)
    seconds = time.perf_counter() - start
    results = evaluate(out, "test", ks=(20,))
    run = RunDirectory(out)
    result = {
        "recall@20": results["recall@20"],
        "ndcg@20": results["ndcg@20"],
        "best_epoch": run.state()["best_epoch"],
        "seconds": seconds,
        "privacy": run.privacy(),
    }
    kept.write_text(json.dumps(result))
    return result


def popularity(dataset, epsilon, seed) -> dict:
    """MostPopular's test results, its counts exact or ε-DP (Laplace noise)."""
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MostPopular

    model = MostPopular.from_dataset(dataset, epsilon=epsilon, seed=seed)
    results = evaluate_ranking(model.score_users, dataset, "test", ks=(20,))
    privacy = None if epsilon is None else {"epsilon": epsilon, "delta": 0.0}
    return {"recall@20": results["recall@20"], "ndcg@20": results["ndcg@20"], "privacy": privacy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--config", type=Path, default=Path(__file__).parents[1] / "configs/ml-100k-mm-private.json"
    )
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 8.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="replaces the configuration's epochs")
    args = parser.parse_args()
    from mmrec_tf.data import load_dataset

    dataset = load_dataset(args.data)
    base = json.loads(args.config.read_text())
    if args.epochs:
        base["epochs"] = base["patience"] = args.epochs
    privacy = base.pop("privacy")
    settings = {"no DP": None}
    for epsilon in args.epsilons:
        block = {k: v for k, v in privacy.items() if k != "noise_multiplier"}
        settings[f"ε = {epsilon:g}"] = {**block, "target_epsilon": epsilon}
    rows = []
    for seed in args.seeds:
        for name, block in settings.items():
            config = {**base, "seed": seed}
            if block is None:
                # Without a budget to spend, the model trains as the others do: up to 300
                # epochs, stopped after 20 without a better validation Recall@20.
                config.update(epochs=300, patience=20)
            else:
                config["privacy"] = block
            slug = name.replace(" ", "").replace("ε=", "eps")
            out = args.out / "runs" / f"{slug}-{seed}"
            row = train_and_test(args.data, args.features, config, out)
            rows.append({"setting": name, "seed": seed, **row})
            print(json.dumps(rows[-1]), flush=True)
        for epsilon in [None, *args.epsilons]:
            name = "MostPopular" + ("" if epsilon is None else f", ε = {epsilon:g}")
            row = popularity(dataset, epsilon, seed)
            rows.append({"setting": name, "seed": seed, **row})
    for epsilon in [None, *args.epsilons]:
        settings["MostPopular" + ("" if epsilon is None else f", ε = {epsilon:g}")] = epsilon
    (args.out / "privacy.json").write_text(json.dumps(rows, indent=1))
    (args.out / "privacy.md").write_text(table(rows, settings))
    print(table(rows, settings))
    return 0


def table(rows, settings) -> str:
    def spread(values):
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} ± {std:.4f}"

    lines = [
        "| training | ε (δ) | noise multiplier σ | steps | Recall@20 | NDCG@20 | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in settings:
        runs = [r for r in rows if r["setting"] == name]
        spent = runs[0]["privacy"]
        if spent is None:
            privacy = ("∞", "–", "–")
        elif "steps" not in spent:  # Laplace counts: pure ε-DP
            privacy = (f"{spent['epsilon']:.2f} (0)", "Laplace 1/ε", "–")
        else:
            privacy = (
                f"{max(r['privacy']['epsilon'] for r in runs):.2f} ({spent['delta']:.0e})",
                f"{spent['noise_multiplier']:.3f}",
                str(spent["steps"]),
            )
        seconds = [r["seconds"] for r in runs if "seconds" in r]
        lines.append(
            f"| {name} | {' | '.join(privacy)} | {spread([r['recall@20'] for r in runs])} | "
            f"{spread([r['ndcg@20'] for r in runs])} | "
            f"{f'{statistics.median(seconds):.0f}' if seconds else '–'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
