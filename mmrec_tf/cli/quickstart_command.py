"""The quickstart command: demo data to a trained, evaluated recommender in one go."""

from __future__ import annotations

import json
from pathlib import Path

from mmrec_tf.cli.training_commands import training_outcome

DEFAULT_QUICKSTART_DIR = "mmrec_quickstart"
# What a quickstart writes in its folder: it refuses a folder that holds anything else.
QUICKSTART_ENTRIES = ("config.json", "demo-data", "features", "run")


def add_quickstart_command(commands, common) -> None:
    quickstart = commands.add_parser(
        "quickstart",
        parents=[common],
        help="demo data to a trained, evaluated recommender",
        description="Generate the demo dataset (or reuse it), validate it, extract features "
        "with the builtin encoders, train the multimodal recommender and compare it with the "
        "most-popular baseline on the test split.",
    )
    quickstart.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_QUICKSTART_DIR),
        help=f"working directory (default ./{DEFAULT_QUICKSTART_DIR})",
    )
    quickstart.set_defaults(handler=_quickstart)


def _quickstart(args) -> int:
    from mmrec_tf.data import MODALITIES, generate_demo_dataset, load_dataset, validate_dataset
    from mmrec_tf.data.feature_cache import FeatureCache
    from mmrec_tf.data.writing import write_atomically
    from mmrec_tf.encoders.extract import extract_features
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MostPopular
    from mmrec_tf.training import DEMO_CONFIG, RunDirectory, evaluate, load_config, train

    # The folder is the quickstart's own: new, empty, or what an earlier quickstart left.
    if args.out.exists():
        others = sorted(p.name for p in args.out.iterdir() if p.name not in QUICKSTART_ENTRIES)
        if not args.out.is_dir() or others:
            raise FileExistsError(
                f"{args.out} holds files the quickstart did not write ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}); choose another --out"
            )
    data, features, run = (args.out / name for name in ("demo-data", "features", "run"))
    config = args.out / "config.json"
    if config.is_file():
        load_config(config)  # an edited configuration is checked before anything runs
    if (data / "items.csv").is_file():
        print(f"using the demo dataset in {data}")
    else:
        generate_demo_dataset(data)
        print(f"wrote the demo dataset to {data}")
    report = validate_dataset(data)
    print(report.format())
    if not report.ok:
        return 1
    for modality in MODALITIES:
        if not FeatureCache(features).has(modality):
            print(f"extracting {modality} features (builtin encoder)")
            extract_features(data, modality, "builtin", features, progress=False)
    if not config.is_file():
        write_atomically(config, json.dumps(DEMO_CONFIG, indent=1))
    existing = RunDirectory(run)
    if existing.is_run() and existing.state().get("finished"):
        print(f"using the trained run in {run}")
    else:
        resume = existing.is_run()
        print(f"training {DEMO_CONFIG['model']} ({config})" + (" (resuming)" if resume else ""))
        train(data, config, run, features_dir=features, resume=resume, verbose=0)
    print(training_outcome(RunDirectory(run).state()))
    ours = evaluate(run, "test")
    dataset = load_dataset(data)
    popular = evaluate_ranking(MostPopular.from_dataset(dataset).score_users, dataset, "test")
    print(f"\n{'test split':<24}{'Recall@20':>10}{'NDCG@20':>10}")
    for name, results in (("MultimodalRecommender", ours), ("MostPopular", popular)):
        print(f"{name:<24}{results['recall@20']:>10.4f}{results['ndcg@20']:>10.4f}")
    print(f"\nthe trained model is {run / 'model.keras'}")
    return 0
