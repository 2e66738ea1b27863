"""Peak resident memory of a block of code (the bench's ``fit_peak_mb``), as the runner's
docstring describes: the kernel's high-water mark reset before and read after, or the growth
of ``ru_maxrss`` where that is unavailable."""

from __future__ import annotations

import gc
import resource


def _rss_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # 5: reset the peak resident set size (Linux >= 4.0)
        return True
    except OSError:
        return False


def memory_method() -> str:
    """``"vmhwm"`` where the peak RSS can be reset and read, else ``"ru_maxrss"``."""
    return "vmhwm" if _reset_peak() and _rss_kib("VmHWM") is not None else "ru_maxrss"


_LIBC = None


def _malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so the RSS baseline holds live data only.

    Without it, memory an earlier model freed but the allocator kept counts in the baseline,
    and the next model's peak above it is understated.
    """
    global _LIBC
    try:
        if _LIBC is None:
            import ctypes
            import ctypes.util

            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        _LIBC = False  # not glibc: nothing to trim


class PeakMemory:
    """Peak resident memory inside a ``with`` block, in MiB above the RSS at entry."""

    def __init__(self, method: str):
        self.method = method
        self.peak_mb: float | None = None

    def __enter__(self):
        gc.collect()
        _malloc_trim()
        if self.method == "vmhwm":
            _reset_peak()
            self._base = _rss_kib("VmRSS")
        else:
            self._base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc):
        if self.method == "vmhwm":
            peak = _rss_kib("VmHWM")
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if peak is not None and self._base is not None:
            self.peak_mb = max(0.0, (peak - self._base) / 1024.0)
        return False


