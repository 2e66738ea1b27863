"""Exploratory plots of a :class:`~recsys.dataset.Dataset`, written as PNG files plus a summary.

``run_eda(ds, out_dir)`` writes

- ``rating_histogram.png``: how often each rating value occurs (half stars get their own bar);
- ``ratings_per_user.png`` and ``ratings_per_item.png``: activity and popularity, log-log;
- ``long_tail.png``: cumulative share of ratings against share of items, most popular first;
- ``ratings_over_time.png``: ratings per calendar month (UTC);
- ``genre_counts.png``: ratings and items per genre;
- with ``metadata=`` (TMDB joined to the data set), the plots of
  :mod:`recsys.eda_metadata`: overview lengths, the most frequent keywords, coverage by
  release year;
- ``summary.md``: the summary statistics (sparsity included), the TMDB coverage where
  joined, and links to the plots.

matplotlib is an optional dependency (the ``plot`` extra), imported only when plotting. The
figures are drawn on :class:`matplotlib.figure.Figure` objects directly, without pyplot, so
the global backend is never touched. Every file is written through
:func:`recsys.io.atomic_write` (a temporary name, then a rename; mode 0644 under umask 022).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from recsys.dataset import Dataset
from recsys.eda_style import (ACCENT as _ACCENT, COLOR as _COLOR, LABEL_SIZE as _LABEL_SIZE,
                              TICK_SIZE as _TICK_SIZE, TITLE_SIZE as _TITLE_SIZE,
                              display_name as _display_name, empty as _empty,
                              figure as _figure, label as _label, save_png as _save,
                              thousands as _thousands)
from recsys.io import atomic_write_text

__all__ = ["run_eda", "PLOTS"]


# ---------------------------------------------------------------------- the plots
def _rating_step(ratings: np.ndarray, scale) -> float | None:
    """1 or 0.5 when every rating lies on that grid from the scale's low end, else None."""
    lo = scale[0]
    for step in (1.0, 0.5):
        k = (ratings.astype(np.float64) - lo) / step
        if np.allclose(k, np.round(k)):
            return step
    return None


def plot_rating_histogram(ds: Dataset, ax) -> None:
    """One bar per possible rating value (half stars included where they occur)."""
    name = _display_name(ds)
    _label(ax, f"Rating distribution: {name} ({ds.n_ratings:,} ratings)",
           "Rating (stars)", "Number of ratings")
    if ds.n_ratings == 0:
        _empty(ax, "no ratings")
        return
    step = _rating_step(ds.ratings, ds.rating_scale)
    if step is None or (ds.rating_scale[1] - ds.rating_scale[0]) / step > 40:
        ax.hist(ds.ratings, bins=30, color=_COLOR)
        _thousands(ax.yaxis)
        return
    lo, hi = ds.rating_scale
    values = lo + step * np.arange(int(round((hi - lo) / step)) + 1)
    counts = np.array([(np.abs(ds.ratings - v) < step / 4).sum() for v in values])
    bars = ax.bar(values, counts, width=0.8 * step, color=_COLOR)
    share = 100.0 * counts / ds.n_ratings
    ax.bar_label(bars, labels=[f"{s:.1f}%" for s in share], fontsize=_TICK_SIZE - 1, padding=2)
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.set_ylim(0, counts.max() * 1.12)
    _thousands(ax.yaxis)
    ax.grid(False, axis="x")


def _log_count_histogram(ax, counts: np.ndarray, per: str) -> None:
    counts = counts[counts > 0]
    if len(counts) == 0:
        _empty(ax, f"no {per} with ratings")
        return
    low, top = int(counts.min()), int(counts.max())
    # Logarithmically spaced bins with integer edges: [1, 2), [2, 3), ... then wider. A bin
    # spanning w integers holds about w times more, so bar height = count / w (the mean number
    # of users or items per count value); without it the bars jump wherever w steps up.
    edges = np.floor(np.logspace(np.log10(low), np.log10(top + 1), 40))
    edges[0], edges[-1] = low, top + 1  # exact ends, whatever the rounding of logspace
    edges = np.unique(edges).astype(np.int64)
    hist, _ = np.histogram(counts, bins=edges)
    widths = np.diff(edges)
    ax.bar(edges[:-1] - 0.5, hist / widths, width=widths, align="edge", color=_COLOR,
           edgecolor="white", linewidth=0.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    median = float(np.median(counts))
    ax.axvline(median, color=_ACCENT, linestyle="--", linewidth=1.5,
               label=f"median {median:g}, mean {counts.mean():.1f}, max {top:,}")
    ax.legend(fontsize=_TICK_SIZE, loc="best")
    _plain_log_axis(ax.xaxis, top / low)
    _plain_log_axis(ax.yaxis, 100.0)


def _plain_log_axis(axis, span: float) -> None:
    """Ticks 1, 10, 100, 1,000 (plus 2 and 5 in between on a short axis), no 2x10^1 labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    subs = (1.0, 2.0, 5.0) if span < 300 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_ratings_per_user(ds: Dataset, ax) -> None:
    """Histogram of the number of ratings per user, log-spaced bins, log-log axes."""
    n = int((ds.user_counts > 0).sum())
    _label(ax, f"Ratings per user: {_display_name(ds)} ({n:,} users)",
           "Ratings per user (log scale)", "Users per rating count\n(mean over bin, log scale)")
    _log_count_histogram(ax, ds.user_counts, "users")


def plot_ratings_per_item(ds: Dataset, ax) -> None:
    """Histogram of the number of ratings per item, log-spaced bins, log-log axes."""
    n = int((ds.item_counts > 0).sum())
    _label(ax, f"Ratings per item: {_display_name(ds)} ({n:,} rated items)",
           "Ratings per item (log scale)", "Items per rating count\n(mean over bin, log scale)")
    _log_count_histogram(ax, ds.item_counts, "items")


def plot_long_tail(ds: Dataset, ax) -> None:
    """Cumulative share of ratings against share of items ranked by popularity."""
    _label(ax, f"Long tail: {_display_name(ds)}",
           "Share of items, most rated first (%)", "Cumulative share of ratings (%)")
    counts = np.sort(ds.item_counts[ds.item_counts > 0])[::-1]
    if len(counts) == 0:
        _empty(ax, "no ratings")
        return
    x = 100.0 * np.arange(0, len(counts) + 1) / len(counts)
    y = 100.0 * np.concatenate(([0.0], np.cumsum(counts) / counts.sum()))
    ax.plot(x, y, color=_COLOR, linewidth=2, label="observed")
    ax.fill_between(x, y, color=_COLOR, alpha=0.12)
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1.2,
            label="every item equally popular")
    # Two reading aids: what the top 20% of items get, and how few items make 80% of ratings.
    # Whole items, as recsys.summary counts them: the ceil(0.2 n) most rated, and the
    # fewest most-rated items whose ratings reach 80%.
    n = len(counts)
    head = max(1, int(np.ceil(0.2 * n - 1e-9)))
    x20, top20 = x[head], y[head]
    k80 = min(int(np.searchsorted(y[1:], 80.0 * (1 - 1e-9))) + 1, n)
    x80, y80 = x[k80], y[k80]
    ax.plot([x20, x20, 0], [0, top20, top20], color=_ACCENT, linestyle="--", linewidth=1.2)
    ax.plot([x80, x80], [0, y80], color=_ACCENT, linestyle=":", linewidth=1.2)
    ax.plot([x20, x80], [top20, y80], linestyle="none", marker="o", color=_ACCENT)
    ax.text(0.97, 0.30, f"top 20% of items get {top20:.1f}% of the ratings\n"
            f"80% of the ratings go to the top {x80:.1f}% of items",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=_LABEL_SIZE,
            bbox=dict(boxstyle="round", facecolor="white", edgecolor=_ACCENT))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.legend(fontsize=_TICK_SIZE, loc="lower right")


def plot_ratings_over_time(ds: Dataset, ax) -> None:
    """Ratings per calendar month (UTC)."""
    import pandas as pd

    _label(ax, f"Ratings per month: {_display_name(ds)}", "Month (UTC)", "Number of ratings")
    if ds.n_ratings == 0 or not ds.timestamps.any():
        _empty(ax, "no timestamps in this data set")
        return
    months = pd.to_datetime(ds.timestamps, unit="s").to_period("M")
    counts = months.value_counts().sort_index()
    full = pd.period_range(counts.index.min(), counts.index.max(), freq="M")
    counts = counts.reindex(full, fill_value=0)
    when = full.to_timestamp()
    if len(full) <= 48:
        from matplotlib.dates import DateFormatter

        ax.bar(when, counts.to_numpy(), width=20, align="edge", color=_COLOR)
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))
    else:
        ax.fill_between(when, counts.to_numpy(), step="post", color=_COLOR, alpha=0.35)
        ax.step(when, counts.to_numpy(), where="post", color=_COLOR, linewidth=1)
    ax.set_ylim(bottom=0)
    _thousands(ax.yaxis)
    first, last = full[0].strftime("%b %Y"), full[-1].strftime("%b %Y")
    ax.set_title(f"Ratings per month: {_display_name(ds)} ({first} to {last})",
                 fontsize=_TITLE_SIZE)
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")


def plot_genre_counts(ds: Dataset, axes) -> None:
    """Horizontal bars: ratings per genre and rated items per genre."""
    from matplotlib.ticker import MaxNLocator

    from recsys.features import genre_matrix

    left, right = axes
    name = _display_name(ds)
    _label(left, "Ratings per genre", "Number of ratings", "")
    _label(right, "Rated items per genre", "Number of items", "")
    left.get_figure().suptitle(
        f"Genres: {name} (an item can have several genres; sorted by ratings)",
        fontsize=_TITLE_SIZE,
    )
    genres, names = genre_matrix(ds)
    if not names:
        for ax in axes:
            _empty(ax, "no genre metadata")
        return
    rated = (ds.item_counts > 0).astype(np.float64)
    n_ratings = np.asarray(genres.T @ ds.item_counts.astype(np.float64)).ravel()
    n_items = np.asarray(genres.T @ rated).ravel()
    order = np.argsort(n_ratings, kind="stable")  # barh draws bottom-up: largest at the top
    y = np.arange(len(names))
    labels = [names[j] for j in order]
    left.barh(y, n_ratings[order], color=_COLOR)
    right.barh(y, n_items[order], color=_ACCENT)
    for ax in axes:
        ax.set_yticks(y)
        ax.set_ylim(-0.7, len(names) - 0.3)
        _thousands(ax.xaxis)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(False, axis="y")
    left.set_yticklabels(labels, fontsize=_TICK_SIZE)
    right.set_yticklabels([])
    right.tick_params(axis="y", length=0)


def _single(plot):
    def draw(ds: Dataset):
        fig, (ax,) = _figure()
        plot(ds, ax)
        return fig
    return draw


def _genre_figure(ds: Dataset):
    from recsys.features import genre_matrix

    n_genres = len(genre_matrix(ds)[1])
    fig, axes = _figure(2, figsize=(11.0, max(4.5, 1.2 + 0.32 * n_genres)))
    plot_genre_counts(ds, axes)
    return fig


#: File name and figure builder of every plot, in the order they are written.
PLOTS: tuple[tuple[str, Callable], ...] = (
    ("rating_histogram.png", _single(plot_rating_histogram)),
    ("ratings_per_user.png", _single(plot_ratings_per_user)),
    ("ratings_per_item.png", _single(plot_ratings_per_item)),
    ("long_tail.png", _single(plot_long_tail)),
    ("ratings_over_time.png", _single(plot_ratings_over_time)),
    ("genre_counts.png", _genre_figure),
)


# ---------------------------------------------------------------------- summary
def _summary_text(ds: Dataset) -> str:
    """The summary statistics as Markdown, from :mod:`recsys.summary` when it is there."""
    try:
        from recsys.summary import format_summary, summarize
    except ImportError:
        return _basic_summary(ds)
    lines = format_summary(summarize(ds)).strip().splitlines()
    if lines and lines[0].startswith("# "):  # its title; ours is the page's title
        lines = lines[1:]
    return "\n".join(lines).strip()


def _basic_summary(ds: Dataset) -> str:
    cells = ds.n_users * ds.n_items
    density = ds.n_ratings / cells if cells else 0.0
    values, counts = np.unique(ds.ratings, return_counts=True)
    lines = [
        f"- users: {ds.n_users:,}",
        f"- items: {ds.n_items:,}",
        f"- ratings: {ds.n_ratings:,}",
        f"- density: {density:.4f}",
        f"- sparsity: {1 - density:.4f}",
        f"- mean rating: {ds.global_mean:.3f}",
        "- rating distribution: " + ", ".join(
            f"{v:g}: {c:,}" for v, c in zip(values, counts)),
    ]
    return "\n".join(lines)


def _summary_markdown(ds: Dataset, plots: list[Path], metadata=None) -> str:
    parts = [f"# {_display_name(ds)}: exploratory summary", "", "## Summary statistics", "",
             _summary_text(ds), ""]
    if metadata is not None:
        parts += ["## TMDB metadata", "", "```", metadata.coverage.describe(), "```", ""]
    parts += ["## Plots", ""]
    for p in plots:
        parts += [f"![{p.stem.replace('_', ' ')}]({p.name})", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------- entry point
def run_eda(ds: Dataset, out_dir, progress: bool = False, metadata=None) -> list[Path]:
    """Write the EDA plots and ``summary.md`` of ``ds`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    ds : Dataset
    out_dir : path
    progress : bool
        Show a tqdm progress bar over the plots (the CLI does).
    metadata : TmdbJoin, optional
        TMDB metadata joined to ``ds`` (:func:`recsys.data.tmdb_join.join_dataset`): adds
        the plots of :data:`recsys.eda_metadata.METADATA_PLOTS` and the coverage.

    Returns
    -------
    list of Path
        The files written: the PNGs in the order of :data:`PLOTS` (then those of
        ``METADATA_PLOTS``), then ``summary.md``.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("recsys eda needs matplotlib: pip install 'recsys[plot]'") from exc
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = [(name, build, (ds,)) for name, build in PLOTS]
    if metadata is not None:
        from recsys.eda_metadata import METADATA_PLOTS

        plots += [(name, build, (ds, metadata.items)) for name, build in METADATA_PLOTS]
    written: list[Path] = []
    for filename, build, inputs in tqdm(plots, desc="eda plots", unit="plot",
                                        disable=not progress):
        fig = build(*inputs)
        path = out / filename
        _save(fig, path)
        written.append(path)
    summary = out / "summary.md"
    text = _summary_markdown(ds, written, metadata)
    atomic_write_text(summary, text)
    return written + [summary]
