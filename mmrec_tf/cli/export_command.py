"""The export command: a trained recommender as a SavedModel that serves it."""

from __future__ import annotations

import sys
from pathlib import Path

from mmrec_tf.cli.arguments import positive_int
from mmrec_tf.names import ENCODER_DTYPES, QUANTIZATIONS


def add_export_command(commands, common) -> None:
    export = commands.add_parser(
        "export",
        parents=[common],
        help="export a trained recommender as a SavedModel that serves recommendations",
        description="Write a SavedModel with the signatures recommend (serving_default), "
        "score, title and embed_users, and recommend_from_history for a model that reads "
        "histories; ids, vectors and each user's seen items live inside it, so serving "
        "needs TensorFlow only (see docs/serving.md). When the model has content and its "
        "encoders are known, DIR/embed_items is a second SavedModel that embeds new items "
        "from their raw files.",
    )
    export.add_argument(
        "--model",
        type=Path,
        required=True,
        help="a run directory (its best model) or a model file (RUN/model.keras)",
    )
    export.add_argument("--out", type=Path, required=True, help="the SavedModel directory")
    export.add_argument(
        "--data", type=Path, help="the dataset it was trained on (default: from RUN/config.json)"
    )
    export.add_argument(
        "--seen",
        choices=["train", "train+valid", "all"],
        default="train",
        help="the interactions served as known: never recommended again, and a history "
        "model's users are their latest ones (default train; all: every split, for serving "
        "after the last training)",
    )
    export.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        help="store the user and item vectors in 16 or 8 bits (int8: one scale per row); "
        "the signatures stay the same (see docs/compression.md)",
    )
    # No `choices`: the names are `catalogue_search.SEARCHES`'s, which refuses others, and
    # building the parser must not start TensorFlow.
    export.add_argument(
        "--index",
        metavar="NAME",
        help="how recommend searches the catalogue: exact (every item scored) or "
        "partitioned (k-means partitions of the item vectors, the best ones probed); default "
        "exact for a catalogue under 100,000 items, partitioned from there (docs/serving.md)",
    )
    export.add_argument(
        "--partitions",
        type=positive_int,
        help="partitions of a partitioned index (default 4 √items)",
    )
    export.add_argument(
        "--probe",
        type=positive_int,
        help="partitions a partitioned index probes per query (default 1%% of them, at least 16; "
        "a caller may pass another)",
    )
    export.add_argument(
        "--content-dtype",
        choices=ENCODER_DTYPES,
        default="float32",
        help="store the content tower's encoders (embed_items) in float32 (default) or "
        "float16, about half the size; item vectors stay float32",
    )
    export.add_argument(
        "--no-titles",
        dest="titles",
        action="store_false",
        help="keep the items' titles out of the SavedModel (title and recommend show ids)",
    )
    export.set_defaults(handler=_export)


def _export(args) -> int:
    from mmrec_tf.data import SPLITS, load_dataset
    from mmrec_tf.data.writing import check_new_output_dir
    from mmrec_tf.models import load_recommender
    from mmrec_tf.serving import export_recommender
    from mmrec_tf.training import RunDirectory, content_encoders

    check_new_output_dir(args.out)  # before the slow part, not after it
    if not args.model.exists():
        raise FileNotFoundError(f"{args.model}: no such run directory or model file")
    model_path, run = args.model, None
    if args.model.is_dir():
        run = RunDirectory(args.model)
        run.check_existing()
        model_path = run.best_model_path
    elif RunDirectory(args.model.parent).is_run():
        run = RunDirectory(args.model.parent)
    run_config = run.config() if run is not None else {}
    data = args.data or run_config.get("data")
    if data is None:
        raise FileNotFoundError(
            f"{args.model} is not in a run directory: pass --data, the dataset it was trained on"
        )
    # A run's dataset is numbered as its model learned it (or refused, naming the id).
    dataset = load_dataset(data) if run is None else run.dataset(data)
    model = load_recommender(model_path)
    encoders, options = content_encoders(run_config, model) if run_config else ({}, {})
    seen = {"train": ("train",), "train+valid": ("train", "valid")}.get(args.seen, SPLITS)
    path = export_recommender(
        model,
        dataset,
        args.out,
        seen_splits=seen,
        content_encoders=encoders,
        content_options=options,
        quantize=args.quantize,
        index=args.index,
        partitions=args.partitions,
        probe=args.probe,
        titles=args.titles,
        content_dtype=args.content_dtype,
    )
    stored = f"user and item vectors in {args.quantize}" if args.quantize else ""
    described = ", ".join(filter(None, [stored, _search_description(path)]))
    print(f"exported to {path}" + (f" ({described})" if described else ""))
    if encoders:
        print(
            f"the content tower (embed_items, for new items; {args.content_dtype}) is in "
            f"{path / 'embed_items'}"
        )
    if run is not None and run.privacy() is not None:
        print(
            "note: the model trained with DP-SGD, but the SavedModel also holds each user's "
            f"seen items ({args.seen}) and item popularity, which its ε does not cover "
            "(docs/privacy.md)",
            file=sys.stderr,
        )
    return 0


def _search_description(path) -> str:
    """What `export` wrote of its search, for the user ("" for an exact one)."""
    from mmrec_tf.serving.export import read_search_options

    options = read_search_options(path)
    if options["index"] == "exact":
        return ""
    partitions, probe = options["partitions"], options["probe"]
    described = f"partitioned index: {partitions:,} partition{'s' * (partitions != 1)}, "
    if probe == partitions:
        return described + "all probed: an exact search"
    return described + f"{probe} probed"
