"""Byte-level checks of what pandas' C parser lets through, at memory speed.

The parser reads ``5.0``, ``1e5`` and ``True`` as the integers 5, 100000 and 1, treats a lone
``\\r`` as a line end, and fills the fields missing from a short line with ``""`` in a text
column. :mod:`recsys.data.tables` parses with pandas, then asks these functions whether the
text keeps to the grammar its line-by-line checks state; they look at whole blocks of lines
with ``bytes.translate``/``count`` (no Python loop over lines).
"""

from __future__ import annotations

import re

__all__ = ["BLANK_LINE", "field_counts_ok", "numeric_text_ok"]

FLOAT = "float"  # the kind of a float field in recsys.data.tables' schemas
#: A line that is empty or holds only spaces (pandas skips those).
BLANK_LINE = re.compile(rb"^[ \r]*\n", re.MULTILINE)
_QUOTED = re.compile(rb'"[^"]*"')


def numeric_text_ok(block: bytes, fields, sep: str) -> bool:
    """Whether a block of whole lines of a numeric file keeps to the grammar where pandas is
    lenient: only digits, signs, ``.``, ``e``/``E``, spaces, the separator and line ends;
    ``\\r`` only before ``\\n`` (or last); ``.``/``e``/``E`` only in float fields.

    Meant for text pandas parsed (it checks each token is a number, and each line's field
    count); this adds what the parser lets through. Deleting the digits, signs and spaces
    leaves a few bytes per line (``,,.,`` for ``1,2,4.5,7``), checked with bytes operations
    at memory speed.
    """
    if sep == "::":
        block, sep = block.replace(b"::", b"\t"), "\t"
    sep_bytes = sep.encode()
    reduced = block.translate(None, b"0123456789+- ")
    n_cr = reduced.count(b"\r")
    if n_cr and n_cr - reduced.count(b"\r\n") - reduced.endswith(b"\r"):
        return False
    if reduced.translate(None, sep_bytes + b"\r\n.eE"):
        return False  # a byte no number has
    kinds = [kind for _, kind in fields]
    floats = [j for j, k in enumerate(kinds) if k == FLOAT]
    dots, exponents = reduced.count(b"."), reduced.count(b"e") + reduced.count(b"E")
    if not dots + exponents or len(floats) == len(kinds):
        return True
    if len(floats) == 1:
        # With n - 1 separators on each line, "<j seps><marks><n-1-j seps>" can only be the
        # marks of field j: count those and compare with every mark.
        j = floats[0]
        before, after = sep_bytes * j, sep_bytes * (len(kinds) - 1 - j)
        forms = (b".e", b".E", b".", b"e", b"E") if exponents else (b".",)
        in_float = sum(len(m) * reduced.count(before + m + after) for m in forms)
        return in_float == dots + exponents
    if floats:  # several float fields: a regular expression (no such table in MovieLens)
        content = re.escape(sep_bytes).join(
            b"[.eE]{0,2}" if k == FLOAT else b"" for k in kinds)
        pattern = rb"(?:(?:%s)?\r?\n)*(?:(?:%s)\r?)?" % (content, content)
        return re.fullmatch(pattern, reduced) is not None
    return False


def field_counts_ok(block: bytes, n_fields: int, sep: str, quoted: bool) -> bool:
    """Whether every non-blank line of a block of whole lines has ``n_fields`` fields.

    pandas fills the fields missing from a short line with ``""`` in a text column, the
    same as an empty field; counting separators (outside quotes) tells the two apart.
    """
    if sep == "::":
        block, sep = block.replace(b"::", b"\t"), "\t"
    if quoted and b'"' in block:
        block = _QUOTED.sub(b"", block)  # quoted separators and line breaks do not count
    n_lines = block.count(b"\n")
    n_blank = len(BLANK_LINE.findall(block))
    if not block.endswith(b"\n"):  # the last line, without its line end
        n_lines += 1
        n_blank += block.rsplit(b"\n", 1)[-1].strip(b" \r") == b""
    return block.count(sep.encode()) == (n_fields - 1) * (n_lines - n_blank)
