"""A strict reader of delimited files with a fixed schema, which names the bad line.

Reading is two-speed. The fast path hands the file to pandas' C parser with explicit dtypes.
If that fails, or a rating falls outside the release's scale, a rescan parses the file again
in 4 MiB blocks and checks only the first failing block line by line in Python; it raises
:class:`~recsys.errors.DataFormatError` naming the file, the 1-based line and the field. The
rescan costs nothing on good files.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from recsys.errors import DataFormatError

__all__ = ["read_table", "INT", "FLOAT", "STR", "NULLABLE_INT"]

INT, FLOAT, STR, NULLABLE_INT = "int", "float", "str", "int?"
_DTYPES = {INT: np.int64, FLOAT: np.float32, STR: str, NULLABLE_INT: "Int64"}
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")
_INT64_MAX = np.iinfo(np.int64).max



def read_table(
    path: str | Path,
    fields: Sequence[tuple[str, str]],
    sep: str,
    *,
    header: Sequence[str] | None = None,
    encoding: str = "utf-8",
    quoted: bool = False,
    rating_scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Read a delimited file with a fixed schema, or raise DataFormatError at the bad line.

    Parameters
    ----------
    path : path
        The file.
    fields : sequence of (name, kind)
        Column names given to the result and their kinds: ``"int"`` (int64), ``"float"``
        (float32), ``"str"``, ``"int?"`` (nullable Int64, empty means missing).
    sep : str
        Field separator; ``"::"`` is handled by rewriting it to a tab in memory.
    header : sequence of str, optional
        The header line the file must start with (CSV releases); None if headerless.
    encoding : str
        Text encoding; a byte sequence invalid in it is reported with its line.
    quoted : bool
        Whether fields may be double-quoted (CSV releases, where titles contain commas).
    rating_scale : (float, float), optional
        If given, the ``rating`` field must lie in this closed interval.

    Returns
    -------
    DataFrame with one column per field, in file order. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "missing file")
    names = [name for name, _ in fields]
    labels = list(header) if header is not None else names
    if header is not None:
        _check_header(path, header, sep, encoding, quoted)
    if sep == "::":
        # The C parser takes one-character separators only; ids and numbers never contain
        # a tab, and titles in .dat files never do either.
        source = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
        pd_sep = "\t"
    else:
        source, pd_sep = path, sep
    options = dict(
        sep=pd_sep, header=0 if header is not None else None, names=names,
        dtype={name: _DTYPES[kind] for name, kind in fields}, encoding=encoding,
        engine="c", index_col=False, keep_default_na=False,
        na_values={name: [""] for name, kind in fields if kind == NULLABLE_INT},
        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE, skip_blank_lines=True,
    )
    numeric = all(kind in (INT, FLOAT) for _, kind in fields)
    try:
        with warnings.catch_warnings():
            # A first row longer than the names would otherwise be silently truncated.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if numeric and sep != "::" and path.stat().st_size > _CHUNKED_BYTES:
                frame = _read_numeric_chunked(path, fields, options)
            else:
                frame = pd.read_csv(source, **options)
    except (ValueError, OverflowError, TypeError, pd.errors.ParserWarning) as exc:
        _rescan(path, fields, labels, sep, header is not None, encoding, quoted, rating_scale)
        raise DataFormatError(path, f"cannot parse the file ({exc})") from None
    if rating_scale is not None and len(frame):
        values = frame["rating"].to_numpy()
        lo, hi = rating_scale
        bad = ~((values >= lo) & (values <= hi))
        if bad.any():
            _rescan(path, fields, labels, sep, header is not None, encoding, quoted,
                    rating_scale)
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                path, f"rating {values[row]} outside the scale {lo:g}..{hi:g} "
                f"(data row {row + 1})", field="rating")
    return frame


# Numeric files larger than this are read in chunks into preallocated columns.
_CHUNKED_BYTES = 32 << 20
_CHUNK_ROWS = 1 << 20


def _read_numeric_chunked(path: Path, fields, options: dict) -> pd.DataFrame:
    """Read an all-numeric file chunk by chunk straight into preallocated columns.

    pandas' one-shot read holds every parsed chunk until it concatenates them, about twice
    the final frame; filling columns sized from a newline count keeps the peak near the
    frame itself plus one chunk.
    """
    n_max = _count_lines(path)
    columns = {name: np.empty(n_max, dtype=_DTYPES[kind]) for name, kind in fields}
    filled = 0
    for chunk in pd.read_csv(path, chunksize=_CHUNK_ROWS, **options):
        stop = filled + len(chunk)
        for name in columns:
            columns[name][filled:stop] = chunk[name].to_numpy()
        filled = stop
    return pd.DataFrame({name: col[:filled] for name, col in columns.items()}, copy=False)


def _count_lines(path: Path) -> int:
    """Number of lines, counting a last line without a newline."""
    count = 0
    last = b"\n"
    with open(path, "rb") as f:
        while block := f.read(16 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _split(text: str, sep: str, quoted: bool) -> list[str]:
    if quoted:
        return next(csv.reader([text], delimiter=sep))
    return text.split(sep)


def _check_header(path: Path, header: Sequence[str], sep: str, encoding: str, quoted: bool):
    with open(path, "rb") as f:
        raw = f.readline()
    try:
        text = raw.decode(encoding).rstrip("\r\n").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise DataFormatError(path, f"header is not valid {encoding} text", line=1) from None
    found = _split(text, sep, quoted) if text else []
    if found != list(header):
        raise DataFormatError(
            path, f"expected the header {sep.join(header)!r}, found {text!r}", line=1)


_BLOCK_BYTES = 4 << 20


def _rescan(path: Path, fields, labels, sep: str, has_header: bool, encoding: str,
            quoted: bool, rating_scale) -> None:
    """Find the first bad line and raise DataFormatError for it.

    The file is cut into blocks of about 4 MiB at line ends; each block goes through the
    same fast parser, and only the first block that fails is checked line by line in
    Python, so finding a bad line near the end of a 25M-line file stays quick. Returns
    normally only if no line is found at fault, leaving the caller to report the
    parser's own message.
    """
    with open(path, "rb") as f:
        lineno = 0
        if has_header:
            f.readline()
            lineno = 1
        while True:
            block = f.read(_BLOCK_BYTES)
            if not block:
                return
            if not block.endswith(b"\n"):
                block += f.readline()
            if not _block_parses(block, fields, sep, encoding, quoted, rating_scale):
                _check_lines(path, block, lineno, fields, labels, sep, encoding, quoted,
                             rating_scale)
            lineno += block.count(b"\n")


def _block_parses(block: bytes, fields, sep, encoding, quoted, rating_scale) -> bool:
    if sep == "::":
        block, sep = block.replace(b"::", b"\t"), "\t"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(block), sep=sep, header=None, names=[n for n, _ in fields],
                dtype={name: _DTYPES[kind] for name, kind in fields}, encoding=encoding,
                engine="c", index_col=False, keep_default_na=False,
                na_values={name: [""] for name, kind in fields if kind == NULLABLE_INT},
                quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
            )
    except (ValueError, OverflowError, TypeError, pd.errors.ParserWarning):
        return False
    if rating_scale is not None and len(frame):
        values = frame["rating"].to_numpy()
        if not ((values >= rating_scale[0]) & (values <= rating_scale[1])).all():
            return False
    return True


def _check_lines(path: Path, block: bytes, first_lineno: int, fields, labels, sep: str,
                 encoding: str, quoted: bool, rating_scale) -> None:
    """Check each line of ``block`` (which starts after line ``first_lineno``) in Python."""
    n = len(fields)
    sep_name = {"\t": "tabs", "|": "'|'", ",": "commas", "::": "'::'"}.get(sep, repr(sep))
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for lineno, raw in enumerate(lines, first_lineno + 1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                path, f"not valid {encoding} text (bad byte 0x{raw[exc.start]:02x} "
                f"at column {exc.start + 1})", line=lineno) from None
        text = text.rstrip("\r")
        if text == "":
            continue
        try:
            parts = _split(text, sep, quoted)
        except csv.Error as exc:
            raise DataFormatError(path, f"bad quoting ({exc})", line=lineno) from None
        if len(parts) != n:
            raise DataFormatError(
                path, f"expected {n} fields separated by {sep_name}, found {len(parts)}: "
                f"{_clip(text)!r}", line=lineno)
        for (name, kind), label, value in zip(fields, labels, parts):
            if kind in (INT, NULLABLE_INT):
                if kind == NULLABLE_INT and value == "":
                    continue
                if not _INT_RE.fullmatch(value) or abs(int(value)) > _INT64_MAX:
                    raise DataFormatError(
                        path, f"expected an integer, found {_clip(value)!r}",
                        line=lineno, field=label)
            elif kind == FLOAT:
                try:
                    number = float(value)
                except ValueError:
                    raise DataFormatError(
                        path, f"expected a number, found {_clip(value)!r}",
                        line=lineno, field=label) from None
                if rating_scale is not None and name == "rating":
                    lo, hi = rating_scale
                    if not lo <= number <= hi:
                        raise DataFormatError(
                            path, f"rating {value} outside the scale {lo:g}..{hi:g}",
                            line=lineno, field=label)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
