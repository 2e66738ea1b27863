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
