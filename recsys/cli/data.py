"""``recsys data``: list the MovieLens releases, download one, or summarise one."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="list, download or summarise MovieLens data sets",
        description="List the MovieLens releases and where they are found, download one "
                    "from GroupLens, or print summary statistics of one.")
    parser.set_defaults(func=run, parser=parser)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    p = sub.add_parser("list", help="releases, and whether a local copy was found",
                       description="List the MovieLens releases and where each is found "
                                   "locally (no network).")
    p.add_argument("--data-dir", help="also look in this folder (first)")

    p = sub.add_parser("download", help="download a release into the cache",
                       description="Download a release from GroupLens, verify its checksum "
                                   "and unzip it into the cache.")
    p.add_argument("name", help="release name, e.g. ml-1m (see `recsys data list`)")
    p.add_argument("--cache", help="cache folder (default: $RECSYS_CACHE or ~/.cache/recsys)")
    p.add_argument("--url", help="download from this URL instead of GroupLens")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("info", help="summary statistics of a data set",
                       description="Print users, items, ratings, sparsity, the rating "
                                   "distribution and long-tail figures of a data set.")
    p.add_argument("--dataset", default="ml-latest-small",
                   help="release name (default: ml-latest-small, shipped with recsys)")
    p.add_argument("--data-dir", help="the release folder, or a folder holding it (only there: "
                                      "an error if it does not hold the release)")
    p.add_argument("--download", action="store_true",
                   help="download the release if no local copy is found")
    p.add_argument("--duplicates", choices=("last", "mean", "error"), default="last",
                   help="how to count a (user, item) pair rated more than once: keep the "
                        "last rating (default), their mean, or stop with an error; the "
                        "repeats are reported either way")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "data_command", None)
    if action == "list":
        return _list(args)
    if action == "download":
        return _download(args)
    if action == "info":
        return _info(args)
    args.parser.print_help()
    return 2


def _list(args) -> int:
    from pathlib import Path

    from recsys.data import RELEASES, find_release
    from recsys.errors import DataNotFoundError, RecsysError

    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise DataNotFoundError(f"--data-dir {args.data_dir}: no such folder")
    rows = []
    for release in RELEASES.values():
        where = None
        for folder in ([args.data_dir] if args.data_dir is not None else []) + [None]:
            try:
                where = str(find_release(release.name, folder))
                break
            except DataNotFoundError:
                continue
            except RecsysError as exc:  # a folder of another release: say so, go on
                where = f"refused: {exc}"
                break
        if where is None:
            where = "not found (recsys data download " + release.name + ")"
        lo, hi = release.rating_scale
        rows.append((release.name, f"{lo:g}-{hi:g}", where, release.description))
    width = max(len(r[0]) for r in rows)
    for name, scale, where, description in rows:
        print(f"{name:<{width}}  {scale:<7}  {description}")
        print(f"{'':<{width}}  {'':<7}  local: {where}")
    return 0


def _download(args) -> int:
    from recsys.data import download

    folder = download(args.name, cache=args.cache, url=args.url,
                      progress=not args.no_progress)
    print(folder)
    return 0


def _info(args) -> int:
    from recsys.data import load_movielens
    from recsys.dataset import Dataset
    from recsys.summary import format_summary, summarize

    data = load_movielens(args.dataset, data_dir=args.data_dir, download=args.download,
                          duplicates=args.duplicates)
    print(format_summary(summarize(Dataset.from_movielens(data)), duplicates=data.duplicates))
    return 0
