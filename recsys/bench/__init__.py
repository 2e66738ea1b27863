"""The benchmark harness: our models and the reference libraries, side by side, in one command.

``recsys bench --config NAME|FILE --out DIR`` (and ``python benchmarks/run.py``, the same
code) reads a TOML config (:mod:`recsys.bench.config`; a bare NAME is one of the configs that
ship in :mod:`recsys.bench.configs`, listed by ``recsys bench --list``), runs the grid data
sets x splits x models x metrics in one process (:mod:`recsys.bench.runner`), the reference
libraries through thin adapters (:mod:`recsys.bench.adapters`) scored by our own metric code,
and writes:

- ``DIR/results.md`` (also printed): per model and data set, the mean and 95% CI over folds
  of every metric, fit/predict seconds, the fit speed-up against a reference model, and paired
  comparisons (:mod:`recsys.bench.report`);
- ``DIR/results.json`` (schema below);
- ``DIR/*.png``: accuracy vs fit time, learning curves, top-N bars (:mod:`recsys.bench.plots`).

results.json schema (version 1)
-------------------------------
A JSON object with four keys. Numbers that could not be measured are ``null``.

``header`` (object): how and where the run was made.
    ``schema_version`` (1), ``config`` (config name), ``config_file``, ``description``,
    ``command`` (the command line), ``date`` (ISO 8601, UTC), ``git_commit`` (``+dirty``
    when the tree had changes), ``python``, ``platform``, ``cpu`` (model name from
    /proc/cpuinfo), ``cores`` (usable by the process), ``numba_threads``, ``thread_env``
    (thread-count environment variables that were set), ``versions`` (library -> version or
    null: recsys, numpy, numba, scipy, pandas, scikit-surprise, implicit, scikit-learn,
    matplotlib, tqdm), ``k`` (top-N cut-off), ``relevance_threshold``, ``reference`` (label of
    the speed-ratio reference), ``memory_method`` (``"vmhwm"`` or ``"ru_maxrss"``, see
    :mod:`recsys.bench.runner`), ``folds`` (list, one per data set and split: ``dataset``,
    ``split``, ``spec`` (the split's config), ``n_users``, ``n_items``, ``n_ratings``,
    ``folds``: list of ``{name, n_train, n_test, digest}``; every model of the run used
    exactly these folds), ``skipped`` (list of ``{model | dataset, reason}``: what did not
    run and why), ``cluster`` (null for a serial run; on Dask, ``recsys bench
    --dask-workers/--scheduler``: ``engine``, ``kind``, ``address``, ``dashboard``,
    ``n_workers``, ``threads_per_worker``, ``task_threads``, ``blas_capped``, ``hosts``,
    ``workers``, ``dask_version``, see :meth:`recsys.distributed.DaskCluster.describe`),
    ``total_seconds``.

``rows`` (list of flat objects): one per (dataset, split, fold, model, library).
    ``dataset``, ``split``, ``fold`` (e.g. ``"u1"``, ``"holdout"``), ``model`` (the label,
    unique in the run), ``name`` (class or adapter name), ``library`` (``"recsys"``,
    ``"surprise"``, ``"implicit"``), ``status`` (``"ok"`` or ``"error"``), ``error`` (one
    line or null), ``n_train``, ``n_test`` (ratings); rating protocol: ``rmse``, ``mae``
    (null for models that do not predict ratings or when the config asks for none);
    top-N protocol: ``n_topn_users`` (users with a relevant test item), ``precision@10``,
    ``recall@10``, ``ndcg@10`` (always, when top-N runs) and any of ``map@10``, ``hit@10``,
    ``mrr`` the config asks for, ``coverage`` (share of the catalogue recommended),
    ``novelty`` (mean self-information of the recommended items, bits); timings:
    ``fit_seconds`` (excluding ``convert_seconds``), ``predict_seconds`` (predicting the test
    ratings), ``topn_seconds`` (the model's scoring during the top-N evaluation),
    ``convert_seconds`` (adapters only: our Dataset -> the library's structure, else null),
    ``warmup_seconds`` (our models: the first fit on a small slice, JIT compile included;
    the same value on each of the model's rows), ``fit_peak_mb`` (peak resident memory
    during the fit above the memory before it, MiB), ``convert_peak_mb`` (adapters only: the
    same for the conversion); a peer's ``startup_seconds`` and ``n_fallback`` (test pairs it
    could not score, given our fallback) where it reports them; and ``params`` (object: the
    model's hyperparameters, defaults included).

``curves`` (list): learning curves of models that record per-epoch RMSE, from an untimed
    extra fit on the first fold of each split with the test part as ``eval_set``:
    ``dataset``, ``split``, ``fold``, ``model``, ``train_rmse`` (list), ``eval_rmse`` (list).

``comparisons`` (list): paired tests on the config's ``paired`` metrics, of each of our
    models against the reference and of each model against the ``counterpart`` it names,
    plus every ``[[compare]]`` pair: ``dataset``, ``split``, ``a``, ``b``,
    ``metric``, ``lower_is_better``, ``folds`` (common fold names), ``mean_a``, ``mean_b``,
    ``mean_diff`` (a - b), ``folds_t_pvalue``, ``folds_wilcoxon_pvalue``, ``n_users``
    ((fold, user) pairs), ``users_mean_diff``, ``users_t_pvalue``, ``users_wilcoxon_pvalue``.

Read it with pandas: ``pd.DataFrame(json.load(open("results.json"))["rows"])``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from recsys.bench.config import BenchConfig, ConfigError, load_config, parse_config
from recsys.bench.configs import CONFIG_DIR, shipped_config, shipped_configs
from recsys.bench.runner import BenchResult, run_benchmark, write_results

__all__ = ["BenchConfig", "BenchResult", "ConfigError", "load_config", "parse_config",
           "run_benchmark", "write_results", "run_and_write", "shipped_config",
           "shipped_configs", "CONFIG_DIR"]

def run_and_write(config_path: str | Path, out_dir: str | Path, data_dir=None,
                  progress: bool = True, plots: bool = True, readme: str | Path | None = None,
                  command: str | None = None, log: Callable[[str], None] | None = None,
                  executor=None) -> tuple[BenchResult, str, dict]:
    """Load a config, run it, write results.json/results.md/PNGs into ``out_dir``.

    With ``readme``, also rewrite that file's ``results:<readme_section>`` section.
    ``executor``: where the cells run (:func:`recsys.bench.runner.run_benchmark`).
    Returns (result, markdown, {"json": path, "markdown": path, "plots": [paths],
    "readme": path or None}).
    """
    from recsys.bench.report import (check_readme, readme_section_text, render_markdown,
                                     update_readme)

    config = load_config(shipped_config(config_path))
    if readme is not None:  # fail before the run, not after it
        if not config.readme_section:
            raise ConfigError(config.source, "bench.readme_section",
                              "missing: --update-readme needs the name of the README section")
        check_readme(readme, config.readme_section)
    result = run_benchmark(config, data_dir=data_dir, progress=progress, log=log,
                           command=command, executor=executor)
    markdown = render_markdown(result, config)
    paths = dict(write_results(result, out_dir, markdown))
    paths["plots"] = []
    if plots:
        from recsys.bench.plots import write_plots

        paths["plots"] = write_plots(result, out_dir, k=config.k)
    paths["readme"] = None
    if readme is not None:
        update_readme(readme, config.readme_section, readme_section_text(result, config))
        paths["readme"] = Path(readme)
    return result, markdown, paths
