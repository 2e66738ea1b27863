"""``recsys data``: list the MovieLens releases, download one, or summarise one (with
``--metadata tmdb``, also the TMDB files found and how much of the catalogue they cover).

:func:`add_metadata_arguments` and :func:`metadata_dir` give ``recsys eda`` and
``recsys serve`` the same ``--metadata`` options."""

from __future__ import annotations

import argparse

from recsys.errors import RecsysError


class MetadataArgumentError(RecsysError, ValueError):
    """``--metadata-dir`` without ``--metadata``."""


class ExportArgumentError(RecsysError, ValueError):
    """``recsys data export`` options that do not go together."""


def add_metadata_arguments(parser, what: str) -> None:
    """``--metadata {tmdb}`` and ``--metadata-dir DIR`` on ``parser``; ``what`` completes
    the help of ``--metadata`` ("join TMDB metadata and <what>")."""
    from recsys.metadata import METADATA

    parser.add_argument("--metadata", choices=METADATA, default=None,
                        help=f"join TMDB metadata (overviews, keywords, TMDB genres) to the "
                             f"release through its links.csv and {what}")
    parser.add_argument("--metadata-dir", default=None, metavar="DIR",
                        help="the folder holding the TMDB files (tmdb_5000_movies.csv, "
                             "keywords.csv, ...) or a folder holding tmdb/, searched alone. "
                             "Default: --data-dir (or its tmdb/) when given, else "
                             "$RECSYS_DATA/tmdb, then <cache>/tmdb. TMDB's terms allow no "
                             "download: get the files from Kaggle")


def load_cli_metadata(args, ds, by_source: bool = False):
    """:func:`recsys.metadata.load_metadata` of ``--metadata`` for ``ds``, from
    :func:`metadata_dir`; a folder without the files says how to name the right one."""
    from recsys.errors import DataNotFoundError
    from recsys.metadata import load_metadata

    folder = metadata_dir(args)
    try:
        return load_metadata(args.metadata, ds, folder, by_source=by_source)
    except DataNotFoundError as exc:
        if folder is None or getattr(args, "metadata_dir", None) is not None:
            raise
        raise DataNotFoundError(f"{exc}\n--data-dir is searched alone for the TMDB files "
                                "too: name their folder with --metadata-dir DIR") from None


def metadata_dir(args):
    """The folder to look for the metadata in: ``--metadata-dir``, else ``--data-dir``
    (None: the usual places). ``--metadata-dir`` without ``--metadata`` is an error."""
    if getattr(args, "metadata", None) is None:
        if getattr(args, "metadata_dir", None) is not None:
            raise MetadataArgumentError("--metadata-dir needs --metadata tmdb")
        return None
    if args.metadata_dir is not None:
        return args.metadata_dir
    return getattr(args, "data_dir", None)


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
                                   "distribution and long-tail figures of a data set; with "
                                   "--metadata tmdb also the TMDB files read, the defects "
                                   "repaired and how many movies get an overview, keywords, "
                                   "genres.")
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
    add_metadata_arguments(p, "report the files read, their defects and the coverage")

    p = sub.add_parser("export", help="write a data set as Parquet (for Spark)",
                       description="Write a release or a synthetic data set as Parquet: "
                                   "DIR/ratings/part-*.parquet (columns user, item, rating, "
                                   "timestamp; raw ids) and DIR/dataset.json (counts, rating "
                                   "scale), atomically. `recsys train --engine spark "
                                   "--ratings DIR/ratings` reads it.")
    p.add_argument("--dataset", default="ml-latest-small",
                   help="release name, or 'synthetic' with --synthetic KEY=VALUE options "
                        "(default: ml-latest-small)")
    p.add_argument("--data-dir", help="the release folder, or a folder holding it")
    p.add_argument("--synthetic", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of recsys.data.synthetic.generate for --dataset "
                        "synthetic (n_users, n_items, n_ratings, seed, ...); repeatable")
    p.add_argument("--format", choices=("parquet",), default="parquet",
                   help="output format (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="DIR", help="the export folder")
    p.add_argument("--rows-per-file", type=int, default=1 << 23, metavar="N",
                   help="ratings per Parquet file (default: %(default)s)")
    p.add_argument("--duplicates", choices=("last", "mean", "error"), default="error",
                   help="a (user, item) pair rated twice in the release: stop (default), "
                        "keep the last rating, or their mean")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "data_command", None)
    if action == "list":
        return _list(args)
    if action == "download":
        return _download(args)
    if action == "info":
        return _info(args)
    if action == "export":
        return _export(args)
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

    metadata_dir(args)  # --metadata-dir without --metadata: before any reading
    data = load_movielens(args.dataset, data_dir=args.data_dir, download=args.download,
                          duplicates=args.duplicates)
    ds = Dataset.from_movielens(data)
    meta = None
    if args.metadata is not None:  # loaded first: an error leaves no half answer
        meta = load_cli_metadata(args, ds, by_source=True)
    print(format_summary(summarize(ds), duplicates=data.duplicates))
    if meta is not None:
        from recsys.summary import format_metadata

        print()
        print(format_metadata(meta, ds))
    return 0


def _export(args) -> int:
    from recsys.data.export import export_parquet

    if args.dataset == "synthetic":
        from recsys.data.synthetic import generate_from_options

        try:
            ds = generate_from_options(args.synthetic)
        except ValueError as exc:
            raise ExportArgumentError(str(exc)) from None
    else:
        if args.synthetic:
            raise ExportArgumentError("--synthetic needs --dataset synthetic")
        from recsys.data import load_movielens
        from recsys.dataset import Dataset

        data = load_movielens(args.dataset, data_dir=args.data_dir,
                              duplicates=args.duplicates)
        ds = Dataset.from_movielens(data)
    folder = export_parquet(ds, args.out, rows_per_file=args.rows_per_file)
    print(f"wrote {ds.n_ratings:,} ratings of {ds.name or args.dataset} to {folder} "
          f"(rating scale {ds.rating_scale[0]:g}-{ds.rating_scale[1]:g})")
    return 0
