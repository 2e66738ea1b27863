"""``recsys bench``: run a benchmark config and write the results table, JSON and plots."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path


HELP = "benchmark our models against Surprise and implicit on the same folds"
DESCRIPTION = (
    "Run the grid of a benchmark config (data sets x splits x models x metrics) in one "
    "process, or as tasks on a Dask cluster (--dask-workers, --scheduler), and write "
    "DIR/results.md (also printed), DIR/results.json and PNG plots. "
    "A model name or hyperparameter the config gets wrong, or a data set that is not "
    "found, stops the run before anything is fitted; a model that fails on a fold is "
    "reported, the rest runs, and the exit status is 1. Reference libraries that cannot "
    "be imported are reported in one line and skipped. Progress: a bar on a terminal, "
    "else one line per finished cell on stderr. The configs that ship with recsys are "
    "taken by name (--config quick); --list prints them."
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="quick", metavar="NAME|FILE",
                        help="the name of a shipped config (see --list) or a TOML config "
                             "file (default: %(default)s)")
    parser.add_argument("--list", dest="list_configs", action="store_true",
                        help="print the shipped configs with their descriptions and exit")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for results.md, results.json and the plots "
                             "(default: results/<config name>)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding the MovieLens releases (only there); default: "
                             "$RECSYS_DATA, the cache, then the copy shipped with recsys")
    parser.add_argument("--update-readme", nargs="?", const="README.md", default=None,
                        metavar="README",
                        help="rewrite the config's results section of README (default "
                             "README.md) between its <!-- results:NAME:start/end --> markers")
    parser.add_argument("--no-plots", dest="plots", action="store_false",
                        help="do not write the PNG plots")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (terminal) nor per-cell lines (logs)")
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="the Spark master of the config's library = \"spark\" models "
                             "(spark://HOST:7077, local[4], ...; overrides their 'master' "
                             "parameter); default: $RECSYS_SPARK_MASTER, else local[*]")
    from recsys.cli.cluster_options import add_dask_arguments

    add_dask_arguments(parser, "(data set, split, fold, model) cell")


def run(args: argparse.Namespace, prog: str = "recsys bench") -> int:
    from recsys.bench import load_config, run_and_write, shipped_config
    from recsys.cli.cluster_options import dask_cluster

    if getattr(args, "list_configs", False):
        return list_configs()
    config_path = shipped_config(args.config)
    out = args.out
    if out is None:
        out = Path("results") / load_config(config_path).name
    command = " ".join([prog] + [shlex.quote(a) for a in sys.argv[1:]][
        (1 if prog == "recsys bench" else 0):])
    with _spark_master(getattr(args, "spark_master", None)), \
            dask_cluster(args, prog) as cluster:
        executor = None
        if cluster is not None:
            from recsys.bench.distributed import DaskCells

            executor = DaskCells(cluster)
        result, markdown, paths = run_and_write(
            config_path, out, data_dir=args.data_dir, progress=args.progress,
            plots=args.plots, readme=args.update_readme, command=command, executor=executor)
    sys.stdout.write(markdown)
    print(f"\nwrote {paths['json']}, {paths['markdown']}"
          + (f" and {len(paths['plots'])} plot(s)" if paths["plots"] else ""))
    if paths.get("readme"):
        print(f"updated {paths['readme']}")
    problems = result.problems()
    if problems:
        more = f" (and {len(problems) - 1} more, above)" if len(problems) > 1 else ""
        print(f"{prog}: error: {problems[0]}{more}; the results written are incomplete",
              file=sys.stderr)
        return 1
    if not any(r["status"] == "ok" for r in result.rows):
        print(f"{prog}: error: no model ran successfully", file=sys.stderr)
        return 1
    return 0


def list_configs() -> int:
    """Print each shipped config's name and one-line description."""
    from recsys.bench import shipped_configs

    configs = shipped_configs()
    width = max((len(c.name) for c in configs), default=0)
    for c in configs:
        print(f"{c.name:<{width}}  {c.description}".rstrip())
    return 0


@contextmanager
def _spark_master(url: str | None):
    """Name the Spark master for the run through $RECSYS_SPARK_MASTER (read by the Spark
    adapter, here and in worker processes started inside the block); restored after."""
    from recsys.engines.spark_als import MASTER_ENV

    if not url:
        yield
        return
    before = os.environ.get(MASTER_ENV)
    os.environ[MASTER_ENV] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MASTER_ENV, None)
        else:
            os.environ[MASTER_ENV] = before
