"""Summary statistics of a ratings data set, as a dict and as text for ``recsys data info``."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from recsys.dataset import Dataset


def _spread(counts: np.ndarray) -> dict:
    if not len(counts):
        return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0}
    return {"min": int(counts.min()), "median": float(np.median(counts)),
            "mean": float(counts.mean()), "max": int(counts.max())}


def long_tail_shares(item_counts: np.ndarray, head_fraction: float = 0.2,
                     mass_fraction: float = 0.8) -> tuple[float, float]:
    """Concentration of ratings on popular items.

    Parameters
    ----------
    item_counts : ndarray
        Ratings per rated item.
    head_fraction : float
        The head is the ``ceil(head_fraction * n_items)`` most rated items.
    mass_fraction : float
        Share of all ratings to cover.

    Returns
    -------
    head_share : float
        Share of ratings on the head items.
    items_for_mass : float
        Smallest share of items (most rated first) that holds ``mass_fraction`` of ratings.
    """
    counts = np.sort(np.asarray(item_counts, dtype=np.int64))[::-1]
    total = counts.sum()
    if total == 0:
        return 0.0, 0.0
    n = len(counts)
    head = max(1, math.ceil(head_fraction * n - 1e-9))
    head_share = float(counts[:head].sum() / total)
    cum = np.cumsum(counts)
    k = int(np.searchsorted(cum, mass_fraction * total, side="left")) + 1
    return head_share, min(k, n) / n


def summarize(ds: Dataset, catalogue_size: int | None = None) -> dict:
    """Size, sparsity, rating distribution, activity and long-tail figures of ``ds``.

    Users and items count only if they have at least one rating (a split shares its id maps
    with the full data set, so it may list unrated ones); density and sparsity use these
    counts: ``density = n_ratings / (n_users * n_items)``.

    Parameters
    ----------
    ds : Dataset
    catalogue_size : int, optional
        Number of items in the catalogue; default ``len(ds.item_info)`` when the data set
        has item metadata listing more items than were rated.

    Returns
    -------
    dict with keys ``name``, ``n_users``, ``n_items``, ``catalogue_items`` (int or None),
    ``n_ratings``, ``density``, ``sparsity``, ``rating_scale``, ``rating_distribution``
    ({value: count}, ascending), ``mean_rating``, ``std_rating``, ``ratings_per_user`` and
    ``ratings_per_item`` ({min, median, mean, max}), ``top20_item_share`` (share of ratings
    on the 20% most rated items), ``items_for_80pct_share`` (share of items holding 80% of
    ratings), ``time_range`` ((first, last) ISO dates in UTC, or None without timestamps).
    """
    user_counts = np.bincount(ds.users, minlength=ds.n_users)
    item_counts = np.bincount(ds.items, minlength=ds.n_items)
    user_counts = user_counts[user_counts > 0]
    item_counts = item_counts[item_counts > 0]
    n_users, n_items, n_ratings = len(user_counts), len(item_counts), ds.n_ratings
    cells = n_users * n_items
    density = n_ratings / cells if cells else 0.0
    if catalogue_size is None and ds.item_info is not None:
        catalogue_size = len(ds.item_info)
    values, counts = np.unique(ds.ratings, return_counts=True)
    head_share, items_for_mass = long_tail_shares(item_counts)
    time_range = None
    if n_ratings and ds.timestamps.any():
        first, last = int(ds.timestamps.min()), int(ds.timestamps.max())
        time_range = tuple(datetime.fromtimestamp(t, tz=timezone.utc).date().isoformat()
                           for t in (first, last))
    ratings64 = ds.ratings.astype(np.float64)
    return {
        "name": ds.name,
        "n_users": n_users,
        "n_items": n_items,
        "catalogue_items": (int(catalogue_size)
                            if catalogue_size is not None and catalogue_size > n_items
                            else None),
        "n_ratings": n_ratings,
        "density": density,
        "sparsity": 1.0 - density,
        "rating_scale": ds.rating_scale,
        "rating_distribution": {float(v): int(c) for v, c in zip(values, counts)},
        "mean_rating": float(ratings64.mean()) if n_ratings else float("nan"),
        "std_rating": float(ratings64.std()) if n_ratings else float("nan"),
        "ratings_per_user": _spread(user_counts),
        "ratings_per_item": _spread(item_counts),
        "top20_item_share": head_share,
        "items_for_80pct_share": items_for_mass,
        "time_range": time_range,
    }


def format_summary(summary: dict, duplicates=None) -> str:
    """The summary as short Markdown: a bullet list and a rating-distribution table.

    ``duplicates``: the :class:`~recsys.data.DuplicateReport` of the file the data came from
    (a ``duplicates`` line says "none" when it is None).
    """
    s = summary
    items = f"{s['n_items']} rated"
    if s.get("catalogue_items"):
        items += f" ({s['catalogue_items']} in the catalogue)"
    lo, hi = s["rating_scale"]

    def spread(d):
        return (f"min {d['min']}, median {d['median']:g}, mean {d['mean']:.1f}, "
                f"max {d['max']}")

    lines = [
        f"# {s['name'] or 'data set'}",
        "",
        f"- users: {s['n_users']}",
        f"- items: {items}",
        f"- ratings: {s['n_ratings']}",
        f"- density: {s['density']:.4f}",
        f"- sparsity: {s['sparsity']:.4f}",
        f"- rating scale: {lo:g} to {hi:g}; "
        + (f"mean {s['mean_rating']:.3f}, std {s['std_rating']:.3f}" if s["n_ratings"]
           else "no ratings"),
        f"- ratings per user: {spread(s['ratings_per_user'])}",
        f"- ratings per item: {spread(s['ratings_per_item'])}",
        f"- long tail: the 20% most rated items hold {100 * s['top20_item_share']:.1f}% of "
        f"ratings; {100 * s['items_for_80pct_share']:.1f}% of items hold 80%",
    ]
    if s.get("time_range"):
        lines.append(f"- time range: {s['time_range'][0]} to {s['time_range'][1]}")
    lines.append(f"- duplicates: {duplicates.describe() if duplicates is not None else 'none'}")
    lines += ["", "| rating | count | share |", "|---:|---:|---:|"]
    total = max(s["n_ratings"], 1)
    for value, count in s["rating_distribution"].items():
        lines.append(f"| {value:g} | {count} | {100 * count / total:.1f}% |")
    return "\n".join(lines)


def format_metadata(meta, ds: Dataset) -> str:
    """The TMDB part of ``recsys data info --metadata tmdb`` as short Markdown: the files
    read and every defect repaired, the data set's own links defects, the coverage each
    format gives alone, and the coverage of their merge.

    ``meta``: a :class:`~recsys.metadata.LoadedMetadata` (``by_source=True`` for the
    per-format lines).
    """
    from recsys.metadata import links_defects

    lines = [f"## TMDB metadata ({meta.folder})", ""]
    lines += _bullets(meta.data.report.describe())
    links = links_defects(ds)
    repeated = links["repeated_tmdb"]
    shown = "; ".join(f"{t} for movies {', '.join(map(str, m))}"
                      for t, m in list(repeated.items())[:5])
    lines.append(
        f"- {ds.name or 'data set'} links: {links['n_movies']:,} movies, "
        f"{links['n_without_tmdb']:,} without a tmdbId, {links['n_without_imdb']:,} without "
        f"an imdbId, {len(repeated):,} tmdbId{'' if len(repeated) == 1 else 's'} given to "
        "more than one movie"
        + (f" ({shown}{', ...' if len(repeated) > 5 else ''})" if repeated else ""))
    for source, coverage in meta.by_source.items():
        counts = ", ".join(f"{name} {n:,}" for name, n in coverage.with_field.items() if n)
        lines.append(f"- {source} alone: {coverage.n_matched:,} of {coverage.n_movies:,} "
                     f"movies get a row ({_share(coverage.n_matched, coverage.n_movies)})"
                     + (f"; with {counts}" if counts else ""))
    lines += _bullets("merged: " + meta.joined.coverage.describe())
    return "\n".join(lines)


def _share(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "-"


def _bullets(text: str) -> list[str]:
    """A describe() text (a first line, then lines indented by two spaces) as a Markdown
    list: the first line a bullet, the indented ones nested bullets."""
    out = []
    for line in text.splitlines():
        if line.startswith("  "):
            out.append(f"  - {line.strip()}")
        else:
            out.append(f"- {line}")
    return out
