"""Benchmark figures as PNG files (matplotlib, Agg backend: no display needed).

- ``accuracy_vs_time_<dataset>_<split>.png``: each model's mean accuracy against its mean fit
  time (log time axis), one panel per protocol (RMSE for rating prediction, NDCG@k for top-N),
  with the 95% CI over folds as error bars.
- ``learning_curves_<dataset>_<split>.png``: train and test RMSE per epoch of the models that
  record a history (the SGD models), from the untimed extra fit on the first fold.
- ``topn_<dataset>_<split>.png``: grouped bars of precision@k, recall@k and NDCG@k per model.

Each function returns the paths it wrote; a figure with nothing to show is not written.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from recsys.bench.report import group_rows, mean_half_width, ok_values
from recsys.io import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _slug(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-") for p in parts)


def _save(fig, path: Path) -> Path:
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110,
                                                     bbox_inches="tight"))


#: Marker per library, so ours and the references can be told apart at a glance.
MARKERS = {"recsys": "o", "surprise": "s", "implicit": "^"}


def _color(j: int) -> str:
    import matplotlib

    return matplotlib.colormaps["tab20"](j % 20)


def accuracy_vs_time(rows: list[dict[str, Any]], out_dir: Path, k: int = 10) -> list[Path]:
    plt = _pyplot()
    written = []
    for (dataset, split), by_model in group_rows(rows).items():
        panels = [(m, label) for m, label in (("rmse", "RMSE (lower is better)"),
                                              (f"ndcg@{k}", f"NDCG@{k} (higher is better)"))
                  if any(ok_values(ms, m) and ok_values(ms, "fit_seconds")
                         for ms in by_model.values())]
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels) + 3.0, 5.0),
                                 squeeze=False)
        annotate = len(by_model) <= 6
        for ax, (metric, ylabel) in zip(axes[0], panels):
            for j, (label, ms) in enumerate(by_model.items()):
                ys, xs = ok_values(ms, metric), ok_values(ms, "fit_seconds")
                if not ys or not xs:
                    continue
                y, yh = mean_half_width(ys)
                x = max(sum(xs) / len(xs), 1e-4)
                ax.errorbar([x], [y], yerr=None if math.isnan(yh) else [yh],
                            fmt=MARKERS.get(ms[0].get("library"), "D"), capsize=3,
                            markersize=7, label=f"{label} ({ms[0].get('library')})",
                            color=_color(j))
                if annotate:
                    ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4),
                                fontsize=8)
            ax.set_xscale("log")
            ax.set_xlabel("fit time per fold, seconds (log scale)")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
        handles, labels = axes[0][0].get_legend_handles_labels()
        for ax in axes[0][1:]:  # models present in a later panel only
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                   title="model (library); bars: 95% CI over folds", title_fontsize=8)
        fig.suptitle(f"Accuracy vs fit time: {dataset}, {split}")
        fig.tight_layout()
        written.append(_save(fig, out_dir / f"accuracy_vs_time_{_slug(dataset, split)}.png"))
        plt.close(fig)
    return written


def learning_curves(curves: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    plt = _pyplot()
    written = []
    by_split: dict[tuple[str, str], list[dict]] = {}
    for c in curves:
        by_split.setdefault((c["dataset"], c["split"]), []).append(c)
    for (dataset, split), cs in by_split.items():
        fig, ax = plt.subplots(figsize=(9.0, 4.8))
        for j, c in enumerate(cs):
            color = f"C{j % 10}"
            if c.get("train_rmse"):
                ax.plot(range(1, len(c["train_rmse"]) + 1), c["train_rmse"], "--", color=color,
                        label=f"{c['model']} train")
            if c.get("eval_rmse"):
                ax.plot(range(1, len(c["eval_rmse"]) + 1), c["eval_rmse"], "-", color=color,
                        label=f"{c['model']} test")
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("RMSE")
        ax.set_title(f"Learning curves: {dataset}, {split}, fold {cs[0]['fold']} "
                     "(dashed: train, solid: test)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        written.append(_save(fig, out_dir / f"learning_curves_{_slug(dataset, split)}.png"))
        plt.close(fig)
    return written


def topn_bars(rows: list[dict[str, Any]], out_dir: Path, k: int = 10) -> list[Path]:
    plt = _pyplot()
    import numpy as np

    written = []
    metrics = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}"]
    for (dataset, split), by_model in group_rows(rows).items():
        labels = [lab for lab, ms in by_model.items() if any(ok_values(ms, m) for m in metrics)]
        if not labels:
            continue
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 2), 4.6))
        width = 0.8 / len(metrics)
        x = np.arange(len(labels))
        for j, metric in enumerate(metrics):
            values = [ok_values(by_model[lab], metric) for lab in labels]
            stats = [mean_half_width(v) if v else (float("nan"), float("nan")) for v in values]
            means = [s[0] for s in stats]
            errs = [0.0 if math.isnan(s[1]) else s[1] for s in stats]
            ax.bar(x + (j - 1) * width, means, width, yerr=errs if any(errs) else None,
                   capsize=2, label=metric)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("mean over folds (95% CI)")
        ax.set_title(f"Top-{k} metrics: {dataset}, {split}")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, out_dir / f"topn_{_slug(dataset, split)}.png"))
        plt.close(fig)
    return written


def write_plots(result, out_dir, k: int = 10) -> list[Path]:
    """Every figure the results support, as PNG files in ``out_dir``."""
    out = Path(out_dir)
    ok = [r for r in result.rows if r.get("status") == "ok"]
    return (accuracy_vs_time(ok, out, k) + learning_curves(result.curves, out)
            + topn_bars(ok, out, k))
