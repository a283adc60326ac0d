"""The commands that train and measure a run: train, update and evaluate."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mmrec_tf.cli.arguments import positive_int
from mmrec_tf.cli.interruption import Terminated
from mmrec_tf.names import STRATEGIES


def add_train_command(commands, common) -> None:
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
        type=positive_int,
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
        print(training_outcome(RunDirectory(run).state()))
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
    stopped = "terminated" if isinstance(interruption, Terminated) else "interrupted"
    print(
        f"mmrec-tf: {stopped} after {run.state()['epochs_done']} epoch(s); continue with the "
        "same command and --resume",
        file=sys.stderr,
    )
    return 143 if isinstance(interruption, Terminated) else 130


def _silence_standard_error() -> None:
    """Points descriptor 2 at /dev/null for the rest of a finished multi-worker run:
    TensorFlow logs the workers' leaving (the chief's coordination service gone, a
    worker's heartbeat missing) as errors, though all work is done."""
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _progress_verbosity() -> int:
    """Keras' progress bar on a terminal; one line per epoch into a file or pipe."""
    return 1 if sys.stdout.isatty() else 2


def training_outcome(state: dict) -> str:
    """One line: the best epoch, its validation metric and why training stopped."""
    best = (
        f"best epoch {state['best_epoch']} of {state['epochs_done']}: "
        f"{state['monitor']} {state['best_value']:.4f}"
    )
    if state.get("stop_reason") == "early":
        return f"{best}; stopped early: no improvement for {state['wait']} epoch(s)"
    done = state["epochs_done"]
    return f"{best}; ran all {done} epoch{'s' if done != 1 else ''}"


def add_update_command(commands, common) -> None:
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
        "--epochs", type=positive_int, help="train at most this many epochs (default: RUN's)"
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
    print(training_outcome(RunDirectory(run).state()))
    print(f"the updated run is in {run}; its best model is {run / 'model.keras'}")
    return 0


def add_evaluate_command(commands, common) -> None:
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
