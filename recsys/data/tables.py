"""A strict reader of delimited files with a fixed schema, which names the bad line.

Reading is two-speed. The fast path hands the file to pandas' C parser with explicit dtypes,
then checks what that parser lets through (:mod:`recsys.data.grammar`: it reads ``5.0`` and
``True`` as integers, a lone ``\\r`` as a line end, a short line as empty fields). The grammar
a file must follow is the one :func:`_check_lines` states field by field: an integer is ASCII
digits with an optional sign (spaces around allowed), a number a decimal with an optional
exponent, and every line has every field. If the fast path fails, a rescan parses the file
again in 4 MiB blocks and checks only the first failing block line by line in Python; it
raises :class:`~recsys.errors.DataFormatError` naming the file, the 1-based line and the
field. The rescan costs nothing on good files.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from recsys.data.grammar import BLANK_LINE, field_counts_ok, numeric_text_ok
from recsys.errors import DataFormatError

__all__ = ["read_table", "row_lines", "INT", "FLOAT", "STR", "NULLABLE_INT"]

INT, FLOAT, STR, NULLABLE_INT = "int", "float", "str", "int?"
_DTYPES = {INT: np.int64, FLOAT: np.float32, STR: str, NULLABLE_INT: "Int64"}
# Parsed as float64, checked against the scale and step, then stored as float32: a rating
# 4.50000001 is not a half star, though float32 would make it one.
_PARSE_DTYPES = {**_DTYPES, FLOAT: np.float64}
# ASCII only ([0-9], not \d; spaces, not \s): Python's int() and float() also take Arabic
# digits, underscores and Unicode spaces, which no MovieLens file holds and pandas refuses.
_INT_RE = re.compile(r" *[+-]?[0-9]+ *")
_FLOAT_RE = re.compile(r" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *")
_INT64 = (-(2**63), 2**63 - 1)
_BOM = b"\xef\xbb\xbf"


class _Invalid(Exception):
    """The fast path refused the text (the rescan then finds the line)."""


@dataclass(frozen=True)
class _Schema:
    path: Path
    fields: tuple[tuple[str, str], ...]
    sep: str
    header: tuple[str, ...] | None
    encoding: str
    quoted: bool
    rating_scale: tuple[float, float] | None
    rating_step: float | None

    @property
    def numeric(self) -> bool:
        return all(kind in (INT, FLOAT) for _, kind in self.fields)

    def check_text(self, block: bytes, at_start: bool) -> None:
        """_Invalid if a block of whole lines breaks the grammar where pandas is lenient;
        ``at_start``: the block starts the file (where a byte-order mark may stand)."""
        if block.startswith(_BOM):
            if not at_start:
                raise _Invalid("a byte-order mark inside the file")
            block = block[len(_BOM):]
        if self.sep == "::" and b"\t" in block:
            raise _Invalid("a tab in a '::'-separated file")  # the parser's stand-in for '::'
        if self.numeric:
            if not numeric_text_ok(block, self.fields, self.sep):
                raise _Invalid("a field is not in the file's number format")
        elif not field_counts_ok(block, len(self.fields), self.sep, self.quoted):
            raise _Invalid("a line has too few fields")

    @property
    def labels(self) -> list[str]:
        return list(self.header) if self.header is not None else [n for n, _ in self.fields]

    def options(self, has_header: bool) -> dict:
        """pandas.read_csv keywords. Integer columns of a table with text in it are read as
        text and converted by :meth:`strict_ints` (a numeric table is checked byte by byte
        instead: text columns would cost too much memory on 32M rows)."""
        if self.numeric:
            dtypes = {name: _PARSE_DTYPES[kind] for name, kind in self.fields}
        else:
            dtypes = {name: (str if kind in (INT, NULLABLE_INT) else _PARSE_DTYPES[kind])
                      for name, kind in self.fields}
        return dict(
            sep="\t" if self.sep == "::" else self.sep, header=0 if has_header else None,
            names=[n for n, _ in self.fields], dtype=dtypes, encoding=self.encoding,
            engine="c", index_col=False, keep_default_na=False,
            na_values={name: [""] for name, kind in self.fields if kind == NULLABLE_INT},
            quoting=csv.QUOTE_MINIMAL if self.quoted else csv.QUOTE_NONE,
            skip_blank_lines=True,
        )

    def parse(self, source, has_header: bool, *, chunked: bool = False,
              at_start: bool = True) -> pd.DataFrame:
        """Parse ``source`` (a path, or bytes: whole lines, then byte-checked too) and check
        what pandas let through; _Invalid if anything is wrong."""
        if isinstance(source, bytes):
            self.check_text(source, at_start)
            if self.sep == "::":
                source = source.replace(b"::", b"\t")
            source = io.BytesIO(source)
        options = self.options(has_header)
        try:
            with warnings.catch_warnings():
                # A first row longer than the names would otherwise be silently truncated.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                warnings.simplefilter("ignore", RuntimeWarning)  # NaN cast notes
                if chunked:
                    return _read_numeric_chunked(source, self, options)
                frame = pd.read_csv(source, **options)
        except pd.errors.EmptyDataError:  # no line at all, or blank lines only
            return pd.DataFrame({name: np.empty(0, dtype=_DTYPES[kind])
                                 for name, kind in self.fields})
        except (ValueError, OverflowError, TypeError, pd.errors.ParserWarning) as exc:
            raise _Invalid(str(exc)) from None
        return self.finish(frame)

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check and convert a parsed frame: exact integers (text tables), ratings on the
        scale and step (on the float64 values), floats stored as float32."""
        if not self.numeric:
            frame = self.strict_ints(frame)
        bad = self.bad_ratings(frame)
        if len(bad):
            raise _Invalid(f"rating {frame['rating'].iloc[bad[0]]} (data row {bad[0] + 1})")
        for name, kind in self.fields:
            if kind == FLOAT:
                frame[name] = frame[name].to_numpy(dtype=np.float32)
        return frame

    def strict_ints(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Integer columns (read as text) converted exactly, each value checked against the
        grammar; a text field missing from a short line is refused too."""
        for name, kind in self.fields:
            col = frame[name]
            if kind == STR:
                if col.isna().any():
                    raise _Invalid(f"{name}: missing")
                continue
            if kind not in (INT, NULLABLE_INT):
                continue
            given = col.notna().to_numpy() if kind == NULLABLE_INT else slice(None)
            ok = col[given].str.fullmatch(_INT_RE.pattern).fillna(False)
            if not ok.to_numpy(dtype=bool).all():
                raise _Invalid(f"{name}: not an integer")
            try:
                ints = col.astype("Int64")
            except (ValueError, OverflowError, TypeError) as exc:
                raise _Invalid(f"{name}: {exc}") from None
            frame[name] = ints if kind == NULLABLE_INT else ints.to_numpy(dtype=np.int64)
        return frame

    def bad_ratings(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows whose rating is outside the scale or off the release's rating step."""
        if self.rating_scale is None or not len(frame):
            return np.zeros(0, dtype=np.int64)
        values = frame["rating"].to_numpy(dtype=np.float64)
        lo, hi = self.rating_scale
        ok = (values >= lo) & (values <= hi)
        if self.rating_step is not None:
            steps = (values - lo) / self.rating_step
            ok &= steps == np.round(steps)
        return np.flatnonzero(~ok)


def read_table(
    path: str | Path,
    fields: Sequence[tuple[str, str]],
    sep: str,
    *,
    header: Sequence[str] | None = None,
    encoding: str = "utf-8",
    quoted: bool = False,
    rating_scale: tuple[float, float] | None = None,
    rating_step: float | None = None,
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
    rating_step : float, optional
        If given (with ``rating_scale``), a rating must be ``low + k * rating_step``: whole
        stars (1) for ML-100K and ML-1M, half stars (0.5) for the later releases.

    Returns
    -------
    DataFrame with one column per field, in file order. Lines that are empty or hold only
    spaces are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "missing file")
    schema = _Schema(path, tuple(fields), sep, tuple(header) if header is not None else None,
                     encoding, quoted, rating_scale, rating_step)
    if header is not None:
        _check_header(path, header, sep, encoding, quoted)
    try:
        if sep == "::":
            # The C parser takes one-character separators only; ids and numbers never
            # contain a tab, and titles in .dat files never do either.
            source = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
            frame = schema.parse(source, header is not None)
        else:
            chunked = schema.numeric and path.stat().st_size > _CHUNKED_BYTES
            frame = schema.parse(path, header is not None, chunked=chunked)
        for block, lineno in _blocks(path, header is not None, count_lines=False):
            schema.check_text(block, at_start=lineno == 0)
    except _Invalid as exc:
        _rescan(schema)
        raise DataFormatError(path, f"cannot parse the file ({exc})") from None
    return frame


# Numeric files larger than this are read in chunks into preallocated columns.
_CHUNKED_BYTES = 32 << 20
_CHUNK_ROWS = 1 << 20


def _read_numeric_chunked(path: Path, schema: _Schema, options: dict) -> pd.DataFrame:
    """Read an all-numeric file chunk by chunk straight into preallocated columns.

    pandas' one-shot read holds every parsed chunk until it concatenates them, about twice
    the final frame; filling columns sized from a newline count keeps the peak near the
    frame itself plus one chunk. Each chunk is checked (:meth:`_Schema.finish`) first.
    """
    n_max = _count_lines(path)
    columns = {name: np.empty(n_max, dtype=_DTYPES[kind]) for name, kind in schema.fields}
    filled = 0
    for chunk in pd.read_csv(path, chunksize=_CHUNK_ROWS, **options):
        chunk = schema.finish(chunk)
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
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    raw = raw[:-1] if raw.endswith(b"\n") else raw
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise DataFormatError(path, f"header is not valid {encoding} text", line=1) from None
    found = _split(text, sep, quoted) if text else []
    if found != list(header):
        raise DataFormatError(
            path, f"expected the header {sep.join(header)!r}, found {text!r}", line=1)


# ---------------------------------------------------------------------- finding the line
_BLOCK_BYTES = 4 << 20  # fits the caches: bytes.translate/count run 2x faster than on 32 MiB


def _blocks(path: Path, has_header: bool, count_lines: bool = True):
    """(block, number of the line before it) over the file, blocks cut at line ends; with
    ``count_lines=False`` the number is 0 for the first block and -1 after it."""
    with open(path, "rb") as f:
        lineno = 0
        if has_header:
            f.readline()
            lineno = 1
        while block := f.read(_BLOCK_BYTES):
            if not block.endswith(b"\n"):
                block += f.readline()
            yield block, lineno
            lineno = lineno + block.count(b"\n") if count_lines else -1


def _rescan(schema: _Schema) -> None:
    """Find the first bad line and raise DataFormatError for it.

    Each block of about 4 MiB goes through the same fast parser and checks; only the first
    block that fails is checked line by line in Python, so finding a bad line near the end
    of a 25M-line file stays quick. Where the Python checks find nothing, the failing block
    is halved until the first line the parser refuses is left. Returns normally only if no
    line is at fault, leaving the caller to report the parser's own message.
    """
    has_header = schema.header is not None
    for block, lineno in _blocks(schema.path, has_header):
        try:
            schema.parse(block, False, at_start=lineno == 0)
        except _Invalid as exc:
            _check_lines(schema, block, lineno)
            _bisect(schema, block, lineno, exc)


def _bisect(schema: _Schema, block: bytes, first_lineno: int, reason: _Invalid) -> None:
    """Raise for the first line of ``block`` at which a prefix of it stops parsing."""
    lines = block.split(b"\n")
    lo, hi = 0, len(lines)  # the prefix of lo lines parses; that of hi lines does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            schema.parse(b"\n".join(lines[:mid]) + b"\n", False,
                         at_start=first_lineno == 0)
            lo = mid
        except _Invalid as exc:
            hi, reason = mid, exc
    text = lines[hi - 1].decode(schema.encoding, errors="replace").rstrip("\r")
    raise DataFormatError(schema.path, f"cannot parse this line ({reason}): {_clip(text)!r}",
                          line=first_lineno + hi)


def _check_lines(schema: _Schema, block: bytes, first_lineno: int) -> None:
    """Check each line of ``block`` (which starts after line ``first_lineno``) in Python."""
    fields, labels, sep = schema.fields, schema.labels, schema.sep
    n = len(fields)
    sep_name = {"\t": "tabs", "|": "'|'", ",": "commas", "::": "'::'"}.get(sep, repr(sep))
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for lineno, raw in enumerate(lines, first_lineno + 1):
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        try:
            text = raw.decode(schema.encoding)
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                schema.path, f"not valid {schema.encoding} text (bad byte "
                f"0x{raw[exc.start]:02x} at column {exc.start + 1})", line=lineno) from None
        if text.endswith("\r"):
            text = text[:-1]
        if "\r" in text and not schema.quoted:
            raise DataFormatError(schema.path, "a carriage return (\\r) inside the line",
                                  line=lineno)
        if text.strip(" ") == "":
            continue
        try:
            parts = _split(text, sep, schema.quoted)
        except csv.Error as exc:
            raise DataFormatError(schema.path, f"bad quoting ({exc})", line=lineno) from None
        if len(parts) != n:
            raise DataFormatError(
                schema.path, f"expected {n} fields separated by {sep_name}, found "
                f"{len(parts)}: {_clip(text)!r}", line=lineno)
        for (name, kind), label, value in zip(fields, labels, parts):
            _check_field(schema, name, kind, label, value, lineno)


def _check_field(schema: _Schema, name: str, kind: str, label: str, value: str,
                 lineno: int) -> None:
    path = schema.path
    if kind in (INT, NULLABLE_INT):
        if kind == NULLABLE_INT and value == "":
            return
        if not _INT_RE.fullmatch(value) or not _INT64[0] <= int(value) <= _INT64[1]:
            raise DataFormatError(path, f"expected an integer, found {_clip(value)!r}",
                                  line=lineno, field=label)
    elif kind == FLOAT:
        if not _FLOAT_RE.fullmatch(value):
            raise DataFormatError(path, f"expected a number, found {_clip(value)!r}",
                                  line=lineno, field=label)
        if schema.rating_scale is not None and name == "rating":
            number = float(value)
            lo, hi = schema.rating_scale
            if not lo <= number <= hi:
                raise DataFormatError(path, f"rating {value.strip()} outside the scale "
                                      f"{lo:g}..{hi:g}", line=lineno, field=label)
            step = schema.rating_step
            if step is not None and (number - lo) / step != round((number - lo) / step):
                what = "a whole number of stars" if step == 1 else f"a multiple of {step:g}"
                raise DataFormatError(path, f"rating {value.strip()} is not {what} (the "
                                      f"release's ratings go {lo:g}, {lo + step:g}, ... "
                                      f"{hi:g})", line=lineno, field=label)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------- rows to lines
def row_lines(path: str | Path, rows, has_header: bool) -> list[int]:
    """The 1-based line numbers of data rows ``rows`` (0-based, as :func:`read_table` returns
    them: blank lines are not rows) of a file without quoted line breaks."""
    wanted = sorted(set(int(r) for r in rows))
    found: dict[int, int] = {}
    row = 0
    for block, lineno in _blocks(Path(path), has_header):
        n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
        n_rows = n_lines - len(BLANK_LINE.findall(block))
        if not block.endswith(b"\n") and block.split(b"\n")[-1].strip(b" \r") == b"":
            n_rows -= 1
        if wanted and wanted[0] < row + n_rows:
            for k, raw in enumerate(block.split(b"\n"), lineno + 1):
                if raw.strip(b" \r") == b"":
                    continue
                while wanted and wanted[0] == row:
                    found[wanted.pop(0)] = k
                row += 1
        else:
            row += n_rows
        if not wanted:
            break
    return [found.get(int(r), 0) for r in rows]
