"""``recsys report``: the tables and plots of a results folder again, or two folders compared.

``recsys report DIR`` re-renders ``results.md`` and the PNG plots from ``DIR/results.json``
(and ``per_user.npz``) without rerunning anything (:mod:`recsys.bench.report`,
:mod:`recsys.bench.plots`); ``recsys report A B`` compares two results folders row by row
(:mod:`recsys.bench.compare`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "re-render a results folder's tables and plots, or compare two results folders"
DESCRIPTION = (
    "With one results folder (what `recsys bench --out DIR` wrote): render its results.md "
    "and PNG plots again from results.json, without rerunning; they are written into the "
    "folder (or --out DIR) and the table is printed. With two folders A and B (e.g. two "
    "commits): per data set, split, model and metric the two means, B - A, and paired "
    "tests over the folds (and over users, where both saved per-user results) on the folds "
    "both runs drew alike (equal digests); the comparison is printed (and written to --out "
    "FILE). Folders with nothing in common are an error."
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("report", help=HELP, description=DESCRIPTION)
    parser.add_argument("results", nargs="+", metavar="RESULTS_DIR",
                        help="one results folder to re-render, or two (A B) to compare")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="one folder: write results.md and the plots here instead of "
                             "into it; two folders: write the comparison (Markdown) here")
    parser.add_argument("--no-plots", dest="plots", action="store_false",
                        help="one folder: do not write the PNG plots")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys.bench.compare import ResultsFolderError

    if len(args.results) > 2:
        raise ResultsFolderError(f"give one results folder, or two to compare; got "
                                 f"{len(args.results)}: {' '.join(args.results)}")
    if len(args.results) == 1:
        return rerender(Path(args.results[0]), args.out, args.plots)
    return compare(*args.results, out=args.out)


def rerender(folder: Path, out: str | None, plots: bool) -> int:
    from recsys.bench.compare import read_results
    from recsys.bench.report import render_markdown
    from recsys.io import atomic_write_text

    result, config = read_results(folder)
    target = Path(out) if out is not None else (folder if folder.is_dir() else folder.parent)
    markdown = render_markdown(result, config)
    target.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target / "results.md", markdown)
    written = []
    if plots:
        from recsys.bench.plots import write_plots

        written = write_plots(result, target, k=config.k)
    sys.stdout.write(markdown)
    print(f"\nwrote {target / 'results.md'}"
          + (f" and {len(written)} plot(s)" if written else ""))
    return 0


def compare(a: str, b: str, out: str | None = None) -> int:
    from recsys.bench.compare import compare_results, comparison_table
    from recsys.io import atomic_write_text

    text = comparison_table(compare_results(a, b), a, b)
    sys.stdout.write(text)
    if out is not None:
        atomic_write_text(Path(out), text)
        print(f"\nwrote {out}")
    return 0
