"""What every peer adapter shares: the Recommender shell, the conversion step kept out of
``fit``, id maps, the one-BLAS-thread block."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from recsys.dataset import Dataset
from recsys.models.base import Recommender


class PeerAdapter(Recommender):
    """A peer library's model behind the Recommender API.

    Converting our :class:`~recsys.dataset.Dataset` into the library's own structure is a
    separate step, :meth:`prepare`, which the bench cell runs *before* the timed and
    memory-measured ``fit`` (a user of the library would load the data into its structure
    directly, as our models get theirs ready-made). ``fit`` uses the prepared structure when
    it is given the same Dataset object; otherwise it converts inside ``fit`` (then the
    conversion is in whatever times ``fit``). ``convert_seconds_`` records the conversion
    either way.
    """

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

    # ------------------------------------------------------------------ conversion
    def _convert(self, train: Dataset) -> Any:
        """``train`` in the library's own structure (what ``_fit`` hands the library)."""
        raise NotImplementedError

    def prepare(self, train: Dataset) -> "PeerAdapter":
        """Convert ``train`` now, so that ``fit(train)`` (same object) does no conversion."""
        t0 = time.perf_counter()
        converted = self._convert(train)
        self.convert_seconds_ = time.perf_counter() - t0
        self._prepared = (train, converted)
        return self

    def _converted(self, train: Dataset) -> Any:
        """The prepared structure for ``train`` (and forget it), or a fresh conversion."""
        prepared = getattr(self, "_prepared", None)
        self._prepared = None
        if prepared is not None and prepared[0] is train:
            return prepared[1]
        t0 = time.perf_counter()
        converted = self._convert(train)
        self.convert_seconds_ = time.perf_counter() - t0
        return converted

    def __getstate__(self):  # the prepared copy of the data is not part of the model
        state = dict(self.__dict__)
        state.pop("_prepared", None)
        return state


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
