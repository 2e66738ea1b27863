"""Exploratory plots of the TMDB metadata joined to a data set (``recsys eda --metadata tmdb``).

:func:`recsys.eda.run_eda` with ``metadata=`` a :class:`~recsys.data.tmdb_join.TmdbJoin`
writes these after its own plots, through the same :func:`recsys.io.atomic_write`:

- ``overview_length.png``: words per TMDB overview, over the catalogue movies that have one;
- ``top_keywords.png``: the keywords most movies of the catalogue carry;
- ``metadata_coverage_by_year.png``: per release year (MovieLens' year, else TMDB's), the
  share of the catalogue's movies with a TMDB row, with keywords and with an overview, over
  bars of the number of movies.

The catalogue is every movie of the links (``TmdbJoin.items``), rated or not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

from recsys.dataset import Dataset
from recsys.eda_style import (ACCENT as _ACCENT, COLOR as _COLOR, LABEL_SIZE as _LABEL_SIZE,
                              TICK_SIZE as _TICK_SIZE, TITLE_SIZE as _TITLE_SIZE,
                              display_name as _display_name, empty as _empty,
                              figure as _figure, label as _label, thousands as _thousands)

__all__ = ["METADATA_PLOTS", "overview_words", "plot_coverage_by_year",
           "plot_overview_lengths", "plot_top_keywords"]

#: Keywords shown by :func:`plot_top_keywords`.
TOP_KEYWORDS = 25
_GREEN = "#4c9a5b"


def overview_words(items: pd.DataFrame) -> np.ndarray:
    """Words (whitespace-separated) of each overview that is there, int64."""
    texts = [t for t in items["overview"].tolist() if isinstance(t, str) and t.strip()]
    return np.array([len(t.split()) for t in texts], dtype=np.int64)


def _has_list(items: pd.DataFrame, column: str) -> np.ndarray:
    return items[column].map(lambda v: isinstance(v, (tuple, list)) and len(v) > 0).to_numpy(
        dtype=bool)


def _has_text(items: pd.DataFrame, column: str) -> np.ndarray:
    return items[column].map(lambda v: isinstance(v, str) and bool(v.strip())).to_numpy(
        dtype=bool)


def plot_overview_lengths(ds: Dataset, items: pd.DataFrame, ax) -> None:
    """Histogram of the words per overview, with the median marked."""
    words = overview_words(items)
    _label(ax, f"TMDB overview length: {_display_name(ds)} ({len(words):,} of "
               f"{len(items):,} movies have an overview)", "Words in the overview",
           "Number of movies")
    if not len(words):
        _empty(ax, "no movie has a TMDB overview")
        return
    top = int(words.max())
    width = max(1, int(np.ceil((top + 1) / 40)))
    edges = np.arange(0, top + width + 1, width)
    ax.hist(words, bins=edges, color=_COLOR, edgecolor="white", linewidth=0.4)
    median = float(np.median(words))
    ax.axvline(median, color=_ACCENT, linestyle="--", linewidth=1.5,
               label=f"median {median:g} words, mean {words.mean():.1f}, max {top:,}")
    ax.legend(fontsize=_TICK_SIZE, loc="upper right")
    ax.set_xlim(0, edges[-1])
    _thousands(ax.yaxis)


def plot_top_keywords(ds: Dataset, items: pd.DataFrame, ax, n: int = TOP_KEYWORDS) -> None:
    """Horizontal bars: the ``n`` keywords carried by the most movies, most at the top."""
    counts = Counter(k for ks in items["keywords"] for k in dict.fromkeys(ks or ()))
    with_keywords = int(_has_list(items, "keywords").sum())
    _label(ax, f"Most frequent TMDB keywords: {_display_name(ds)}\n({len(counts):,} distinct "
               f"keywords on {with_keywords:,} of {len(items):,} movies)",
           "Number of movies with the keyword", "")
    if not counts:
        _empty(ax, "no movie has TMDB keywords")
        return
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    names = [k for k, _ in top][::-1]  # barh draws bottom-up: the most frequent at the top
    values = np.array([c for _, c in top][::-1])
    y = np.arange(len(names))
    bars = ax.barh(y, values, color=_COLOR)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=_TICK_SIZE - 1, padding=2)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=_TICK_SIZE)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlim(0, values.max() * 1.12)
    _thousands(ax.xaxis)
    ax.grid(False, axis="y")


def release_years(ds: Dataset, items: pd.DataFrame) -> pd.Series:
    """Each catalogue movie's year: MovieLens' (``item_info["year"]``), else TMDB's; NA
    where neither knows it."""
    tmdb = pd.to_numeric(items["year"], errors="coerce")
    info = ds.item_info
    if info is not None and "year" in info.columns:
        ml = pd.to_numeric(info["year"].reindex(items.index), errors="coerce")
        return ml.fillna(tmdb)
    return tmdb


def plot_coverage_by_year(ds: Dataset, items: pd.DataFrame, ax) -> None:
    """Share of the movies of each release year (5-year bins over a long span) with a TMDB
    row, keywords and an overview (lines, left axis) over the number of movies (bars, right
    axis)."""
    years = release_years(ds, items)
    known = years.notna().to_numpy()
    _label(ax, f"TMDB coverage by release year: {_display_name(ds)} ({int(known.sum()):,} "
               "movies with a year)", "Release year", "Movies with the field (%)")
    if not known.any():
        _empty(ax, "no release years")
        return
    year = years.to_numpy(dtype=np.float64)[known].astype(np.int64)
    width = 5 if year.max() - year.min() >= 40 else 1
    start = year.min() // width * width
    bins = (year - start) // width
    n_bins = int(bins.max()) + 1
    totals = np.bincount(bins, minlength=n_bins)
    x = start + width * np.arange(n_bins) + (width - 1) / 2
    counts = ax.twinx()
    counts.bar(x, totals, width=0.8 * width, color="#c9d3df", zorder=0)
    counts.set_ylabel("Movies in the catalogue (bars)", fontsize=_LABEL_SIZE)
    counts.tick_params(labelsize=_TICK_SIZE)
    _thousands(counts.yaxis)
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)  # the lines in front of the bars
    matched = items["tmdb_id"].notna().to_numpy(dtype=bool)
    fields = (("a TMDB row", matched, _GREEN),
              ("keywords", _has_list(items, "keywords"), _ACCENT),
              ("an overview", _has_text(items, "overview"), _COLOR))
    shown = totals > 0
    for name, has, color in fields:
        with_field = np.bincount(bins, weights=has[known].astype(np.float64), minlength=n_bins)
        share = 100.0 * with_field[shown] / totals[shown]
        overall = 100.0 * has[known].mean()
        ax.plot(x[shown], share, marker="o", markersize=3.5, linewidth=1.8, color=color,
                label=f"with {name} ({overall:.1f}% of them)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=_TICK_SIZE, loc="upper left")
    step = f"{width}-year bins" if width > 1 else "one bar per year"
    ax.set_title(f"TMDB coverage by release year: {_display_name(ds)} ({step})",
                 fontsize=_TITLE_SIZE)


def _single(plot, figsize=None):
    def draw(ds: Dataset, items: pd.DataFrame):
        fig, (ax,) = _figure(figsize=figsize) if figsize else _figure()
        plot(ds, items, ax)
        return fig
    return draw


#: File name and figure builder ``(ds, TmdbJoin.items) -> Figure`` of every metadata plot.
METADATA_PLOTS: tuple[tuple[str, Callable], ...] = (
    ("overview_length.png", _single(plot_overview_lengths)),
    ("top_keywords.png", _single(plot_top_keywords, figsize=(9.0, 7.5))),
    ("metadata_coverage_by_year.png", _single(plot_coverage_by_year, figsize=(11.0, 5.5))),
)
