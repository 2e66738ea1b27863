"""Thread counts change only inside a context manager that restores them (STYLE.md, 5)."""

from __future__ import annotations

from contextlib import contextmanager

import numba


@contextmanager
def numba_threads(n_threads: int | None):
    """Run the block with ``n_threads`` Numba threads, then restore the previous count.

    ``None`` leaves the count as it is. The count is capped to ``[1, NUMBA_NUM_THREADS]``
    (the pool size). Restored on error too. Yields the count in effect.
    """
    previous = numba.get_num_threads()
    try:
        if n_threads is not None:
            numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
        yield numba.get_num_threads()
    finally:
        numba.set_num_threads(previous)


#: Below about this much work (inner-loop multiply-adds: ratings * (k+1)^2 Gram updates for an
#: ALS half-sweep, ratings * k for the SVD++ helper kernels) a job runs on one thread: a Numba
#: parallel region costs tens of microseconds to start, far more when the cores are busy,
#: which dominates tiny problems.
PARALLEL_MIN_WORK = 2_000_000


def threads_for(work: float, parallel: bool = True) -> int:
    """Numba threads worth using for a job of ``work`` units whose result does not depend
    on the thread count: Numba's current count when ``parallel`` and ``work`` reaches
    :data:`PARALLEL_MIN_WORK` (read at call time), else 1."""
    if parallel and work >= PARALLEL_MIN_WORK:
        return numba.get_num_threads()
    return 1


@contextmanager
def thread_limits(n_threads: int | None):
    """Run the block with at most ``n_threads`` Numba threads (this thread) and BLAS/OpenMP
    threads (the process, through threadpoolctl), then restore both. ``None`` leaves both
    alone. Yields whether BLAS was capped: False where threadpoolctl is not installed (the
    caller says so; it is in the ``dask`` and ``serve`` extras)."""
    with numba_threads(n_threads):
        if n_threads is None:
            yield False
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield False
            return
        with threadpool_limits(limits=max(1, int(n_threads))):
            yield True


def free_cores(samples: int = 3) -> int:
    """Cores this process can expect to have to itself now: the cores it may run on
    (``sched_getaffinity``) minus the other runnable threads on the machine, at least 1.

    The count of runnable threads is the instantaneous one of ``/proc/loadavg`` (its fourth
    field, ``running/total``; the one-minute load average lags a busy spell by a minute),
    minus this thread; the smallest of ``samples`` reads 0.2 ms apart, so a daemon waking
    for a moment does not count. Where ``/proc/loadavg`` is unreadable: every core.
    """
    import os
    import time

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    others = None
    for j in range(max(1, samples)):
        try:
            with open("/proc/loadavg", encoding="ascii") as fh:
                running = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return cores
        others = running - 1 if others is None else min(others, running - 1)
        if j + 1 < samples:
            time.sleep(0.0002)
    return max(1, cores - max(0, others))


class FasterKernel:
    """Picks, epoch by epoch, the faster of a parallel kernel and its serial twin, by the
    wall time each last took, for loops whose result is the same on either (FunkSVD's
    strata).

    The first epoch runs parallel, the second serial; then the faster of the two, the
    other retried every ``probe_every`` epochs, since the load of a shared machine moves
    (on an idle 2-core Xeon the parallel strata epoch of ML-100K took 1.27x the serial one,
    on an idle 2-core EPYC 0.75x; under two busy processes the parallel one 10x). With
    ``parallel_ok=False`` it always answers serial, with ``adaptive=False`` always parallel
    (when allowed: the user asked for a thread count).

    Use: ``parallel = chooser.next()``, run the epoch, ``chooser.record(parallel, seconds)``.
    ``chosen`` lists the answers (True: parallel).
    """

    def __init__(self, parallel_ok: bool = True, adaptive: bool = True, probe_every: int = 8):
        self.parallel_ok = bool(parallel_ok)
        self.adaptive = bool(adaptive)
        self.probe_every = max(2, int(probe_every))
        self.seconds: dict[bool, float | None] = {True: None, False: None}
        self.chosen: list[bool] = []

    def next(self) -> bool:
        if not self.parallel_ok:
            return False
        if not self.adaptive or self.seconds[True] is None:
            return True
        if self.seconds[False] is None:
            return False
        faster = self.seconds[True] <= self.seconds[False]
        if len(self.chosen) % self.probe_every == 0:
            return not faster
        return faster

    def record(self, parallel: bool, seconds: float) -> None:
        self.seconds[bool(parallel)] = float(seconds)
        self.chosen.append(bool(parallel))
