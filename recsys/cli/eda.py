"""``recsys eda``: write exploratory plots and a summary of a MovieLens data set."""

from __future__ import annotations

import argparse

from recsys.cli.data import add_metadata_arguments, load_cli_metadata, metadata_dir


HELP = "write exploratory plots (PNG) and a Markdown summary of a data set"
DESCRIPTION = (
    "Write PNG plots of a MovieLens data set into OUT: the rating histogram, ratings per user "
    "and per item (log scales), the long-tail curve, ratings per month and ratings/items per "
    "genre (with --metadata tmdb also the TMDB overview lengths, the most frequent keywords "
    "and the coverage by release year), plus summary.md with the summary statistics "
    "(sparsity included) and links to the plots. Needs matplotlib: pip install 'recsys[plot]'.")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eda", help=HELP, description=DESCRIPTION)
    parser.add_argument("--dataset", default="ml-latest-small", metavar="NAME",
                        help="MovieLens release, e.g. ml-100k, ml-1m, ml-latest-small "
                             "(default: %(default)s, shipped with recsys)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write the plots and summary.md into (created if needed)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding the release (or the release folder itself), "
                             "used alone; default: $RECSYS_DATA, the cache, then the copy "
                             "shipped with recsys")
    parser.add_argument("--download", action="store_true",
                        help="download the release from GroupLens if no local copy is found")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="do not show the progress bar")
    add_metadata_arguments(parser, "plot it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys.data import load_dataset
    from recsys.eda import run_eda

    metadata_dir(args)  # --metadata-dir without --metadata: before any reading
    ds = load_dataset(args.dataset, args.data_dir, download=args.download)
    joined = None
    if args.metadata is not None:
        joined = load_cli_metadata(args, ds).joined
    written = run_eda(ds, args.out, progress=args.progress, metadata=joined)
    print(f"{ds.name}: {ds.n_users:,} users, {ds.n_items:,} items, {ds.n_ratings:,} ratings")
    if joined is not None:
        print(joined.coverage.describe())
    for path in written:
        print(path)
    return 0
