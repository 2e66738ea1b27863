"""The ``recsys`` command line: thin parsers that call the library.

Each subcommand lives in its own module with ``add_parser(subparsers)``; heavy imports happen
inside the command, never at import time, so ``recsys --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from recsys.errors import RecsysError

# Subcommand modules under recsys.cli, in the order --help lists them.
SUBCOMMANDS = ("data", "eda", "bench", "tune", "train", "report", "serve")


def build_parser() -> argparse.ArgumentParser:
    from recsys import __version__

    parser = argparse.ArgumentParser(
        prog="recsys",
        description="Recommender-system algorithms in NumPy and Numba, benchmarked honestly.",
    )
    parser.add_argument("--version", action="version", version=f"recsys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"recsys.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"recsys.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            status = _run(argv)
        finally:  # --help and errors too: a closed pipe shows here, inside main, not in
            sys.stdout.flush()  # the interpreter's flush at exit
        return status
    except BrokenPipeError:
        # `recsys data list | head`: the reader left. Stop quietly, as a tool killed by
        # SIGPIPE does, with nothing left to flush into the closed pipe.
        _detach_stdout()
        return 141  # 128 + SIGPIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RecsysError as exc:
        print(f"recsys {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured)
        pass
