"""Work on a Dask cluster: a ``LocalCluster`` of single-threaded worker processes started for
one run, or an existing cluster (``dask scheduler`` / ``dask worker``) reached by its address.

:class:`DaskCluster` starts or connects, decides how many Numba and BLAS threads each task
may use (no oversubscription: workers x threads <= cores on every host unless the caller
asks for more), sends large inputs to the cluster once (:meth:`DaskCluster.share`) and runs
tasks with those threads capped (:func:`run_capped`). :class:`DaskSearch` is the executor
hook of :mod:`recsys.tuning` (one task per candidate and inner fold); the benchmark grid's
executor is :class:`recsys.bench.distributed.DaskCells`.

A task whose worker dies is moved to another worker by Dask's scheduler, up to
``distributed.scheduler.allowed-failures`` times (3 by default), after which its future holds
a ``KilledWorker`` error that the callers report for that task alone. Dask is an optional
dependency (``recsys[dask]``): it is imported only inside the functions that use it.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Callable, Iterator, Sequence

from recsys.errors import RecsysError

__all__ = ["ClusterError", "DaskCluster", "DaskSearch", "TaskQueue", "run_capped",
           "worker_facts"]

#: Thread-count variables a LocalCluster's worker processes start with (Numba's pool size,
#: OpenMP, OpenBLAS, MKL), so their pools are no larger than their share of the cores.
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS")


class ClusterError(RecsysError, RuntimeError):
    """A Dask cluster cannot be started or reached, or was asked for something impossible
    (dask not installed, no scheduler at the address, a worker count below 1)."""


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(
            f"running on a Dask cluster needs dask.distributed, which cannot be imported "
            f"({exc}); install it with: pip install 'recsys[dask]'") from None
    return distributed


def worker_facts() -> dict[str, Any]:
    """What a worker process reports about itself (run on each worker by ``client.run``):
    its host name, the cores it may use, its pid, and whether threadpoolctl (which caps
    BLAS) is importable there."""
    import importlib.util
    import socket

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return {"host": socket.gethostname(), "cores": cores, "pid": os.getpid(),
            "threadpoolctl": importlib.util.find_spec("threadpoolctl") is not None}


def run_capped(n_threads: int, fn: Callable, *args) -> tuple[Any, float]:
    """``(fn(*args), wall seconds)`` with Numba and BLAS limited to ``n_threads`` threads
    (:func:`recsys.threads.thread_limits`): the body of every task recsys sends to Dask."""
    from recsys.threads import thread_limits

    t0 = time.perf_counter()
    with thread_limits(n_threads):
        out = fn(*args)
    return out, time.perf_counter() - t0


class DaskCluster:
    """A Dask client, on a LocalCluster it starts or on an existing cluster.

    Parameters
    ----------
    n_workers : int, optional
        Start a ``LocalCluster`` of this many worker processes, each running one task at a
        time (``threads_per_worker=1``). Exclusive with ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``) to connect to instead.
    task_threads : int, optional
        Numba and BLAS threads of each task. Default: the cores of each host divided by the
        task slots (worker threads) on it, the smallest over the hosts, at least 1. A larger
        value is allowed and logged as oversubscribing.
    log : callable, optional
        Receives one-line notes: the dashboard address or why there is none, an
        oversubscription warning, workers that cannot cap BLAS.
    timeout : float
        Seconds to wait for the scheduler to answer and for its first worker.

    Use it as a context manager. The cluster is started (or reached) when first needed, by
    :meth:`describe`, :meth:`share` or :meth:`submit`, so that a run that stops on a bad
    config never waits for one; :meth:`start` logs a one-line summary and the dashboard
    address. :meth:`close` stops a LocalCluster it started and leaves an existing cluster
    running.
    """

    def __init__(self, n_workers: int | None = None, scheduler: str | None = None,
                 task_threads: int | None = None, log: Callable[[str], None] | None = None,
                 timeout: float = 30.0):
        if (n_workers is None) == (scheduler is None):
            raise ClusterError("give either a number of local Dask workers or the address of "
                               "a scheduler, not " + ("both" if n_workers else "neither"))
        if n_workers is not None and (isinstance(n_workers, bool) or int(n_workers) != n_workers
                                      or n_workers < 1):
            raise ClusterError(f"the number of Dask workers must be an integer >= 1, got "
                               f"{n_workers!r}")
        if task_threads is not None and (isinstance(task_threads, bool)
                                         or int(task_threads) != task_threads
                                         or task_threads < 1):
            raise ClusterError(f"the threads per task must be an integer >= 1, got "
                               f"{task_threads!r}")
        self.n_workers = None if n_workers is None else int(n_workers)
        self.scheduler = scheduler
        self.requested_threads = None if task_threads is None else int(task_threads)
        self.log = log or (lambda line: None)
        self.timeout = float(timeout)
        self.client = None
        self.cluster = None
        self.task_threads: int | None = None
        self._info: dict[str, Any] = {}
        self._dashboard: str | None = None
        self._run_id = uuid.uuid4().hex[:8]
        self._count = 0

    # ------------------------------------------------------------------ life cycle
    def __enter__(self) -> "DaskCluster":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def start(self) -> "DaskCluster":
        """Start the LocalCluster or connect; wait for a worker; decide the task threads.
        Does nothing when already started."""
        if self.client is not None:
            return self
        distributed = _import_distributed()
        from recsys.bench.environment import usable_cores

        if self.n_workers is not None:
            import dask

            cores = usable_cores()
            threads = self.requested_threads or max(1, cores // self.n_workers)
            # Dask's nanny exports OMP/MKL/OPENBLAS = 1 into ITS OWN environment before it
            # spawns a worker (in this process for a LocalCluster); ours go to the workers
            # alone, through env=.
            pre_spawn = {k: v for k, v in
                         dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                         if k not in THREAD_VARS}
            dashboard = ":8787" if _has_bokeh() else None
            try:
                with dask.config.set({"distributed.nanny.pre-spawn-environ": pre_spawn}):
                    self.cluster = distributed.LocalCluster(
                        n_workers=self.n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=dashboard,
                        env={k: str(threads) for k in THREAD_VARS})
                self.client = distributed.Client(self.cluster)
            except Exception as exc:
                self.close()
                raise ClusterError(f"cannot start a Dask LocalCluster of {self.n_workers} "
                                   f"workers: {type(exc).__name__}: {exc}") from exc
        else:
            try:
                self.client = distributed.Client(self.scheduler, timeout=self.timeout)
            except Exception as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {self.scheduler!r} "
                                   f"within {self.timeout:g} s: {type(exc).__name__}: "
                                   f"{exc}") from None
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except Exception:
            address = self.client.scheduler.address
            self.close()
            raise ClusterError(f"the Dask scheduler at {address} has no worker after "
                               f"{self.timeout:g} s; start some with: dask worker "
                               f"{address}") from None
        self._describe()
        self.log(self.summary())
        if self.dashboard:
            self.log(f"Dask dashboard: {self.dashboard}")
        elif self.n_workers is not None:
            self.log("no Dask dashboard: bokeh is not installed (pip install bokeh)")
        else:
            self.log("no Dask dashboard: the scheduler serves none (it needs bokeh)")
        return self

    def close(self) -> None:
        """Close the client; stop the LocalCluster if this object started it."""
        for obj in (self.client, self.cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # already gone: nothing left to release
                    pass
        self.client = self.cluster = None

    # ------------------------------------------------------------------ facts
    def _describe(self) -> None:
        import distributed

        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        facts = self.client.run(worker_facts, on_error="return")
        try:  # the HTTP server runs without bokeh too, but serves no dashboard then
            bokeh = self.client.run_on_scheduler(  # by value: the scheduler may lack recsys
                lambda: __import__("importlib.util").util.find_spec("bokeh") is not None)
        except Exception:  # the scheduler refuses to run code: trust its services
            bokeh = True
        self._dashboard = (self.client.dashboard_link
                           if bokeh and "dashboard" in info.get("services", {}) else None)
        hosts: dict[str, dict[str, int]] = {}
        rows, no_ctl = [], []
        for addr, w in sorted(workers.items()):
            f = facts.get(addr)
            f = f if isinstance(f, dict) else {"host": w.get("host"), "cores": None,
                                               "threadpoolctl": None}
            h = hosts.setdefault(str(f["host"]), {"workers": 0, "threads": 0, "cores": 0})
            h["workers"] += 1
            h["threads"] += int(w.get("nthreads", 1))
            h["cores"] = max(h["cores"], int(f.get("cores") or 0))
            rows.append({"address": addr, "host": f["host"], "nthreads": w.get("nthreads"),
                         "cores": f.get("cores")})
            if f.get("threadpoolctl") is False:
                no_ctl.append(addr)
        fair = min((max(1, h["cores"] // max(1, h["threads"])) for h in hosts.values()
                    if h["cores"]), default=1)
        self.task_threads = self.requested_threads or fair
        for name, h in hosts.items():
            if h["cores"] and h["threads"] * self.task_threads > h["cores"]:
                self.log(f"warning: {h['threads']} Dask task slot(s) x {self.task_threads} "
                         f"thread(s) on {name} exceed its {h['cores']} cores: the tasks will "
                         f"compete for them and fit times will grow")
        if no_ctl:
            self.log(f"warning: threadpoolctl is not installed on {len(no_ctl)} worker(s) "
                     f"({', '.join(no_ctl[:3])}): their BLAS threads are not capped")
        nthreads = sorted({r["nthreads"] for r in rows})
        self._info = {
            "engine": "dask",
            "kind": "LocalCluster" if self.n_workers is not None else "existing",
            "address": info.get("address") or self.client.scheduler.address,
            "dashboard": self.dashboard,
            "n_workers": len(rows),
            "threads_per_worker": nthreads[0] if len(nthreads) == 1 else nthreads,
            "task_threads": self.task_threads,
            "blas_capped": not no_ctl,
            "hosts": [{"host": k, **v} for k, v in sorted(hosts.items())],
            "workers": rows,
            "dask_version": distributed.__version__,
        }

    @property
    def dashboard(self) -> str | None:
        """The dashboard's URL, or None when the scheduler serves none (not started yet,
        or bokeh missing there)."""
        return self._dashboard

    def describe(self) -> dict[str, Any]:
        """The results header's record of the cluster: ``engine``, ``kind``
        (``"LocalCluster"`` or ``"existing"``), ``address``, ``dashboard``, ``n_workers``,
        ``threads_per_worker`` (Dask task slots per worker), ``task_threads`` (Numba and
        BLAS threads of each task), ``blas_capped``, ``hosts`` (``host``, ``workers``,
        ``threads``, ``cores``), ``workers`` (``address``, ``host``, ``nthreads``,
        ``cores``), ``dask_version``: as found when the cluster started (starts it)."""
        self.start()
        return dict(self._info)

    def summary(self) -> str:
        """One line: ``Dask LocalCluster tcp://... : 2 workers x 1 slot, 1 thread per task``."""
        i = self._info
        return (f"Dask {i['kind']} {i['address']}: {i['n_workers']} worker(s) x "
                f"{i['threads_per_worker']} task slot(s), {i['task_threads']} Numba/BLAS "
                f"thread(s) per task")

    # ------------------------------------------------------------------ work
    def share(self, objects: Sequence[Any], name: str = "data") -> list:
        """Send each object to the cluster once; returns one future per object, to pass to
        :meth:`submit` in place of the object. A worker fetches it once, from a peer, and
        keeps it while the future lives.

        Not ``client.scatter``: scattered data has no recipe, so if every worker holding it
        dies (each worker of a small cluster restarted once, say) Dask forgets it and
        cancels every task still to use it. Here each object is the result of a task
        whose recipe holds it (on the scheduler, once), so Dask computes it again and the
        tasks that need it wait instead of failing.
        """
        import warnings

        self.start()
        out = []
        for obj in objects:
            self._count += 1
            with warnings.catch_warnings():  # "large graph": holding the data is the point
                warnings.simplefilter("ignore", UserWarning)
                out.append(self.client.submit(_hold, obj, pure=False,
                                              key=f"recsys-{name}-{self._run_id}-{self._count}"))
        return out

    def submit(self, name: str, fn: Callable, *args):
        """Run ``fn(*args)`` as one task under :func:`run_capped`; the future's result is
        ``(value, seconds)``. ``name`` becomes part of the task's key (seen on the
        dashboard)."""
        self.start()
        self._count += 1
        key = f"recsys-{name}-{self._run_id}-{self._count}"
        return self.client.submit(run_capped, self.task_threads, fn, *args, key=key,
                                  pure=False)


class TaskQueue:
    """Tasks for a :class:`DaskCluster`, handed to Dask no faster than the cluster has task
    slots (the sum of its workers' threads, read again as tasks finish).

    Dask marks every task assigned to a worker that dies as suspicious, running or not,
    and gives up on a task after ``allowed-failures`` such deaths (``KilledWorker``). With
    a whole grid submitted at once, each worker would hold dozens of assigned cells, and a
    few deaths would fail innocent ones; with one task per slot, only the tasks that were
    running are marked. The cells are long (seconds to minutes), so the round trip between
    one task's end and the next one's start costs nothing measurable.
    """

    def __init__(self, cluster: DaskCluster):
        self.cluster = cluster
        self._waiting: list[tuple[Any, str, Callable, tuple]] = []
        self._tags: dict[Any, Any] = {}  # future -> its tag
        self._running = None  # an as_completed, made once the cluster runs

    def put(self, tag, name: str, fn: Callable, *args) -> None:
        """Queue ``fn(*args)``; an argument may be a future (:meth:`DaskCluster.share`), and
        the task receives its value."""
        self._waiting.append((tag, name, fn, args))

    def __len__(self) -> int:
        return len(self._waiting) + len(self._tags)

    def _top_up(self) -> None:
        if not self._waiting:
            return
        if self._running is None:
            from distributed import as_completed

            self.cluster.start()
            self._running = as_completed()
        slots = max(1, sum(self.cluster.client.nthreads().values()))
        while self._waiting and len(self._tags) < slots:
            tag, name, fn, args = self._waiting.pop(0)
            fut = self.cluster.submit(name, fn, *args)
            self._tags[fut] = tag
            self._running.add(fut)

    def done(self, block: bool = True) -> Iterator[tuple[Any, Any, float | None,
                                                         BaseException | None]]:
        """``(tag, value, seconds, None)`` per finished task, or ``(tag, None, None,
        error)`` for a task that did not return (its workers died: ``KilledWorker``), in
        the order they finish; all of them when ``block``, else those finished now."""
        while self._waiting or self._tags:
            self._top_up()
            if not block and not self._running.has_ready():
                return
            for fut in self._running.next_batch(block=True):
                tag = self._tags.pop(fut)
                try:
                    value, seconds = fut.result()
                except Exception as exc:
                    fut.release()
                    yield tag, None, None, exc
                else:
                    fut.release()
                    yield tag, value, seconds, None
                self._top_up()


def _hold(obj):
    """The task whose result is ``obj`` itself (:meth:`DaskCluster.share`)."""
    return obj


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


# ---------------------------------------------------------------------- tuning
def _cv_task(cls, params: dict, fold, metric: str, k: int, relevance_threshold: float):
    from recsys.tuning import cross_validate

    return cross_validate(cls, fold.train, params, [fold], metric, k, relevance_threshold)


class DaskSearch:
    """The executor hook of :mod:`recsys.tuning`: one task per (candidate, inner fold).

    ``cross_validate(cls, base, candidates, folds, metric, k, relevance_threshold,
    progress)`` returns what the serial search builds, one dict per candidate in order
    (:func:`recsys.tuning.cross_validate`'s keys, ``params`` the candidate alone): the inner
    folds are sent once (:meth:`DaskCluster.share`), and the per-fold values are combined
    in fold order exactly as the serial loop does, so the means and the winner equal the
    serial search's. A candidate is reported failed with its first failing fold's error,
    and with the values of the folds before it, as serially; a task whose workers all died
    is such an error (``KilledWorker: ...``).
    """

    def __init__(self, cluster: DaskCluster):
        self.cluster = cluster

    def cross_validate(self, cls, base: dict, candidates: list[dict], folds: list,
                       metric: str, k: int, relevance_threshold: float,
                       progress: bool = False) -> list[dict[str, Any]]:
        import numpy as np

        shared = self.cluster.share(folds, f"folds-{cls.__name__}")
        queue = TaskQueue(self.cluster)
        for ci, cand in enumerate(candidates):
            for fi, fold in enumerate(shared):
                queue.put((ci, fi), f"tune-{cls.__name__}", _cv_task, cls, {**base, **cand},
                          fold, metric, k, relevance_threshold)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(queue), desc=f"tune {cls.__name__}", unit="fit")
        parts: dict[tuple[int, int], dict] = {}
        try:
            for tag, value, _, error in queue.done():
                parts[tag] = value if error is None else {  # its workers died
                    "folds": [], "fit_seconds": 0.0, "error": _one_line(error)}
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        scores = []
        for ci, cand in enumerate(candidates):
            values, fit_seconds, error = [], 0.0, None
            for fi in range(len(folds)):
                p = parts[(ci, fi)]
                fit_seconds += p["fit_seconds"]
                if p["error"] is not None:
                    error = p["error"]
                    break
                values.extend(p["folds"])
            if error is None:
                v = np.asarray(values, dtype=np.float64)
                mean = float(v.mean())
                std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
                folds_out: list = v.tolist()
            else:
                mean = std = float("nan")
                folds_out = values
            scores.append({"params": dict(cand), "mean": mean, "std": std,
                           "folds": folds_out, "fit_seconds": fit_seconds, "error": error})
        return scores


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
