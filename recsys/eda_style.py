"""The look of the EDA figures (:mod:`recsys.eda`, :mod:`recsys.eda_metadata`): sizes, colours,
and the helpers every plot uses. Figures are :class:`matplotlib.figure.Figure` objects made
without pyplot, so the global backend is never touched; :func:`save_png` writes one through
:func:`recsys.io.atomic_write`."""

from __future__ import annotations

from pathlib import Path

from recsys.dataset import Dataset
from recsys.io import atomic_write

__all__ = ["ACCENT", "COLOR", "DPI", "FIGSIZE", "LABEL_SIZE", "TICK_SIZE", "TITLE_SIZE",
           "display_name", "empty", "figure", "label", "save_png", "thousands"]

FIGSIZE = (9.0, 5.5)
DPI = 110
TITLE_SIZE = 14
LABEL_SIZE = 12
TICK_SIZE = 10.5
COLOR = "#3b6ea8"
ACCENT = "#d9822b"


def figure(ncols: int = 1, figsize=FIGSIZE):
    """A constrained-layout Figure with ``ncols`` axes side by side, gridded."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_axisbelow(True)
    return fig, axes


def label(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)


def thousands(axis) -> None:
    """Tick labels with thousands separators (12,000)."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def empty(ax, message: str) -> None:
    """A placeholder panel saying why there is nothing to plot."""
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=LABEL_SIZE,
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def display_name(ds: Dataset) -> str:
    return ds.name or "data set"


def save_png(fig, path: Path) -> None:
    """Write ``fig`` as PNG to ``path`` atomically (a temporary name, then a rename)."""
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI))
