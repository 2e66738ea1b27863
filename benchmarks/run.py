#!/usr/bin/env python
"""Run a benchmark config: the same code as ``recsys bench`` (see ``--help``).

    python benchmarks/run.py --config ml100k-rating --out results/ml100k
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from recsys.cli.bench import add_arguments, run
    from recsys.errors import RecsysError

    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark our models against Surprise and implicit (= recsys bench).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, prog="python benchmarks/run.py")
    except RecsysError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
