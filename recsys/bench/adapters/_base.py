"""What every peer adapter shares: the Recommender shell, id maps, the one-BLAS-thread block."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from recsys.models.base import Recommender


class PeerAdapter(Recommender):
    library: ClassVar[str] = ""

    def __init__(self, algorithm: str, params: dict[str, Any] | None = None):
        self.algorithm = algorithm
        self.params = dict(params or {})

    def effective_params(self) -> dict[str, Any]:
        """The keyword arguments the library's class receives (ours + the defaults we set)."""
        return dict(self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.effective_params().items())
        return f"{self.library}.{self.algorithm}({args})"


def inner_map(raw2inner: dict, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    if raw2inner:
        raw = np.fromiter(raw2inner.keys(), dtype=np.int64, count=len(raw2inner))
        inner = np.fromiter(raw2inner.values(), dtype=np.int64, count=len(raw2inner))
        out[raw] = inner
    return out


class blas_one_thread:
    """Limit BLAS to one thread inside the block (implicit's advice), if threadpoolctl exists."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
            self._ctx = threadpool_limits(1, "blas")
        except ImportError:
            self._ctx = None
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.restore_original_limits()
        return False
