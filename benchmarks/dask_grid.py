#!/usr/bin/env python
"""The benchmark grid serially and on a Dask LocalCluster: wall time, speed-up, same rows.

    python benchmarks/dask_grid.py                       # ml100k-rating, 2 workers, once
    python benchmarks/dask_grid.py --workers 2 --repeats 3 --out results/dask_grid.json

Runs the config's whole grid with :func:`recsys.bench.run_benchmark` in this process (the
serial path, every core to Numba) and on a ``LocalCluster`` of ``--workers`` single-threaded
worker processes (each task with cores / workers Numba and BLAS threads), ``--repeats``
times each, interleaved (serial, Dask, serial, Dask, ...), and prints:

- the wall time of each run (the grid itself; the cluster's start-up is timed apart and
  added in the "with start-up" speed-up), their medians and the speed-up serial / Dask;
- the check that the two runs' rows agree: every field but the timings equal (numbers to
  1e-12), per model, with the largest difference of each metric;
- the machine: CPU model, cores, load average before and after, versions, commit.

Not a test (the machine's load moves the times); the figures go to the README by hand.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time


def _rows_agree(a: list[dict], b: list[dict], tol: float = 1e-12) -> tuple[list[str], dict]:
    """(problems, largest |difference| per numeric field) between two runs' rows."""
    from recsys.bench.cell import TIME_KEYS

    problems, worst = [], {}
    if len(a) != len(b):
        problems.append(f"{len(a)} rows serially, {len(b)} on Dask")
    for ra, rb in zip(a, b):
        where = f"{ra['model']} {ra['dataset']} {ra['fold']}"
        if (ra["model"], ra["fold"]) != (rb["model"], rb["fold"]):
            problems.append(f"row order differs at {where}")
            continue
        if ra.keys() != rb.keys():
            problems.append(f"{where}: fields differ ({sorted(set(ra) ^ set(rb))})")
        for key in ra:
            if key in TIME_KEYS or key not in rb:
                continue
            x, y = ra[key], rb[key]
            if isinstance(x, float) and isinstance(y, float):
                if math.isnan(x) and math.isnan(y):
                    continue
                d = abs(x - y)
                worst[key] = max(worst.get(key, 0.0), d)
                if not d <= tol:
                    problems.append(f"{where}: {key} {x!r} serially, {y!r} on Dask")
            elif x != y:
                problems.append(f"{where}: {key} {x!r} serially, {y!r} on Dask")
    return problems, worst


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/dask_grid.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="ml100k-rating", metavar="NAME|FILE")
    parser.add_argument("--workers", type=int, default=2, metavar="N")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="interleaved serial/Dask pairs (medians reported)")
    parser.add_argument("--data-dir", default=None, metavar="DIR")
    parser.add_argument("--out", default=None, metavar="FILE.json",
                        help="also write the figures as JSON")
    args = parser.parse_args(argv)

    from recsys.bench import load_config, run_benchmark, shipped_config
    from recsys.bench.distributed import DaskCells
    from recsys.bench.environment import collect_environment
    from recsys.distributed import DaskCluster

    config = load_config(shipped_config(args.config))
    env = collect_environment()
    load_before = _load()
    print(f"config {config.name}: {config.source}")
    print(f"machine: {env['cpu']}, {env['cores']} cores, numba {env['versions']['numba']} "
          f"({env['numba_threads']} threads), Python {env['python']}, commit "
          f"{env['git_commit']}")
    print(f"load average before: {load_before}")
    quiet = lambda line: None  # noqa: E731

    serial_s, dask_s, start_s, results = [], [], [], {}
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        results["serial"] = run_benchmark(config, data_dir=args.data_dir, progress=False,
                                          log=quiet)
        serial_s.append(time.perf_counter() - t0)
        print(f"[{rep + 1}/{args.repeats}] serial: {serial_s[-1]:.1f} s "
              f"(load {_load()})", flush=True)

        t0 = time.perf_counter()
        with DaskCluster(n_workers=args.workers, log=quiet, timeout=120) as cluster:
            cluster.start()
            start_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            results["dask"] = run_benchmark(config, data_dir=args.data_dir, progress=False,
                                            log=quiet, executor=DaskCells(cluster))
            dask_s.append(time.perf_counter() - t0)
            summary = cluster.summary()
        print(f"[{rep + 1}/{args.repeats}] Dask: {dask_s[-1]:.1f} s + {start_s[-1]:.1f} s "
              f"cluster start-up (load {_load()}); {summary}", flush=True)

    serial, spread = results["serial"], results["dask"]
    problems, worst = _rows_agree(serial.rows, spread.rows)
    errors = [r for r in serial.rows + spread.rows if r["status"] != "ok"]
    med = {"serial": statistics.median(serial_s), "dask": statistics.median(dask_s),
           "start": statistics.median(start_s)}
    speedup = med["serial"] / med["dask"]
    speedup_start = med["serial"] / (med["dask"] + med["start"])
    load_after = _load()

    print()
    print(f"cells: {len(serial.rows)} ({len({r['model'] for r in serial.rows})} models); "
          f"error rows: {len(errors)}")
    print(f"serial wall (median of {args.repeats}): {med['serial']:.1f} s")
    print(f"Dask {args.workers} workers wall (median): {med['dask']:.1f} s, "
          f"cluster start-up {med['start']:.1f} s")
    print(f"speed-up serial / Dask: {speedup:.2f}x ({speedup_start:.2f}x with start-up)")
    print(f"rows agree (every non-timing field, numbers to 1e-12): "
          f"{'yes' if not problems else 'NO'}")
    for p in problems[:20]:
        print(f"  {p}")
    if worst:
        print("largest |serial - Dask| per metric: " + ", ".join(
            f"{k} {v:.1e}" for k, v in sorted(worst.items())))
    print(f"load average after: {load_after}")

    if args.out:
        from recsys.io import atomic_write_json

        atomic_write_json(args.out, {
            "config": config.name, "workers": args.workers, "repeats": args.repeats,
            "serial_seconds": serial_s, "dask_seconds": dask_s, "start_seconds": start_s,
            "speedup": speedup, "speedup_with_start": speedup_start,
            "rows_agree": not problems, "problems": problems, "max_abs_diff": worst,
            "cells": len(serial.rows), "error_rows": len(errors),
            "cluster": spread.header["cluster"], "load_before": load_before,
            "load_after": load_after, "environment": env}, indent=1)
        print(f"wrote {args.out}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
