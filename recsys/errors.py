"""Errors that name the problem: the file, the line, the field, the id."""

from __future__ import annotations


class RecsysError(Exception):
    """Base class of every error recsys raises on purpose."""


class DataFormatError(RecsysError, ValueError):
    """A data file does not have the format its release promises.

    The message names the file and, where known, the 1-based line and the field.
    """

    def __init__(self, path, message: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}, line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class DataNotFoundError(RecsysError, FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message says where to put it."""


class ChecksumError(RecsysError):
    """A downloaded or cached archive does not match its published checksum."""


class UnknownIdError(RecsysError, KeyError):
    """A raw user or item id is not in the data set's mapping."""

    def __init__(self, kind: str, raw_id):
        self.kind = kind
        self.raw_id = raw_id
        super().__init__(f"unknown {kind} id {raw_id!r}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class ModelFileError(RecsysError, ValueError):
    """A saved model file is truncated, foreign, or of an unsupported format version."""


class NotFittedError(RecsysError, RuntimeError):
    """A model was used before ``fit``."""


class UnsupportedError(RecsysError, NotImplementedError):
    """A model was asked for a capability it does not declare (see ``model.capabilities``)."""


class FitError(RecsysError, ValueError):
    """A model cannot be fitted on this data with these hyperparameters; the message says why
    and what to change."""
