"""Turn benchmark rows into Markdown: the results table, the paired comparisons, the README.

The table has one line per model for each (data set, split): the mean over folds of each
metric with the half-width of its 95% Student-t confidence interval (``0.9341 ± 0.0042``;
just the mean when a model ran on one fold), the fit and predict seconds likewise, and the
fit speed-up against the config's reference model (reference fit seconds / model fit seconds
on the folds both ran; above 1 means faster than the reference). Columns no model filled are
left out.

Paired comparisons (:func:`paired_comparisons`) test whether two models differ on one metric,
over folds (one value per fold, n = number of common folds) and over users (one value per
(fold, user) pair both models were evaluated on), with the paired t-test and the Wilcoxon
signed-rank test of :func:`recsys.significance.paired_tests`. With 5 folds the smallest
two-sided Wilcoxon p-value is 0.0625, so the per-user tests carry most of the evidence.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from recsys.bench.config import is_rating_metric
from recsys.errors import RecsysError
from recsys.io import atomic_write_text

#: Table columns: (row key, header, decimals). Shown when at least one row has the key.
METRIC_COLUMNS = (
    ("rmse", "RMSE", 4), ("mae", "MAE", 4),
    ("precision@{k}", "P@{k}", 4), ("recall@{k}", "R@{k}", 4), ("ndcg@{k}", "NDCG@{k}", 4),
    ("map@{k}", "MAP@{k}", 4), ("mrr", "MRR", 4), ("hit@{k}", "Hit@{k}", 4),
    ("coverage", "Coverage", 3), ("novelty", "Novelty (bits)", 2),
    ("ild_genres", "ILD genres", 3), ("ild_content", "ILD content", 3), ("arp", "ARP", 1),
    ("aplt", "APLT", 3), ("gini", "Gini", 3), ("serendipity", "Serendipity", 4),
    ("calibration", "Miscal. KL", 3),
)
#: The sampled-ranking table's metrics and versions (:mod:`recsys.sampled`).
SAMPLED_COLUMNS = (("hit@{k}", "HR@{k}"), ("ndcg@{k}", "NDCG@{k}"))
SAMPLED_VERSIONS = (("full", "full"), ("sampled", "sampled"), ("corrected", "corrected"))
#: Resamples and seed of the intervals over users.
USER_BOOTSTRAP = 1000
USER_BOOTSTRAP_SEED = 0
TIME_COLUMNS = (("fit_seconds", "Fit s", None), ("predict_seconds", "Predict s", None),
                ("topn_seconds", "Top-N score s", None), ("fit_peak_mb", "Fit peak MiB", 1))


def mean_half_width(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% Student-t confidence interval); half-width NaN with one
    value."""
    from recsys.metrics import mean_ci

    mean, lo, hi = mean_ci(values)
    return mean, (hi - lo) / 2 if not math.isnan(lo) else float("nan")


def _fmt(value: float, decimals: int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if decimals is None:  # seconds: 3 significant digits
        if value == 0:
            return "0"
        decimals = max(0, 2 - int(math.floor(math.log10(abs(value)))))
        decimals = min(decimals, 4)
    return f"{value:.{decimals}f}"


def _fmt_ci(values: list[float], decimals: int | None) -> str:
    if not values:
        return "–"
    mean, half = mean_half_width(values)
    if math.isnan(half):
        return _fmt(mean, decimals)
    if decimals is None:
        d = _fmt(mean, None)
        decimals = len(d.split(".")[1]) if "." in d else 0
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"


def group_rows(rows: Iterable[dict]) -> "OrderedDict[tuple[str, str], OrderedDict[str, list]]":
    """(dataset, split) -> model label -> its rows (any status), in run order."""
    out: OrderedDict = OrderedDict()
    for r in rows:
        out.setdefault((r["dataset"], r["split"]), OrderedDict()).setdefault(
            r["model"], []).append(r)
    return out


def ok_values(rows: list[dict], key: str) -> list[float]:
    """``key`` of the rows that ran, as floats, leaving out missing and NaN values."""
    return [float(r[key]) for r in rows if r.get("status") == "ok" and r.get(key) is not None
            and not (isinstance(r[key], float) and math.isnan(r[key]))]


def speed_ratio(ref_rows: list[dict], rows: list[dict]) -> float | None:
    """Reference fit seconds / model fit seconds, summed over the folds both ran."""
    ref = {r["fold"]: r["fit_seconds"] for r in ref_rows
           if r.get("status") == "ok" and r.get("fit_seconds")}
    own = {r["fold"]: r["fit_seconds"] for r in rows
           if r.get("status") == "ok" and r.get("fit_seconds")}
    common = sorted(set(ref) & set(own))
    if not common:
        return None
    return sum(ref[f] for f in common) / sum(own[f] for f in common)


def results_table(rows: list[dict], k: int = 10, reference: str | None = None,
                  folds_by_split: dict[tuple[str, str], list[str]] | None = None,
                  counterparts: dict[str, str] | None = None) -> str:
    """The Markdown results table(s), one per (data set, split).

    ``counterparts`` maps a model label to the label of the reference implementation of the
    same algorithm; it adds a column with the fit speed-up against it.
    """
    counterparts = counterparts or {}
    out = []
    for (dataset, split), by_model in group_rows(rows).items():
        all_folds = (folds_by_split or {}).get((dataset, split))
        if all_folds is None:
            all_folds = sorted({r["fold"] for ms in by_model.values() for r in ms})
        cols = []
        for key, head, dec in METRIC_COLUMNS + TIME_COLUMNS:
            key, head = key.format(k=k), head.format(k=k)
            if any(ok_values(ms, key) for ms in by_model.values()):
                cols.append((key, head, dec))
        ref_rows = by_model.get(reference) if reference else None
        heads = ["Model", "Library", "Folds"] + [h for _, h, _ in cols]
        if ref_rows:
            heads.append(f"Fit speed-up vs {reference}")
        twin_col = any(counterparts.get(label) in by_model for label in by_model)
        if twin_col:
            heads.append("Fit speed-up vs counterpart")
        lines = [f"### {dataset} · {split} ({len(all_folds)} fold"
                 f"{'s' if len(all_folds) != 1 else ''})", "",
                 "| " + " | ".join(heads) + " |",
                 "|" + "|".join(["---"] * 3 + ["---:"] * (len(heads) - 3)) + "|"]
        notes = []
        for label, ms in by_model.items():
            ok = [r for r in ms if r.get("status") == "ok"]
            ran = [r["fold"] for r in ok]
            folds_cell = str(len(ran))
            if 0 < len(ran) < len(all_folds):
                folds_cell += f" ({', '.join(ran)} only)"
                notes.append(f"{label} ran on {', '.join(ran)} only, not on every fold.")
            errors = [r for r in ms if r.get("status") not in ("ok", "unsupported")]
            for r in errors:
                notes.append(f"{label} failed on {r['fold']}: {r.get('error')}")
            unsupported = [r for r in ms if r.get("status") == "unsupported"]
            if unsupported:
                notes.append(f"{label}: unsupported on this split ({unsupported[0]['error']})")
            fallback = [r for r in ok if r.get("n_fallback") is not None]
            if fallback:  # a peer whose predictions were replaced (Spark's NaN for new ids)
                n = sum(int(r["n_fallback"]) for r in fallback)
                tested = sum(int(r.get("n_test") or 0) for r in fallback)
                notes.append(f"{label}: {n:,} of {tested:,} test predictions were NaN (a "
                             "user or item without training ratings) and fell back to the "
                             "training mean, as our models without biases do.")
            cells = [label, ms[0]["library"], folds_cell]
            cells += [_fmt_ci(ok_values(ok, key), dec) for key, _, dec in cols]
            if ref_rows:
                ratio = speed_ratio(ref_rows, ok)
                cells.append("–" if ratio is None else f"{ratio:.2f}×")
            if twin_col:
                twin = counterparts.get(label)
                ratio = speed_ratio(by_model[twin], ok) if twin in by_model else None
                cells.append("" if ratio is None else f"{ratio:.2f}× vs {twin}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("Mean over folds ± half-width of the 95% Student-t confidence interval "
                     "(the mean alone where a model ran on one fold). Fit seconds exclude "
                     "converting our data set into a reference library's own structure."
                     + (f" Speed-up = {reference} fit seconds / model fit seconds on the "
                        "folds both ran (above 1: faster)." if ref_rows else "")
                     + (" Counterpart: the reference library's implementation of the same "
                        "algorithm, same hyperparameters." if twin_col else ""))
        for n in notes:
            lines.append(f"- {n}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------------- sampled vs full
def _order(means: dict[str, float]) -> dict[str, int]:
    """Model -> its place (1 = best) by descending mean."""
    ranked = sorted(means, key=lambda label: -means[label])
    return {label: j + 1 for j, label in enumerate(ranked)}


def sampled_table(rows: list[dict], k: int = 10) -> str:
    """Per (data set, split) with a sampled ranking: each model's full, raw sampled and
    corrected HR@k and NDCG@k (means over folds) and, in brackets, the model's place under
    each, so a change of order caused by sampling shows. Empty string when no row has them."""
    out = []
    for (dataset, split), by_model in group_rows(rows).items():
        cols = []
        for key, head in SAMPLED_COLUMNS:
            for version, vhead in SAMPLED_VERSIONS:
                name = f"{version}_{key.format(k=k)}"
                means = {label: float(np.mean(v)) for label, ms in by_model.items()
                         if (v := ok_values(ms, name))}
                if means:
                    cols.append((f"{head.format(k=k)} {vhead}", means, _order(means)))
        if not cols:
            continue
        lines = [f"### {dataset} · {split}: sampled vs full ranking", "",
                 "| Model | " + " | ".join(h for h, _, _ in cols) + " |",
                 "|---|" + "---:|" * len(cols)]
        for label in by_model:
            cells = [label] + [f"{means[label]:.4f} ({order[label]})" if label in means
                               else "–" for _, means, order in cols]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Each relevant test item ranked among all the user's unrated items "
                  "(full) and among sampled negatives (sampled); corrected: the "
                  "bias-variance estimator of Krichene & Rendle (KDD 2020) applied to the "
                  "sampled ranks (uniform sampling only). Mean over folds; in brackets the "
                  "model's place in that column (1 = best)."]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n" if out else ""


# ---------------------------------------------------------------------- intervals over users
def user_ci_table(result, k: int = 10, n_boot: int = USER_BOOTSTRAP,
                  seed: int = USER_BOOTSTRAP_SEED) -> str:
    """Per (data set, split): each model's mean over folds of every per-user metric with
    its 95% bootstrap interval over users (:func:`recsys.significance.user_bootstrap_ci`,
    ``n_boot`` resamples, seeded), beside the one over folds of the results table.
    Empty string when there are no per-user values."""
    from recsys.significance import user_bootstrap_ci

    wanted = ["rmse", "mae"] + [key.format(k=k) for key, _, _ in METRIC_COLUMNS[2:]
                                if key not in ("coverage", "novelty", "gini")]
    wanted += [f"{v}_{key.format(k=k)}" for key, _ in SAMPLED_COLUMNS
               for v, _ in SAMPLED_VERSIONS]
    heads = dict((key.format(k=k), head.format(k=k)) for key, head, _ in METRIC_COLUMNS)
    heads.update({f"{v}_{key.format(k=k)}": f"{head.format(k=k)} {vh}"
                  for key, head in SAMPLED_COLUMNS for v, vh in SAMPLED_VERSIONS})
    heads.update(rmse="RMSE per user", mae="MAE per user")  # means of per-user values
    groups: OrderedDict = OrderedDict()
    for (dataset, split, fold, model, metric), (users, values) in result.per_user.items():
        groups.setdefault((dataset, split), OrderedDict()).setdefault(model, {}).setdefault(
            metric, []).append((users, values))
    out = []
    for (dataset, split), by_model in groups.items():
        metrics = [m for m in wanted if any(m in v for v in by_model.values())]
        if not metrics:
            continue
        lines = [f"### {dataset} · {split}: 95% intervals over users", "",
                 "| Model | " + " | ".join(heads.get(m, m) for m in metrics) + " |",
                 "|---|" + "---:|" * len(metrics)]
        for label, per_metric in by_model.items():
            cells = [label]
            for m in metrics:
                if m not in per_metric:
                    cells.append("–")
                    continue
                mean, lo, hi = user_bootstrap_ci(per_metric[m], n_boot=n_boot, seed=seed)
                cells.append(f"{mean:.4f}" if math.isnan(lo) else
                             f"{mean:.4f} [{lo:.4f}, {hi:.4f}]")
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Mean over folds of the per-user values, and the 2.5% and 97.5% "
                  f"percentiles of {n_boot:,} bootstrap resamples of the users (seed {seed}; "
                  "one draw of users shared by every fold, so a user in several folds is one "
                  "unit). The results table's ± is over folds."]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n" if out else ""


# ---------------------------------------------------------------------- paired comparisons
def _pairs_to_compare(result, config) -> list[tuple[str, str, str]]:
    rows = result.rows
    labels = list(OrderedDict.fromkeys(r["model"] for r in rows))
    pairs = []
    ref = config.reference
    if ref in labels:
        for metric in config.paired:
            has = {r["model"] for r in rows if r.get(metric) is not None}
            if ref not in has:
                continue
            ours = {r["model"] for r in rows if r.get("library") == "recsys"}
            pairs += [(label, ref, metric) for label in labels
                      if label != ref and label in has and label in ours]
    for a, b in config.counterparts.items():
        for metric in config.paired:
            has = {r["model"] for r in rows if r.get(metric) is not None}
            if a in has and b in has and (a, b, metric) not in pairs:
                pairs.append((a, b, metric))
    for c in config.compare:
        if (c.a, c.b, c.metric) not in pairs:
            pairs.append((c.a, c.b, c.metric))
    return pairs


def paired_comparisons(result, config) -> list[dict[str, Any]]:
    """Paired tests: each of our models against the reference, each model that names a
    counterpart against it, and the config's ``[[compare]]`` pairs.

    One dict per (dataset, split, a, b, metric): ``folds`` (common folds), ``mean_a``,
    ``mean_b``, ``mean_diff`` (a - b, over the common folds), ``folds_t_pvalue``,
    ``folds_wilcoxon_pvalue``, ``n_users`` (common (fold, user) pairs), ``users_mean_diff``,
    ``users_t_pvalue``, ``users_wilcoxon_pvalue``, ``lower_is_better``. A test that cannot be
    run (fewer than two pairs, all differences zero) gives None.
    """
    from recsys.significance import paired_tests

    out = []
    groups = group_rows(result.rows)
    for (dataset, split), by_model in groups.items():
        for a, b, metric in _pairs_to_compare(result, config):
            if a not in by_model or b not in by_model:
                continue
            va = {r["fold"]: r[metric] for r in by_model[a]
                  if r.get("status") == "ok" and r.get(metric) is not None}
            vb = {r["fold"]: r[metric] for r in by_model[b]
                  if r.get("status") == "ok" and r.get(metric) is not None}
            common = [f for f in va if f in vb]
            if not common:
                continue
            xa = np.array([va[f] for f in common], dtype=np.float64)
            xb = np.array([vb[f] for f in common], dtype=np.float64)
            entry = {"dataset": dataset, "split": split, "a": a, "b": b, "metric": metric,
                     "lower_is_better": is_rating_metric(metric), "folds": common,
                     "mean_a": float(xa.mean()), "mean_b": float(xb.mean()),
                     "mean_diff": float((xa - xb).mean())}
            t = _safe_tests(paired_tests, xa, xb)
            entry["folds_t_pvalue"] = t.get("t_pvalue")
            entry["folds_wilcoxon_pvalue"] = t.get("wilcoxon_pvalue")
            ua, ub = [], []
            for f in common:
                pa = result.per_user.get((dataset, split, f, a, metric))
                pb = result.per_user.get((dataset, split, f, b, metric))
                if pa is None or pb is None:
                    continue
                _, ia, ib = np.intersect1d(pa[0], pb[0], assume_unique=True,
                                           return_indices=True)
                ua.append(np.asarray(pa[1])[ia])
                ub.append(np.asarray(pb[1])[ib])
            if ua:
                xa_u, xb_u = np.concatenate(ua), np.concatenate(ub)
                t = _safe_tests(paired_tests, xa_u, xb_u)
                entry["n_users"] = int(len(xa_u))
                entry["users_mean_diff"] = float((xa_u - xb_u).mean()) if len(xa_u) else None
                entry["users_t_pvalue"] = t.get("t_pvalue")
                entry["users_wilcoxon_pvalue"] = t.get("wilcoxon_pvalue")
            else:
                entry.update(n_users=0, users_mean_diff=None, users_t_pvalue=None,
                             users_wilcoxon_pvalue=None)
            out.append(entry)
    return out


def _safe_tests(paired_tests, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    if len(a) < 2:
        return {}
    try:
        res = dict(paired_tests(a, b))
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return {}
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in res.items()}


def _p(value) -> str:
    if value is None:
        return "–"
    if value < 1e-4:
        return f"{value:.1e}"
    return f"{value:.4f}"


def comparisons_table(comparisons: list[dict[str, Any]]) -> str:
    """The paired comparisons as Markdown (empty string when there are none)."""
    if not comparisons:
        return ""
    lines = ["### Paired comparisons", "",
             "| Data set | Split | A | B | Metric | A | B | A − B | Folds | t p | Wilcoxon p "
             "| Users × folds | t p | Wilcoxon p |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in comparisons:
        lines.append("| " + " | ".join([
            c["dataset"], c["split"], c["a"], c["b"], c["metric"],
            f"{c['mean_a']:.4f}", f"{c['mean_b']:.4f}", f"{c['mean_diff']:+.4f}",
            str(len(c["folds"])), _p(c.get("folds_t_pvalue")),
            _p(c.get("folds_wilcoxon_pvalue")), str(c.get("n_users", 0)),
            _p(c.get("users_t_pvalue")), _p(c.get("users_wilcoxon_pvalue")),
        ]) + " |")
    lines += ["", "Paired t-test and Wilcoxon signed-rank test (two-sided, scipy) of A against "
              "B: over folds (one value per fold) and over users (one value per user and "
              "fold, both models evaluated). The A and B columns are means over the folds "
              "both ran. For RMSE and MAE lower is better; for the top-N metrics higher is "
              "better. With 5 folds the smallest possible two-sided Wilcoxon p is 0.0625."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the whole report
def render_markdown(result, config) -> str:
    """results.md: title, machine, command, the results table(s) and the comparisons."""
    h = result.header
    folds_by_split = {(f["dataset"], f["split"]): [x["name"] for x in f["folds"]]
                      for f in h.get("folds", [])}
    parts = [f"## Benchmark `{config.name}`", ""]
    if config.description:
        parts += [config.description, ""]
    parts += [provenance(h), ""]
    notes = data_notes(h)
    if notes:
        parts += notes + [""]
    for s in h.get("skipped", []):
        parts.append(f"- skipped {s.get('model') or s.get('dataset')}: {s['reason']}")
    if h.get("skipped"):
        parts.append("")
    parts.append(results_table(result.rows, k=config.k, reference=config.reference,
                               folds_by_split=folds_by_split,
                               counterparts=config.counterparts))
    for extra in (sampled_table(result.rows, k=config.k), user_ci_table(result, k=config.k)):
        if extra:
            parts.append(extra)
    comp = comparisons_table(result.comparisons)
    if comp:
        parts += [comp]
    return "\n".join(parts).rstrip() + "\n"


def data_notes(header: dict[str, Any]) -> list[str]:
    """Markdown list lines for what the table's rows need to be read right: the metadata
    joined to a data set (where from, how much it covers) and the splits whose top-N lists
    rank only the test items, whose test items were drawn among those with metadata, or
    whose data set's items were put in a random order."""
    lines = []
    for m in header.get("metadata", []):
        fields = ", ".join(f"{name} {n:,}" for name, n in m["with_field"].items()
                           if n and name in ("overview", "keywords", "genres", "cast"))
        lines.append(f"- {m['dataset']}: {m['metadata']} metadata ({', '.join(m['sources'])}) "
                     f"from `{m['folder']}`: {m['n_matched']:,} of {m['n_movies']:,} movies "
                     f"matched" + (f"; with {fields}" if fields else ""))
    for f in header.get("folds", []):
        said = []
        if f.get("among"):
            said.append(f"test items drawn among those with {f['among']} metadata")
        if f.get("candidates") == "test_items":
            said.append("top-N lists rank only the fold's test items")
        if f.get("shuffle_items") is not None:
            said.append(f"item indices permuted (seed {f['shuffle_items']}), so equal "
                        "scores rank in a random order")
        for fold in f.get("folds", []):
            if fold.get("unseen_users") is not None:  # global_temporal's drops
                said.append(f"{fold['name']}: train < {fold.get('t1')} <= validation < "
                            f"{fold.get('t2')} <= test; {fold['dropped_ratings']:,} test "
                            f"ratings dropped ({fold['unseen_users']:,} users and "
                            f"{fold['unseen_items']:,} items unseen in train)")
            if fold.get("cold_users") is not None:
                said.append(f"{fold['name']}: {fold['cold_users']:,} users held out of train, "
                            f"each scored from {fold['n_given']} given ratings folded in")
        if said:
            lines.append(f"- {f['dataset']} · {f['split']}: {'; '.join(said)}")
    return lines


def provenance(header: dict[str, Any]) -> str:
    """Date, machine, commit and command, as Markdown lines."""
    from recsys.bench.environment import machine_line

    lines = [f"Date: {header.get('date')} · machine: {machine_line(header)}",
             f"Commit: `{header.get('git_commit')}` · total run time "
             f"{_fmt(header.get('total_seconds') or float('nan'), 1)} s"]
    if header.get("command"):
        lines.append(f"Command: `{header['command']}`")
    return "  \n".join(lines)


# ---------------------------------------------------------------------- README section
class ReadmeError(RecsysError, ValueError):
    """The README cannot take the results section (missing file or markers)."""


def readme_markers(section: str) -> tuple[str, str]:
    return (f"<!-- results:{section}:start -->", f"<!-- results:{section}:end -->")


def _marker_span(path: Path, text: str, section: str) -> tuple[int, int]:
    start, end = readme_markers(section)
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i:
        missing = start if i < 0 else end
        raise ReadmeError(f"{path}: marker {missing!r} not found (or the end marker comes "
                          f"before the start marker); add both markers where the table goes")
    return i + len(start), j


def check_readme(path: str | Path, section: str) -> None:
    """Raise ReadmeError unless ``path`` exists and holds both markers of ``section``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReadmeError(f"{path}: cannot read ({exc})") from exc
    _marker_span(path, text, section)


def update_readme(path: str | Path, section: str, content: str) -> bool:
    """Replace the text between the ``results:<section>`` markers of ``path`` with ``content``.

    The markers stay; the write is atomic. Returns True if the file changed. Raises
    ReadmeError (a ValueError) naming the file and the marker when a marker is missing or out
    of order.
    """
    path = Path(path)
    check_readme(path, section)
    text = path.read_text(encoding="utf-8")
    i, j = _marker_span(path, text, section)
    new = text[:i] + "\n" + content.strip("\n") + "\n" + text[j:]
    if new == text:
        return False
    atomic_write_text(path, new)
    return True


def readme_section_text(result, config) -> str:
    """What --update-readme puts between the markers: table, date, machine and command."""
    h = result.header
    folds_by_split = {(f["dataset"], f["split"]): [x["name"] for x in f["folds"]]
                      for f in h.get("folds", [])}
    body = results_table(result.rows, k=config.k, reference=config.reference,
                         folds_by_split=folds_by_split, counterparts=config.counterparts)
    body = re.sub(r"^### ", "#### ", body, flags=re.M)
    comp = comparisons_table(result.comparisons)
    if comp:
        body += "\n" + re.sub(r"^### ", "#### ", comp, flags=re.M)
    notes = "\n".join(data_notes(h))
    return (f"_Generated by the benchmark harness; do not edit by hand._  \n"
            f"{provenance(h)}\n\n" + (f"{notes}\n\n" if notes else "") + body)
