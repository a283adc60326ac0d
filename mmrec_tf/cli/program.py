"""The program: parses the command line, runs the command's handler and turns
problems, Ctrl-C and `kill` into one line and an exit status."""

from __future__ import annotations

import argparse
import signal
import sys

from mmrec_tf.cli import (
    data_commands,
    export_command,
    feature_commands,
    pseudonymize_command,
    quickstart_command,
    recommend_command,
    training_commands,
)
from mmrec_tf.cli.interruption import Terminated, interrupted_hint, raise_terminated


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
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread (main() called from a library)
        previous = None
    try:
        _quiet_tensorflow(args.verbose)
        return _run_handler(args)
    except Terminated:
        print(f"mmrec-tf: terminated{interrupted_hint(args)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"mmrec-tf: interrupted{interrupted_hint(args)}", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


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
    # A command whose interrupted work can be resumed says how
    # (`interruption.interrupted_hint`).
    common.set_defaults(interrupted_hint=None)

    # Each command's parser (`add_<command>_command`) sits just above its handler, in
    # the module of its command or group of commands.
    for add_command in (
        data_commands.add_demo_data_command,
        data_commands.add_prepare_command,
        data_commands.add_validate_command,
        feature_commands.add_extract_features_command,
        feature_commands.add_merge_features_command,
        training_commands.add_train_command,
        training_commands.add_update_command,
        training_commands.add_evaluate_command,
        export_command.add_export_command,
        recommend_command.add_recommend_command,
        pseudonymize_command.add_pseudonymize_command,
        quickstart_command.add_quickstart_command,
    ):
        add_command(commands, common)
    return parser
