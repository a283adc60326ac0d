"""The `mmrec-tf` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from mmrec_tf.names import ENCODER_DTYPES, MODALITIES, QUANTIZATIONS, STRATEGIES

DEFAULT_QUICKSTART_DIR = "mmrec_quickstart"


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Problems with what the user gave (files, ids, configurations) print one
    line, `mmrec-tf: error: ...`, and exit with status 2; anything else is a
    bug, reported in one line too (with its traceback under `--verbose`).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        # `kill` (SIGTERM) stops a command as Ctrl-C does: with a message, and a run
        # that can be resumed.
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (main() called from a library)
        previous = None
    try:
        _quiet_tensorflow(args.verbose)
        return _run_handler(args)
    except _Terminated:
        print(f"mmrec-tf: terminated{_interrupted_hint(args)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"mmrec-tf: interrupted{_interrupted_hint(args)}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that clean-up runs as for Ctrl-C."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def _interrupted_hint(args) -> str:
    """What a command stopped by Ctrl-C or `kill` adds to "interrupted": its parser's
    `interrupted_hint` default (none by default)."""
    return f": {args.interrupted_hint}" if args.interrupted_hint else ""


def _run_handler(args) -> int:
    import tensorflow as tf

    from mmrec_tf.data import DatasetError, MediaError

    try:
        return args.handler(args)
    except (DatasetError, MediaError, OSError, ValueError, tf.errors.OpError) as e:
        message = e.message if isinstance(e, tf.errors.OpError) else str(e)
        print(f"mmrec-tf: error: {message}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.verbose:
            raise
        print(
            f"mmrec-tf: internal error: {type(e).__name__}: {e} "
            "(run again with --verbose for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


def _quiet_tensorflow(verbose: bool) -> None:
    """Keeps TensorFlow's logging and Keras' advice to model authors (e.g. gradients
    a frozen pooler does not get) off the terminal unless `--verbose`."""
    if verbose:
        return
    import warnings

    from mmrec_tf.quiet import quiet_tensorflow

    warnings.filterwarnings("ignore", category=UserWarning)
    quiet_tensorflow()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmrec-tf",
        description="Multimodal recommendation (text, images, audio, video) in Keras 3.",
    )
    from mmrec_tf import __version__

    parser.add_argument("--version", action="version", version=f"mmrec-tf {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up logging, warnings and full tracebacks",
    )
    # A command whose interrupted work can be resumed says how (`_interrupted_hint`).
    common.set_defaults(interrupted_hint=None)

    # Each command's parser (`_<command>_command`) sits just above its handler.
    for add_command in (
        _demo_data_command,
        _prepare_command,
        _validate_command,
        _extract_features_command,
        _merge_features_command,
        _train_command,
        _update_command,
        _evaluate_command,
        _export_command,
        _recommend_command,
        _pseudonymize_command,
        _quickstart_command,
    ):
        add_command(commands, common)
    return parser


def _demo_data_command(commands, common) -> None:
    demo = commands.add_parser(
        "demo-data",
        parents=[common],
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


def _prepare_command(commands, common) -> None:
    prepare = commands.add_parser(
        "prepare",
        parents=[common],
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


def _prepare(args) -> int:
    from mmrec_tf.data import prepare_movielens_100k

    prepare_movielens_100k(args.out, args.source, cache_dir=args.cache_dir)
    print(f"wrote {args.name} to {args.out}")
    return 0


def _validate_command(commands, common) -> None:
    validate = commands.add_parser(
        "validate",
        parents=[common],
        help="check a dataset and decode every file",
        description="Check a dataset directory: ids, splits, paths, and every referenced media "
        "file decoded as the loaders do; warns about what spoils an evaluation (held-out "
        "(user, item) pairs also in train, repeated rows, users or items with no train "
        "interaction). Prints a summary, then each problem on its own line; exits with "
        "status 1 when there are errors.",
    )
    validate.add_argument("--data", type=Path, required=True, help="the dataset directory")
    validate.add_argument(
        "--no-decode",
        action="store_true",
        help="check the files' structure only, without decoding media",
    )
    validate.set_defaults(handler=_validate)


def _validate(args) -> int:
    from mmrec_tf.data import validate_dataset

    report = validate_dataset(args.data, decode_media=not args.no_decode)
    print(report.format())
    return 0 if report.ok else 1


def _extract_features_command(commands, common) -> None:
    from mmrec_tf.encoder_specs import SPEC_HELP

    extract = commands.add_parser(
        "extract-features",
        parents=[common],
        help="encode every item with a frozen encoder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Encode every item's modality with a frozen encoder and write "
        "FEATS/<modality>.npy (float32, one row per item in the dataset's order; "
        "zeros where the item lacks the modality) and FEATS/<modality>.json "
        "(encoder, weights checksum, item ids, missing items). Interrupted runs "
        "resume; existing features are kept unless --overwrite. With --shard I/N, only "
        "shard I of N (a contiguous range of the items) goes to FEATS/<modality>.shards/, "
        "for N machines at once; `mmrec-tf merge-features` then joins the N shards. With "
        "--append, only the items added at the end of items.csv since FEATS/<modality>.npy "
        "was written are encoded (with the same encoder) and their rows appended.",
        epilog="encoders:\n" + SPEC_HELP,
    )
    extract.add_argument("--data", type=Path, required=True, help="the dataset directory")
    extract.add_argument(
        "--modality",
        required=True,
        choices=MODALITIES,
        help="which of the items' modalities to encode",
    )
    extract.add_argument("--encoder", required=True, help="encoder spec (see below)")
    extract.add_argument("--out", type=Path, required=True, help="features directory")
    extract.add_argument(
        "--batch-size", type=int, default=32, help="items encoded at once (default 32)"
    )
    extract.add_argument(
        "--chunk-size", type=int, default=512, help="items saved per resumable chunk (default 512)"
    )
    extract.add_argument("--overwrite", action="store_true", help="replace existing features")
    extract.add_argument(
        "--append",
        action="store_true",
        help="encode only the items that existing features lack (added at the end of "
        "items.csv; same encoder) and append their rows",
    )
    extract.add_argument(
        "--on-error",
        choices=["raise", "mask"],
        default="raise",
        help="a bad file stops the run (raise) or gets a zero row (mask)",
    )
    extract.add_argument(
        "--shard",
        metavar="I/N",
        help="encode only shard I of N (0 ≤ I < N): items ⌊I·n/N⌋ to ⌊(I+1)·n/N⌋ − 1 of the "
        "n in the dataset's order, into FEATS/<modality>.shards/",
    )
    extract.set_defaults(
        handler=_extract_features,
        interrupted_hint="run the same command again to resume (finished chunks are kept)",
    )


def _extract_features(args) -> int:
    from mmrec_tf.data.feature_cache import FeatureCache, FeatureShard
    from mmrec_tf.encoders.extract import extract_features

    # Parsed here, not by argparse: the parser must not import TensorFlow (through
    # mmrec_tf.data) before `_quiet_tensorflow`.
    try:
        shard = None if args.shard is None else FeatureShard.parse(args.shard)
    except ValueError as e:
        raise ValueError(f"--shard: {e}") from None
    # The nearest existing folder on the way to --out must be a folder, not a file.
    existing = next((p for p in (args.out, *args.out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NotADirectoryError(
            f"--out {args.out} is a file, not a features directory"
            if existing == args.out
            else f"--out {args.out} cannot be a features directory: {existing} is a file"
        )
    cache = FeatureCache(args.out)
    # How many items the features hold before an append: it says how many it added.
    appending = args.append and cache.has(args.modality)
    held = len(cache.metadata(args.modality)["item_ids"]) if appending else 0
    path = extract_features(
        args.data,
        args.modality,
        args.encoder,
        args.out,
        shard=shard,
        append=args.append,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        on_error=args.on_error,
        progress=sys.stdout.isatty(),
    )
    appended = ""
    if args.append:
        added = len(cache.metadata(args.modality)["item_ids"]) - held
        if not added:
            print(f"no new items: {path} already holds all {held} items of {args.data}")
            return 0
        appended = f": the rows of {added} new item(s) after the {held} it held"
    print(f"wrote {path} and {path.with_suffix('.json')}{appended}")
    failed = json.loads(path.with_suffix(".json").read_text())["failed_item_ids"]
    if failed:
        print(
            f"mmrec-tf: {len(failed)} item(s) with a bad {args.modality} file got a zero row "
            f"and count as lacking it: {', '.join(failed[:5])}"
            + (" ..." if len(failed) > 5 else "")
            + f" (all in {path.with_suffix('.json')}, failed_item_ids)",
            file=sys.stderr,
        )
    if shard is not None:
        print(
            f"once all {shard.count} shards are in {args.out}: mmrec-tf merge-features "
            f"--features {args.out} --modality {args.modality}"
        )
    return 0


def _merge_features_command(commands, common) -> None:
    merge = commands.add_parser(
        "merge-features",
        parents=[common],
        help="join the shards of `extract-features --shard`",
        description="Check that the shards in FEATS/<modality>.shards/ agree (encoder, weights "
        "checksum, dataset, N) and are shards 0 to N-1, once each, covering every item once; "
        "then write FEATS/<modality>.npy and .json, as one unsharded extraction would. Any "
        "disagreement names the shard file and writes nothing.",
    )
    merge.add_argument(
        "--features",
        type=Path,
        required=True,
        help="the features directory (`extract-features --out`)",
    )
    merge.add_argument(
        "--modality",
        required=True,
        choices=MODALITIES,
        help="whose shards to join",
    )
    merge.add_argument("--overwrite", action="store_true", help="replace existing features")
    merge.set_defaults(handler=_merge_features)


def _merge_features(args) -> int:
    from mmrec_tf.data.feature_cache import FeatureCache

    path = FeatureCache(args.features).merge_shards(args.modality, overwrite=args.overwrite)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def _train_command(commands, common) -> None:
    train = commands.add_parser(
        "train",
        parents=[common],
        help="train a recommender from a configuration file",
        description="Train a recommender as a JSON configuration says (see configs/ and the "
        "README's list of keys), with validation Recall@20 for model selection and early "
        "stopping. Writes RUN/: config.json, model.keras (best epoch), checkpoints/ and "
        "state.json (for --resume), log.csv, tensorboard/, and privacy.json for a configuration "
        'with "privacy" (DP-SGD; see docs/privacy.md). Ends with the best epoch, why training '
        "stopped and, with privacy, the ε and δ spent.",
    )
    train.add_argument("--data", type=Path, required=True, help="the dataset directory")
    train.add_argument(
        "--features",
        type=Path,
        help="features from `mmrec-tf extract-features` (FEATS/<modality>.npy)",
    )
    train.add_argument("--config", type=Path, required=True, help="a JSON configuration")
    train.add_argument("--out", type=Path, required=True, help="the run directory")
    train.add_argument(
        "--epochs",
        type=_positive_int,
        help="train at most this many epochs instead of the configuration's (recorded in "
        "RUN/config.json); e.g. --epochs 2 for a quick look at a long configuration",
    )
    train.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help='replaces the configuration\'s "strategy": none (one process), mirrored (this '
        "machine's devices) or multi-worker (every machine runs this command with its "
        "TF_CONFIG; the chief writes RUN; see docs/scaling.md)",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run where it stopped (the configuration may raise "
        "epochs and patience, and change the strategy, only)",
    )
    train.set_defaults(handler=_train)


def _train(args) -> int:
    from mmrec_tf.training import RunDirectory, load_config, train
    from mmrec_tf.training.distribution import is_chief, leave_together
    from mmrec_tf.training.privacy import describe as describe_privacy

    try:
        run = train(
            *(args.data, args.config, args.out),
            features_dir=args.features,
            resume=args.resume,
            verbose=_progress_verbosity(),
            epochs=args.epochs,
            strategy=args.strategy,
        )
    except KeyboardInterrupt as interruption:
        return _stopped_run(args.out, interruption)
    strategy = args.strategy or load_config(args.config)["strategy"]
    if not is_chief(strategy):
        print(f"this worker's part of the training is done; the chief writes {run}")
    else:
        print(_training_outcome(RunDirectory(run).state()))
        spent = RunDirectory(run).privacy()
        if spent is not None:
            print(describe_privacy(spent))
        print(f"the run is in {run}; its best model is {run / 'model.keras'}")
    if strategy == "multi-worker":
        leave_together(before_leaving=_silence_standard_error)
    return 0


def _stopped_run(out, interruption) -> int:
    """The exit status of a run stopped by Ctrl-C or `kill` after some epochs, saying how
    to go on; one stopped before its first epoch left nothing (re-raised)."""
    from mmrec_tf.training import RunDirectory

    run = RunDirectory(out)
    if not (run.is_run() and run.state()["epochs_done"]):
        raise interruption
    stopped = "terminated" if isinstance(interruption, _Terminated) else "interrupted"
    print(
        f"mmrec-tf: {stopped} after {run.state()['epochs_done']} epoch(s); continue with the "
        "same command and --resume",
        file=sys.stderr,
    )
    return 143 if isinstance(interruption, _Terminated) else 130


def _silence_standard_error() -> None:
    """Points descriptor 2 at /dev/null for the rest of a finished multi-worker run:
    TensorFlow logs the workers' leaving (the chief's coordination service gone, a
    worker's heartbeat missing) as errors, though all work is done."""
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1, found {text!r}")
    return value


def _progress_verbosity() -> int:
    """Keras' progress bar on a terminal; one line per epoch into a file or pipe."""
    return 1 if sys.stdout.isatty() else 2


def _training_outcome(state: dict) -> str:
    """One line: the best epoch, its validation metric and why training stopped."""
    best = (
        f"best epoch {state['best_epoch']} of {state['epochs_done']}: "
        f"{state['monitor']} {state['best_value']:.4f}"
    )
    if state.get("stop_reason") == "early":
        return f"{best}; stopped early: no improvement for {state['wait']} epoch(s)"
    done = state["epochs_done"]
    return f"{best}; ran all {done} epoch{'s' if done != 1 else ''}"


def _update_command(commands, common) -> None:
    update = commands.add_parser(
        "update",
        parents=[common],
        help="update a trained run with new interactions, users and items",
        description="Start from RUN's best model and optimizer, give its tables rows for the "
        "grown dataset's new users and items (a new item starts from its content vector, a new "
        "user from the known users' mean or their history), and train with RUN's configuration "
        "on the training interactions RUN never saw plus a replay sample of those it did. "
        "Writes NEWRUN, a complete run directory (resume, evaluate, export and update it like "
        "any run). The grown dataset keeps RUN's users and items, new items at the end of "
        "items.csv; its features cover every item (extract-features --append). See "
        "docs/feedback_loop.md.",
    )
    update.add_argument("--run", type=Path, required=True, help="the trained run directory")
    update.add_argument("--data", type=Path, required=True, help="the grown dataset directory")
    update.add_argument(
        "--features", type=Path, help="the grown dataset's features (for a model that reads them)"
    )
    update.add_argument("--out", type=Path, required=True, help="the new run directory")
    update.add_argument(
        "--epochs", type=_positive_int, help="train at most this many epochs (default: RUN's)"
    )
    update.add_argument(
        "--replay",
        type=float,
        default=1.0,
        help="old training interactions replayed per new one (default 1)",
    )
    update.add_argument(
        "--resume", action="store_true", help="continue an interrupted update (the same arguments)"
    )
    update.set_defaults(handler=_update)


def _update(args) -> int:
    from mmrec_tf.training import RunDirectory, update

    try:
        run = update(
            args.run,
            args.data,
            args.out,
            args.features,
            epochs=args.epochs,
            replay=args.replay,
            resume=args.resume,
            verbose=_progress_verbosity(),
        )
    except KeyboardInterrupt as interruption:
        return _stopped_run(args.out, interruption)
    print(_training_outcome(RunDirectory(run).state()))
    print(f"the updated run is in {run}; its best model is {run / 'model.keras'}")
    return 0


def _evaluate_command(commands, common) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        help="evaluate a trained run",
        description="Rank the whole catalogue for every user with held-out items, print the "
        "metrics and write them with the protocol to RUN/eval_<split>.json (another --history "
        "or --mask: RUN/eval_<split>_history-<h>.json, …_mask-<m>.json).",
    )
    evaluate.add_argument(
        "--run", type=Path, required=True, help="a run directory (`mmrec-tf train --out`)"
    )
    evaluate.add_argument(
        "--split", choices=["valid", "test"], default="test", help="held-out items (default test)"
    )
    evaluate.add_argument(
        "--mask",
        choices=["train+valid", "train"],
        default="train+valid",
        help="items left out of the ranking (default train+valid)",
    )
    evaluate.add_argument(
        "--history",
        choices=["train", "train+valid"],
        default="train",
        help="what the model knows of each user: their training interactions (default), or "
        "also their validation ones, which precede the test period (--split test only; a "
        "model that reads histories, such as HistoryRecommender). See docs/evaluation.md",
    )
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args) -> int:
    from mmrec_tf.training import RunDirectory, evaluate

    results = evaluate(args.run, split=args.split, mask=args.mask, history=args.history)
    width = max(map(len, results), default=0)
    for name, value in results.items():
        print(f"{name:>{width}}  {value:.4f}")
    path = RunDirectory(args.run).evaluation_path(args.split, args.history, args.mask)
    print(f"wrote {path}")
    return 0


def _export_command(commands, common) -> None:
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
        type=_positive_int,
        help="partitions of a partitioned index (default 4 √items)",
    )
    export.add_argument(
        "--probe",
        type=_positive_int,
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


def _recommend_command(commands, common) -> None:
    recommend = commands.add_parser(
        "recommend",
        parents=[common],
        help="print a user's top K from an exported SavedModel",
        description="Load a SavedModel written by `mmrec-tf export` and print the user's top K "
        "items (title and score). An unknown user gets the most popular items. With "
        "--history (a model that reads histories), recommend from those items instead.",
    )
    recommend.add_argument("--model", type=Path, required=True, help="the SavedModel directory")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a user id")
    who.add_argument(
        "--history",
        metavar="ITEM[,ITEM...]",
        help="item ids the user interacted with, oldest first, comma-separated: for a new "
        "user, or one whose latest actions are newer than the model",
    )
    recommend.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    recommend.add_argument(
        "--explain",
        action="store_true",
        help="under each item, the three past items that weigh most in its score and the "
        "shares of its modalities and of its content (see docs/explanations.md)",
    )
    recommend.add_argument(
        "--key-file",
        type=Path,
        help="for a model trained on pseudonymised data: --user is the real id, hashed "
        "with this key (the one `mmrec-tf pseudonymize` used) before the lookup",
    )
    recommend.set_defaults(handler=_recommend)


def _recommend(args) -> int:
    import tensorflow as tf

    if args.key_file is not None and args.user is None:
        raise ValueError("--key-file hashes --user; item ids (--history) are not pseudonymised")
    if args.k < 1:
        raise ValueError(f"-k must be at least 1. Received: {args.k}")
    pseudonymizer = None
    if args.key_file is not None:
        from mmrec_tf.data.pseudonyms import Pseudonymizer

        # Read before the model loads; a new key could match none of its users.
        pseudonymizer = Pseudonymizer.from_key_file(
            args.key_file, if_missing="it must be the key that pseudonymised the training data"
        )
    if not args.model.exists():
        raise FileNotFoundError(f"{args.model}: no such SavedModel directory")
    if not (args.model / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{args.model} is not a SavedModel: run `mmrec-tf export` first")
    served = tf.saved_model.load(str(args.model))
    if not hasattr(served, "recommend"):
        raise ValueError(f"{args.model} is not a SavedModel written by `mmrec-tf export`")
    k = tf.constant(args.k, tf.int32)
    if args.history is not None:
        if not hasattr(served, "recommend_from_history"):
            raise ValueError(
                f"{args.model} does not read histories: --history needs a model that does "
                "(HistoryRecommender); use --user"
            )
        history = [item.strip() for item in args.history.split(",") if item.strip()]
        # One "" (which the SavedModel skips) for an empty history: `tf.constant([[]])`
        # would be a float tensor.
        asked = tf.constant([history or [""]], tf.string)
        out = served.recommend_from_history(asked, k)
        who = "the history"
        if int(out["ignored_items"][0]):
            print(
                f"mmrec-tf: {int(out['ignored_items'][0])} item(s) of the history are not in "
                "the model's catalogue: ignored",
                file=sys.stderr,
            )
        if bool(out["empty_history"][0]):
            what = "no item of the history is known" if history else "the history is empty"
            print(f"mmrec-tf: {what}: showing the most popular items", file=sys.stderr)
    else:
        user = args.user if pseudonymizer is None else pseudonymizer.user_id(args.user)
        asked = tf.constant([user])
        out = served.recommend(asked, k)
        who = f"user {args.user!r}"
        if not bool(out["known_user"][0]):
            hint = (
                " (if the model was trained on pseudonymised data, pass the --key-file "
                "that pseudonymised it)"
                if args.key_file is None
                else f" (hashed with {args.key_file}: another key, or a model trained on real "
                "ids, finds no one)"
            )
            print(
                f"mmrec-tf: user {args.user!r} is not in the training data: "
                f"showing the most popular items{hint}",
                file=sys.stderr,
            )
    items = out["item_id"][0].numpy()
    if len(items) < args.k:
        print(
            f"mmrec-tf: only {len(items)} item(s) are new to {who}; all of them are shown",
            file=sys.stderr,
        )
    reasons = [None] * len(items)
    if args.explain:
        reasons = _explanations(served, args, asked, out)
    titles = served.title(out["item_id"][0])["title"].numpy()
    for rank, (item, title, score, reason) in enumerate(
        zip(items, titles, out["score"][0].numpy(), reasons, strict=True), 1
    ):
        print(f"{rank:>3}  {score:9.4f}  {_named(item, title)}")
        for line in reason or ():
            print(f"{'':16}{line}")
    return 0


def _named(item: bytes, title: bytes) -> str:
    # An export without titles names items by id: once is enough.
    return item.decode() if title == item else f"{item.decode()}  {title.decode()}"


def _explanations(served, args, asked, out) -> list:
    """For each recommended item, the lines that explain it (`recommend --explain`):
    the three past items of largest share, and the modality and content shares."""
    import numpy as np
    import tensorflow as tf

    if not hasattr(served, "explain"):
        raise ValueError(f"{args.model} has no explanations: export it again with this version")
    items = out["item_id"][0]
    if args.history is None and not bool(out["known_user"][0]):
        print("mmrec-tf: no explanation for an unknown user's popular items", file=sys.stderr)
        return [None] * len(items)
    if args.history is not None:
        if bool(out["empty_history"][0]):
            print("mmrec-tf: no explanation for popular items", file=sys.stderr)
            return [None] * len(items)
        # Repeated with NumPy: `tf.repeat` runs several eager ops, slower than explain.
        past = tf.constant(np.repeat(asked.numpy(), len(items), axis=0))
        why = served.explain_from_history(past, items)
    else:
        why = served.explain(tf.constant(np.repeat(asked.numpy(), len(items))), items)
        past = why["past_item_id"]
    past_titles = served.title(tf.reshape(past, [-1]))["title"].numpy().reshape(past.shape)
    past = past.numpy()
    # A model that reads histories weighs what each past item does to the score; one
    # whose users are fitted rows can only say which of them the item is close to.
    reason = "because of" if hasattr(served, "explain_from_history") else "close to"
    modalities = [m.decode() for m in why["modalities"].numpy()]
    lines = []
    for row, shares in enumerate(why["past_share"].numpy()):
        # The past items that raise the score most, from +1% (padding weighs 0).
        top = [j for j in np.argsort(-shares, kind="stable")[:3] if shares[j] >= 0.005]
        named = ", ".join(
            f"{_named(past[row, j], past_titles[row, j])} ({_percent(shares[j])})" for j in top
        )
        present = why["modality_present"].numpy()[row]
        parts = [
            f"{m} {_percent(share) if has else 'absent'}"
            for m, share, has in zip(
                modalities, why["modality_share"].numpy()[row], present, strict=True
            )
        ]
        content = f"content {_percent(why['content_share'].numpy()[row])} against ID and graphs"
        lines.append(
            [
                f"{reason}: {named or 'no past item raises it'}",
                "; ".join([", ".join(parts), content]),
            ]
        )
    return lines


def _percent(share: float) -> str:
    """A share as a signed percentage; "0%" for one that rounds to nothing (not "-0%")."""
    return "0%" if round(share * 100) == 0 else f"{share:+.0%}"


def _pseudonymize_command(commands, common) -> None:
    pseudonymize = commands.add_parser(
        "pseudonymize",
        parents=[common],
        help="copy a dataset with user ids replaced by keyed hashes",
        description="Write a copy of a dataset whose user ids are HMAC-SHA-256 pseudonyms under "
        "a secret key you keep (the same key maps the same id the same way, so later "
        "interactions join), optionally with coarser timestamps. Item ids, media and "
        "everything else are copied as they are. See docs/privacy.md for what this "
        "protects and what it does not.",
    )
    pseudonymize.add_argument("--data", type=Path, required=True, help="the dataset directory")
    pseudonymize.add_argument(
        "--key-file", type=Path, required=True, help="the secret key (hex); keep it safe"
    )
    pseudonymize.add_argument(
        "--new-key",
        action="store_true",
        help="create the key file first (never over an existing one)",
    )
    pseudonymize.add_argument(
        "--out", type=Path, required=True, help="directory to create (must not exist or be empty)"
    )
    pseudonymize.add_argument(
        "--timestamp-resolution",
        type=int,
        metavar="SECONDS",
        help="round timestamps down to a multiple of this (e.g. 86400: the day)",
    )
    pseudonymize.set_defaults(handler=_pseudonymize)


def _pseudonymize(args) -> int:
    from mmrec_tf.data import pseudonyms

    if args.new_key:
        # The key file is written once the dataset is: a failed run leaves neither.
        pseudonyms.check_new_key_file(args.key_file)
        key = pseudonyms.new_key()
        pseudonymizer = pseudonyms.Pseudonymizer(key)
    else:
        pseudonymizer = pseudonyms.Pseudonymizer.from_key_file(args.key_file)
    pseudonyms.pseudonymize_dataset(
        args.data, pseudonymizer, args.out, timestamp_resolution=args.timestamp_resolution
    )
    if args.new_key:
        pseudonyms.write_key(args.key_file, key)
        print(
            f"wrote a new key to {args.key_file}: keep it secret, and keep it (without it "
            "new data cannot be pseudonymised the same way)"
        )
    print(f"wrote {args.out}: user ids pseudonymised with {args.key_file}")
    return 0


QUICKSTART_ENTRIES = ("config.json", "demo-data", "features", "run")


def _quickstart_command(commands, common) -> None:
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
    print(_training_outcome(RunDirectory(run).state()))
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
