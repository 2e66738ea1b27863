"""Writing a Dataset as Parquet, for Spark (``recsys train --engine spark``) or any other
engine that reads it: ``DIR/ratings/part-NNNNN.parquet`` plus ``DIR/dataset.json``.

The ratings folder holds the columns ``user`` and ``item`` (raw ids, as in the release),
``rating`` (float32) and ``timestamp`` (int64 seconds), in row groups of at most
``rows_per_file`` rows per file, so a reader can split the work by file. ``dataset.json``
(beside the folder: Spark and pyarrow read every file in the folder) records the name,
counts and rating scale. Both are written atomically: the folder is built under a
temporary name and renamed into place, replacing an older export of the same name only once
the new one is complete. pyarrow is imported only here (the ``spark`` extra).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from recsys.dataset import Dataset
from recsys.io import atomic_write_json

__all__ = ["export_parquet", "RATINGS_FOLDER", "DATASET_FILE"]

RATINGS_FOLDER = "ratings"
DATASET_FILE = "dataset.json"


def _id_column(ids: np.ndarray, codes: np.ndarray):
    import pyarrow as pa

    raw = np.asarray(ids)[codes]
    if raw.dtype == object:
        raw = raw.astype(str)
    return pa.array(raw)


def export_parquet(ds: Dataset, out: str | os.PathLike, rows_per_file: int = 1 << 23,
                   compression: str = "zstd") -> Path:
    """Write ``ds`` under the folder ``out`` (created if needed); returns the ratings folder.

    Parameters
    ----------
    ds : Dataset
        Any data set: a release, a split's part, a synthetic set.
    out : path
        The export folder: ``out/ratings/`` and ``out/dataset.json`` are (re)written; nothing
        else in it is touched.
    rows_per_file : int
        Ratings per Parquet file (the last file holds the rest). Memory use is about
        ``rows_per_file`` x 24 bytes, whatever the data set's size.
    compression : str
        Parquet codec (pyarrow's names: "zstd", "snappy", "none", ...).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(f"writing Parquet needs pyarrow ({exc}); install recsys[spark]") \
            from None
    rows_per_file = int(rows_per_file)
    if rows_per_file < 1:
        raise ValueError(f"rows_per_file must be >= 1, got {rows_per_file}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / RATINGS_FOLDER
    tmp = Path(tempfile.mkdtemp(prefix=f".{RATINGS_FOLDER}.{os.getpid()}.", dir=out))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp's 0700 would hide the export from a cluster
    try:
        n = ds.n_ratings
        starts = range(0, n, rows_per_file) if n else [0]
        for part, start in enumerate(starts):
            stop = min(start + rows_per_file, n)
            table = pa.table({
                "user": _id_column(ds.user_ids, ds.users[start:stop]),
                "item": _id_column(ds.item_ids, ds.items[start:stop]),
                "rating": pa.array(ds.ratings[start:stop], type=pa.float32()),
                "timestamp": pa.array(ds.timestamps[start:stop], type=pa.int64()),
            })
            pq.write_table(table, tmp / f"part-{part:05d}.parquet", compression=compression)
        _replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_json(out / DATASET_FILE, {
        "format": "recsys-parquet-export", "name": ds.name, "n_ratings": ds.n_ratings,
        "n_users": int(np.count_nonzero(ds.user_counts)),
        "n_items": int(np.count_nonzero(ds.item_counts)),
        "rating_scale": list(ds.rating_scale),
        "columns": {"user": "raw user id", "item": "raw item id", "rating": "float32",
                    "timestamp": "int64 seconds since the epoch (0: unknown)"},
        "ratings": RATINGS_FOLDER,
    }, indent=2)
    return final


def _replace_folder(new: Path, final: Path) -> None:
    """Put the complete folder ``new`` at ``final``: a rename, after moving an older
    ``final`` aside (and deleting it once the new one is in place)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    try:
        new.rename(final)
    except BaseException:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
