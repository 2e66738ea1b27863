"""The Dask options that ``recsys bench`` and ``recsys tune`` share: ``--dask-workers N`` (a
LocalCluster for this run), ``--scheduler ADDRESS`` (an existing cluster), ``--task-threads``.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import Iterator


def add_dask_arguments(parser: argparse.ArgumentParser, tasks: str) -> None:
    """Add the Dask options; ``tasks`` says what one task is (for the help)."""
    group = parser.add_argument_group(
        "on a Dask cluster (pip install 'recsys[dask]')",
        f"Run every {tasks} as a Dask task; the results equal the serial run's.")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--dask-workers", type=int, default=None, metavar="N",
                       help="start a Dask LocalCluster of N single-threaded worker processes "
                            "on this machine for the run")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use the running Dask cluster whose scheduler is at ADDRESS "
                            "(tcp://HOST:8786, as `dask scheduler` prints)")
    group.add_argument("--task-threads", type=int, default=None, metavar="T",
                       help="Numba and BLAS threads of each task (default: each host's cores "
                            "divided by its workers' task slots, at least 1; more is allowed "
                            "and reported as oversubscribing)")


@contextmanager
def dask_cluster(args: argparse.Namespace, prog: str) -> Iterator:
    """The :class:`recsys.distributed.DaskCluster` the options ask for, closed after the
    block (None when neither ``--dask-workers`` nor ``--scheduler`` is given). It starts
    when first used, and then prints its summary and dashboard address on stderr."""
    from recsys.distributed import ClusterError

    n, address = getattr(args, "dask_workers", None), getattr(args, "scheduler", None)
    if n is None and address is None:
        if getattr(args, "task_threads", None) is not None:
            raise ClusterError("--task-threads is for a Dask run: give --dask-workers N or "
                               "--scheduler ADDRESS too")
        yield None
        return
    from recsys.distributed import DaskCluster

    def note(line: str) -> None:
        print(f"{prog}: {line}", file=sys.stderr)

    with DaskCluster(n_workers=n, scheduler=address, task_threads=args.task_threads,
                     log=note) as cluster:
        yield cluster
