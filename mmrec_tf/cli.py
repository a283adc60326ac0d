"""The `mmrec-tf` command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_QUICKSTART_DIR = "mmrec_quickstart"


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    # TensorFlow's C++ logging would bury the command's own output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mmrec_tf.data import DatasetError, MediaError

    try:
        return args.handler(args)
    except (DatasetError, MediaError, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"mmrec-tf: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmrec-tf: interrupted", file=sys.stderr)
        return 130


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmrec-tf",
        description="Multimodal recommendation (text, images, audio, video) in Keras 3.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo-data",
        help="write the synthetic demo dataset",
        description="Write the synthetic demo dataset (real JPEG/PNG, WAV and video files with a "
        "planted signal in each modality). The same options give the same files.",
    )
    demo.add_argument("out", type=Path, help="directory to create (must not exist or be empty)")
    demo.add_argument("--items", type=int, default=200, help="number of items (default 200)")
    demo.add_argument("--users", type=int, default=150, help="number of users (default 150)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--frame-folders-only",
        action="store_true",
        help="write every video as a folder of frames (no PyAV needed)",
    )
    demo.set_defaults(handler=_demo_data)

    prepare = commands.add_parser(
        "prepare",
        help="convert a public dataset to the mmrec-tf format",
        description="Convert a public dataset to the mmrec-tf dataset format.",
    )
    prepare.add_argument("name", choices=["movielens-100k"], help="the dataset")
    prepare.add_argument(
        "--out", type=Path, required=True, help="directory to create (must not exist or be empty)"
    )
    prepare.add_argument(
        "--source",
        type=Path,
        help="local copy (e.g. ml-100k-mm, with plots and posters); without "
        "it the official archive is downloaded (titles and genres only)",
    )
    prepare.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloads are kept (default $MMREC_CACHE_DIR or ~/.cache/mmrec_tf)",
    )
    prepare.set_defaults(handler=_prepare)

    validate = commands.add_parser(
        "validate",
        help="check a dataset and decode every file",
        description="Check a dataset directory: ids, splits, paths, and every referenced media "
        "file decoded as the loaders do. Prints a summary, then each problem on "
        "its own line; exits with status 1 when there are errors.",
    )
    validate.add_argument("--data", type=Path, required=True, help="the dataset directory")
    validate.add_argument(
        "--no-decode",
        action="store_true",
        help="check the files' structure only, without decoding media",
    )
    validate.set_defaults(handler=_validate)

    from mmrec_tf.encoder_specs import SPEC_HELP

    extract = commands.add_parser(
        "extract-features",
        help="encode every item with a frozen encoder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Encode every item's modality with a frozen encoder and write "
        "FEATS/<modality>.npy (float32, one row per item in the dataset's order; "
        "zeros where the item lacks the modality) and FEATS/<modality>.json "
        "(encoder, weights checksum, item ids, missing items). Interrupted runs "
        "resume; existing features are kept unless --overwrite.",
        epilog="encoders:\n" + SPEC_HELP,
    )
    extract.add_argument("--data", type=Path, required=True, help="the dataset directory")
    extract.add_argument("--modality", required=True, choices=["text", "image", "audio", "video"])
    extract.add_argument("--encoder", required=True, help="encoder spec (see below)")
    extract.add_argument("--out", type=Path, required=True, help="features directory")
    extract.add_argument("--batch-size", type=int, default=32)
    extract.add_argument(
        "--chunk-size", type=int, default=512, help="items saved per resumable chunk (default 512)"
    )
    extract.add_argument("--overwrite", action="store_true", help="replace existing features")
    extract.add_argument(
        "--on-error",
        choices=["raise", "mask"],
        default="raise",
        help="a bad file stops the run (raise) or gets a zero row (mask)",
    )
    extract.set_defaults(handler=_extract_features)

    train = commands.add_parser(
        "train",
        help="train a recommender from a configuration file",
        description="Train a recommender as a JSON configuration says (see configs/), with "
        "validation Recall@20 for model selection and early stopping. Writes RUN/: "
        "config.json, model.keras (best epoch), last.keras and state.json (for "
        "--resume), log.csv, tensorboard/.",
    )
    train.add_argument("--data", type=Path, required=True, help="the dataset directory")
    train.add_argument(
        "--features",
        type=Path,
        help="features from `mmrec-tf extract-features` (FEATS/<modality>.npy)",
    )
    train.add_argument("--config", type=Path, required=True, help="a JSON configuration")
    train.add_argument("--out", type=Path, required=True, help="the run directory")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a trained run",
        description="Rank the whole catalogue for every user with held-out items, print the "
        "metrics and write RUN/eval_<split>.json.",
    )
    evaluate.add_argument("--run", type=Path, required=True, help="a run directory")
    evaluate.add_argument("--split", choices=["valid", "test"], default="test")
    evaluate.add_argument(
        "--mask",
        choices=["train+valid", "train"],
        default="train+valid",
        help="items left out of the ranking (default train+valid)",
    )
    evaluate.set_defaults(handler=_evaluate)

    export = commands.add_parser(
        "export",
        help="export a trained recommender as a SavedModel that serves recommendations",
        description="Write a SavedModel with the signatures recommend (serving_default), "
        "score, title, embed_users and, when the features' encoders are known, embed_items; "
        "ids, vectors and each user's training items live inside it, so serving needs "
        "TensorFlow only.",
    )
    export.add_argument("--model", type=Path, required=True, help="a checkpoint (RUN/model.keras)")
    export.add_argument("--out", type=Path, required=True, help="the SavedModel directory")
    export.add_argument(
        "--data", type=Path, help="the dataset it was trained on (default: from RUN/config.json)"
    )
    export.set_defaults(handler=_export)

    recommend = commands.add_parser(
        "recommend",
        help="print a user's top K from an exported SavedModel",
        description="Load a SavedModel written by `mmrec-tf export` and print the user's top K "
        "items (title and score). An unknown user gets the most popular items.",
    )
    recommend.add_argument("--model", type=Path, required=True, help="the SavedModel directory")
    recommend.add_argument("--user", required=True, help="a user id")
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.set_defaults(handler=_recommend)

    quickstart = commands.add_parser(
        "quickstart",
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
    return parser


def _demo_data(args) -> int:
    from mmrec_tf.data import generate_demo_dataset

    generate_demo_dataset(
        args.out,
        num_items=args.items,
        num_users=args.users,
        seed=args.seed,
        video_files=not args.frame_folders_only,
    )
    print(f"wrote the demo dataset to {args.out}")
    return 0


def _prepare(args) -> int:
    from mmrec_tf.data import prepare_movielens_100k

    prepare_movielens_100k(args.out, args.source, cache_dir=args.cache_dir)
    print(f"wrote {args.name} to {args.out}")
    return 0


def _validate(args) -> int:
    from mmrec_tf.data import validate_dataset

    report = validate_dataset(args.data, decode_media=not args.no_decode)
    print(report.format())
    return 0 if report.ok else 1


def _extract_features(args) -> int:
    from mmrec_tf.encoders.extract import extract_features

    path = extract_features(
        args.data,
        args.modality,
        args.encoder,
        args.out,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        on_error=args.on_error,
    )
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def _train(args) -> int:
    from mmrec_tf.training import train

    run = train(args.data, args.config, args.out, features_dir=args.features, resume=args.resume)
    print(f"trained; the run is in {run}")
    return 0


def _evaluate(args) -> int:
    from mmrec_tf.training import evaluate

    results = evaluate(args.run, split=args.split, mask=args.mask)
    for name, value in results.items():
        print(f"{name:>14}  {value:.4f}")
    print(f"wrote {args.run / f'eval_{args.split}.json'}")
    return 0


def _export(args) -> int:
    import json

    import keras

    from mmrec_tf.data import load_dataset
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import content_encoders

    if not args.model.is_file():
        raise FileNotFoundError(f"{args.model} not found")
    config_path = args.model.parent / "config.json"
    run_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    data = args.data or run_config.get("data")
    if data is None:
        raise FileNotFoundError(f"{config_path} not found: pass --data, the training dataset")
    model = keras.models.load_model(args.model)
    encoders, options = content_encoders(run_config, model) if run_config else ({}, {})
    path = export_recommender(
        model, load_dataset(data), args.out, content_encoders=encoders, content_options=options
    )
    print(f"exported to {path}" + (" (with embed_items)" if encoders else ""))
    return 0


def _recommend(args) -> int:
    import tensorflow as tf

    if args.k < 1:
        raise ValueError(f"-k must be at least 1. Received: {args.k}")
    if not (args.model / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{args.model} is not a SavedModel: run `mmrec-tf export` first")
    served = tf.saved_model.load(str(args.model))
    out = served.recommend(tf.constant([args.user]), tf.constant(args.k, tf.int32))
    titles = served.title(out["item_id"][0])["title"].numpy()
    for rank, (item, title, score) in enumerate(
        zip(out["item_id"][0].numpy(), titles, out["score"][0].numpy(), strict=True), 1
    ):
        print(f"{rank:>3}  {score:9.4f}  {item.decode()}  {title.decode()}")
    return 0


def _quickstart(args) -> int:
    import json

    from mmrec_tf.data import MODALITIES, generate_demo_dataset, load_dataset, validate_dataset
    from mmrec_tf.encoders.extract import extract_features
    from mmrec_tf.evaluation import evaluate_ranking
    from mmrec_tf.models import MostPopular
    from mmrec_tf.training import DEMO_CONFIG, evaluate, train

    data, features, run = (args.out / name for name in ("demo-data", "features", "run"))
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
        if not (features / f"{modality}.npy").is_file():
            print(f"extracting {modality} features (builtin encoder)")
            extract_features(data, modality, "builtin", features, progress=False)
    if not (run / "model.keras").is_file():
        config = args.out / "config.json"
        config.write_text(json.dumps(DEMO_CONFIG, indent=1))
        print(f"training {DEMO_CONFIG['model']} ({config})")
        train(data, config, run, features_dir=features, verbose=0)
    ours = evaluate(run, "test")
    dataset = load_dataset(data)
    popular = evaluate_ranking(MostPopular.from_dataset(dataset).score_users, dataset, "test")
    print(f"\n{'test split':<24}{'Recall@20':>10}{'NDCG@20':>10}")
    for name, results in (("MultimodalRecommender", ours), ("MostPopular", popular)):
        print(f"{name:<24}{results['recall@20']:>10.4f}{results['ndcg@20']:>10.4f}")
    print(f"\nthe trained model is {run / 'model.keras'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
