"""Field parsers shared by the TMDB loaders: CSV records with their line, JSON and
Python-literal lists, numbers, dates and ids, and the one table schema they all fill.

Every parser takes the file and the line it reads so that a malformed value raises
:class:`~recsys.errors.DataFormatError` naming the file, the 1-based line and the field. Lists
stored as text are parsed with :func:`json.loads` (TMDB 5000, the TMDB API) or
:func:`ast.literal_eval` (The Movies Dataset writes Python reprs such as
``"[{'id': 16, 'name': 'Animation'}]"``), never with ``eval``.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.errors import DataFormatError

#: The columns of every metadata table, in order. ``tmdb_id`` is unique (one row per movie);
#: the list columns hold tuples of str, empty when unknown; the numbers are NaN when unknown.
COLUMNS = ("tmdb_id", "imdb_id", "title", "overview", "genres", "keywords", "cast",
           "directors", "release_date", "year", "popularity", "vote_average", "vote_count",
           "budget", "revenue", "runtime")
#: Columns holding a tuple of str per movie.
LIST_COLUMNS = ("genres", "keywords", "cast", "directors")
#: Columns where TMDB writes 0 for "unknown"; they become NaN (and are counted in the report).
ZERO_UNKNOWN = ("budget", "revenue", "runtime")
_FLOATS = ("popularity", "vote_average", "vote_count", "budget", "revenue", "runtime")
_TEXT = ("title", "overview", "release_date")

_INT = re.compile(r"[0-9]+")
_DATE = re.compile(r"([0-9]{4})(?:-[0-9]{2}-[0-9]{2})?")
_IMDB = re.compile(r"(?:tt)?([0-9]+)")
# Python's csv module refuses fields over 128 KiB by default; The Movies Dataset's crew lists
# are longer than that.
_FIELD_LIMIT = 2**31 - 1


def read_text(path: Path) -> str:
    """The whole file as UTF-8 text (a byte-order mark dropped); a bad byte names its line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, f"not valid UTF-8 text (bad byte 0x{data[exc.start]:02x})",
                              line=line) from None


@contextmanager
def _field_limit():
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, _FIELD_LIMIT))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def csv_records(path: Path, required: Sequence[str]) -> tuple[list[str], list[tuple[int, list]]]:
    """The header and the ``(first line, fields)`` of every record of a CSV file.

    Lines count ``\\n`` only (a ``\\r`` inside a quoted overview is text), so they match
    ``wc -l`` and editors. Blank lines are skipped; a record may span lines (quoted line
    breaks). The field count is not checked here (see :func:`check_width`).

    Raises
    ------
    DataFormatError
        The file is empty, a column in ``required`` is missing from the header, or the
        quoting is broken (naming the line).
    """
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    records: list[tuple[int, list]] = []
    with _field_limit():
        try:
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, "the file is empty; expected a header line")
            missing = [name for name in required if name not in header]
            if missing:
                raise DataFormatError(path, f"the header has no column {missing[0]!r} (it has "
                                      f"{', '.join(header)})", line=1)
            previous = reader.line_num
            for row in reader:
                if row and not (len(row) == 1 and not row[0].strip()):
                    records.append((previous + 1, row))
                previous = reader.line_num
        except csv.Error as exc:
            reason = (r"a carriage return (\r) inside an unquoted field"
                      if "new-line character" in str(exc) else f"bad CSV quoting ({exc})")
            raise DataFormatError(path, reason, line=reader.line_num) from None
    return header, records


def check_width(path: Path, header: list[str], line: int, row: list[str]) -> None:
    """DataFormatError unless the record has as many fields as the header."""
    if len(row) != len(header):
        raise DataFormatError(path, f"expected {len(header)} fields (as the header), found "
                              f"{len(row)}", line=line)


def dedupe(keyed: list[tuple[int, int | None, object]]) -> tuple[list, int, list[int]]:
    """One record per id from ``(id, line, fields)`` triples, in file order.

    Returns the kept triples, the number of exact repeats dropped, and the ids whose repeats
    differ from their first record (the first is kept, the later ones dropped).
    """
    first: dict[int, object] = {}
    kept, exact, conflicting = [], 0, {}
    for key, line, row in keyed:
        seen = first.get(key)
        if seen is None:
            first[key] = row
            kept.append((key, line, row))
        elif seen == row:
            exact += 1
        else:
            conflicting[key] = None
    return kept, exact, list(conflicting)


# ---------------------------------------------------------------------- values
def parse_id(path: Path, line: int, field: str, text) -> int:
    """A positive integer id (TMDB's movie id)."""
    value = text.strip() if isinstance(text, str) else text
    if isinstance(value, str) and _INT.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DataFormatError(path, f"expected a positive integer id, found {_clip(text)!r}",
                              line=line, field=field)
    return value


def parse_imdb(path: Path, line: int, field: str, text) -> int | None:
    """IMDb's number from ``"tt0114709"`` or ``"0114709"``; None when empty or 0."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    match = _IMDB.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise DataFormatError(path, f"expected an IMDb id such as 'tt0114709', found "
                              f"{_clip(text)!r}", line=line, field=field)
    return int(match.group(1)) or None


def parse_number(path: Path, line: int, field: str, value, zeros: dict[str, int]) -> float:
    """A finite number >= 0 (text or JSON number); NaN when empty. A 0 in a
    :data:`ZERO_UNKNOWN` field is NaN too, counted in ``zeros[field]``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    number = None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise DataFormatError(path, f"expected a number >= 0, found {_clip(value)!r}",
                              line=line, field=field)
    if number == 0 and field in ZERO_UNKNOWN:
        zeros[field] = zeros.get(field, 0) + 1
        return math.nan
    return number


def parse_date(path: Path, line: int, field: str, value) -> tuple[str | None, int | None]:
    """``(date, year)`` from ``"1995-10-30"`` (or a bare year); ``(None, None)`` when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    match = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise DataFormatError(path, f"expected a date YYYY-MM-DD, found {_clip(value)!r}",
                              line=line, field=field)
    return value.strip(), int(match.group(1))


def parse_text(value) -> str | None:
    """Stripped text, or None when missing or empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_json(path: Path, line: int, field: str, text: str):
    """A JSON value held in a CSV field; the empty field is an empty list."""
    if not text.strip():
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON ({exc.msg} at character {exc.pos})",
                              line=line, field=field) from None


def parse_literal(path: Path, line: int, field: str, text: str):
    """A Python literal (``"[{'id': 1, 'name': 'x'}]"``) by :func:`ast.literal_eval`;
    the empty field is an empty list."""
    stripped = text.strip()
    if not stripped or stripped == "[]":  # a third of keywords.csv: skip the parser
        return []
    try:
        return ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0]
        raise DataFormatError(path, f"not a Python literal list ({reason}): {_clip(text)!r}",
                              line=line, field=field) from None


def names(path: Path, line: int, field: str, value) -> tuple[str, ...]:
    """The ``name`` of each ``{"id": ..., "name": ...}`` object of a list, in order, each once;
    empty names dropped."""
    if not isinstance(value, list):
        raise DataFormatError(path, f"expected a list of objects with a 'name', found "
                              f"{type(value).__name__}", line=line, field=field)
    out: dict[str, None] = {}
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise DataFormatError(path, f"expected objects with a text 'name', found "
                                  f"{_clip(entry)!r}", line=line, field=field)
        if name.strip():
            out[name.strip()] = None
    return tuple(out)


def cast_names(path: Path, line: int, field: str, value) -> tuple[str, ...]:
    """Cast names in billing order (``order``, where every entry has one)."""
    if isinstance(value, list) and all(isinstance(e, dict) and isinstance(e.get("order"), int)
                                       for e in value):
        value = sorted(value, key=lambda e: e["order"])
    return names(path, line, field, value)


def director_names(path: Path, line: int, field: str, value) -> tuple[str, ...]:
    """Names of the crew entries whose ``job`` is ``"Director"``."""
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise DataFormatError(path, "expected a list of crew objects", line=line, field=field)
    return names(path, line, field, [e for e in value if e.get("job") == "Director"])


def _clip(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------- the table
def empty_record(tmdb_id: int) -> dict:
    """A record with every field unknown."""
    record = {name: None for name in COLUMNS}
    record.update({name: () for name in LIST_COLUMNS})
    record.update({name: math.nan for name in _FLOATS})
    record["tmdb_id"] = tmdb_id
    return record


def build_table(records: Sequence[dict]) -> pd.DataFrame:
    """The metadata table from records holding :data:`COLUMNS`, sorted by ``tmdb_id``.

    Dtypes: ``tmdb_id`` int64; ``imdb_id``, ``year`` nullable Int64; ``title``,
    ``overview``, ``release_date`` object (str or None); list columns object (tuples of str);
    the numbers float64 (NaN when unknown).
    """
    records = sorted(records, key=lambda r: r["tmdb_id"])
    data: dict[str, object] = {
        "tmdb_id": np.array([r["tmdb_id"] for r in records], dtype=np.int64)}
    for name in ("imdb_id", "year"):
        data[name] = pd.array([r[name] for r in records], dtype="Int64")
    for name in _TEXT + LIST_COLUMNS:
        column = np.empty(len(records), dtype=object)
        column[:] = [r[name] for r in records]
        data[name] = column
    for name in _FLOATS:
        data[name] = np.array([r[name] for r in records], dtype=np.float64)
    return pd.DataFrame({name: data[name] for name in COLUMNS})


def iter_json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """``(line, value)`` for every non-blank line of a JSON-lines file."""
    for line, text in enumerate(read_text(path).split("\n"), 1):
        if not text.strip():
            continue
        try:
            yield line, json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"not valid JSON ({exc.msg} at column {exc.colno})",
                                  line=line) from None
