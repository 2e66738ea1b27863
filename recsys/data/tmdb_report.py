"""What the TMDB loaders return: the metadata table with the report of its loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from recsys.data.tmdb_formats import ZERO_UNKNOWN
from recsys.data.tmdb_join import LinksReport

__all__ = ["TmdbData", "TmdbReport"]


@dataclass
class TmdbReport:
    """What the TMDB loaders read, and every defect they repaired rather than refused.

    Per-file entries are keyed by the file's name (``"keywords.csv"``).

    Attributes
    ----------
    sources : tuple of str
        The formats read (keys of :data:`SOURCES`).
    rows : dict of str to int
        Records (CSV rows, JSON objects) read from each file.
    n_movies : int
        Rows of the resulting table (distinct TMDB ids).
    duplicate_rows : dict of str to int
        Records that repeat an earlier one exactly, dropped.
    conflicting_ids : dict of str to tuple of int
        Ids repeated with different content; the first record is kept.
    skipped_lines : dict of str to tuple of int
        ``movies_metadata.csv`` lines whose ``id`` holds a date: the tail of a record
        broken by an unquoted line break.
    rejoined_lines : dict of str to tuple of (int, int)
        Those of them joined back to the line before (head line, tail line), because the
        two field counts add up to one record; the others were skipped.
    zeros_unknown : dict of str to dict of str to int
        Per file, the budget/revenue/runtime zeros read as unknown (NaN).
    links : LinksReport or None
        The Movies Dataset's ``links.csv``, where read.
    """

    sources: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    n_movies: int = 0
    duplicate_rows: dict[str, int] = field(default_factory=dict)
    conflicting_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)
    skipped_lines: dict[str, tuple[int, ...]] = field(default_factory=dict)
    rejoined_lines: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    zeros_unknown: dict[str, dict[str, int]] = field(default_factory=dict)
    links: LinksReport | None = None

    def describe(self) -> str:
        """The report as lines of text, for ``recsys data info``."""
        out = [f"TMDB metadata ({', '.join(self.sources)}): {self.n_movies:,} movies from "
               + ", ".join(f"{name} ({n:,} rows)" for name, n in self.rows.items())]
        for name, n in self.duplicate_rows.items():
            if n:
                out.append(f"  {name}: {n:,} exact duplicate rows dropped")
        for name, ids in self.conflicting_ids.items():
            if ids:
                shown = ", ".join(map(str, ids[:5])) + (", ..." if len(ids) > 5 else "")
                out.append(f"  {name}: {len(ids):,} ids repeated with other content, the "
                           f"first row kept ({shown})")
        for name, lines in self.skipped_lines.items():
            joined = self.rejoined_lines.get(name, ())
            out.append(f"  {name}: {len(lines)} rows whose id holds a date (lines "
                       f"{', '.join(map(str, lines))}): {len(joined)} rejoined to the line "
                       f"before, {len(lines) - len(joined)} skipped")
        for name, zeros in self.zeros_unknown.items():
            if zeros:
                out.append(f"  {name}: zero read as unknown: " + ", ".join(
                    f"{column} {zeros[column]:,}" for column in ZERO_UNKNOWN if column in zeros))
        if self.links is not None:
            out.append("  " + self.links.describe())
        return "\n".join(out)

    def merged(self, other: "TmdbReport") -> "TmdbReport":
        """Both reports in one (the sources of a merged table); ``n_movies`` is left 0."""
        return TmdbReport(
            self.sources + other.sources, {**self.rows, **other.rows}, 0,
            {**self.duplicate_rows, **other.duplicate_rows},
            {**self.conflicting_ids, **other.conflicting_ids},
            {**self.skipped_lines, **other.skipped_lines},
            {**self.rejoined_lines, **other.rejoined_lines},
            {**self.zeros_unknown, **other.zeros_unknown}, self.links or other.links)


@dataclass
class TmdbData:
    """A TMDB metadata table and the report of its loading.

    Attributes
    ----------
    table : DataFrame
        One row per TMDB id, sorted by it, columns
        :data:`~recsys.data.tmdb_formats.COLUMNS`: ``tmdb_id`` (int64), ``imdb_id`` and
        ``year`` (nullable Int64), ``title``, ``overview``, ``release_date`` (str or None),
        ``genres``, ``keywords``, ``cast`` (billing order), ``directors`` (tuples of str,
        empty when unknown), ``popularity``, ``vote_average``, ``vote_count``, ``budget``,
        ``revenue``, ``runtime`` (float64, NaN when unknown; 0 budget/revenue/runtime is
        unknown).
    report : TmdbReport
    path : Path
        The folder (or file) read.
    """

    table: pd.DataFrame
    report: TmdbReport
    path: Path

    def __repr__(self) -> str:
        return (f"TmdbData({', '.join(self.report.sources)}, {len(self.table)} movies, "
                f"path={str(self.path)!r})")
