"""Ctrl-C and `kill`: how a command stops and what it says."""

from __future__ import annotations


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that clean-up runs as for Ctrl-C."""


def raise_terminated(signum, frame):
    raise Terminated()


def interrupted_hint(args) -> str:
    """What a command stopped by Ctrl-C or `kill` adds to "interrupted": its parser's
    `interrupted_hint` default (none by default)."""
    return f": {args.interrupted_hint}" if args.interrupted_hint else ""
