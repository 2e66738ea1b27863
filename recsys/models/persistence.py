"""Reading and writing fitted models: one ``.npz`` (arrays, never pickled) plus a JSON document.

:func:`read_model_file` refuses, with a :class:`~recsys.errors.ModelFileError` naming the file
and the field, everything a damaged or foreign file can hold: a document that is not a JSON
object, an unknown class, unknown or ill-typed hyperparameters (checked against the type hints
of the model's ``__init__``), non-finite learned values, and arrays whose shapes disagree with
each other or with the id maps (each model declares its arrays' shapes in ``_array_shapes``;
the training matrix is checked as a CSR matrix).
"""

from __future__ import annotations

import json
import types
import typing
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from recsys.errors import ModelFileError
from recsys.models import registry

FORMAT_VERSION = 1
META_KEY = "__meta__"
_ID_AND_SEEN = ("user_ids_", "item_ids_", "seen_indptr_", "seen_indices_", "seen_ratings_")


def read_model_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON document and the arrays of a model file, checked for what a file can get
    wrong on its own (see the module docstring for what the model-specific checks add)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: not a recsys model file (not an .npz archive)")
            if META_KEY not in npz.files:
                raise ModelFileError(f"{path}: not a recsys model file (no {META_KEY})")
            meta = json.loads(npz[META_KEY].tobytes().decode("utf-8"))
            arrays = {k: npz[k] for k in npz.files if k != META_KEY}
    except (FileNotFoundError, ModelFileError):
        raise
    except ValueError as exc:
        if "pickle" in str(exc):  # np.load's word for any file that is not .npy/.npz
            raise ModelFileError(f"{path}: not a recsys model file (neither .npz nor .npy)") \
                from None
        raise ModelFileError(f"{path}: cannot read model file ({exc})") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc})") from exc
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: field {META_KEY}: the document is a "
                             f"{type(meta).__name__}, not a JSON object")
    if meta.get("format") != "recsys-model":
        raise ModelFileError(f"{path}: not a recsys model file (field 'format' is "
                             f"{meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {meta.get('format_version')} is not "
                             f"supported (this recsys reads version {FORMAT_VERSION})")
    for field in ("params", "extra"):
        if not isinstance(meta.get(field, {}), dict):
            raise ModelFileError(f"{path}: field {field!r} must be a JSON object, got "
                                 f"{type(meta[field]).__name__}")
    return meta, arrays


# ``where`` below is the start of every message: "<file>: " (and "Hybrid member 2: ").

def model_class_of(meta: dict[str, Any], where: str) -> type:
    """The registered class a document names (ModelFileError naming the field if none)."""
    name = meta.get("class")
    try:
        return registry.model_class(name)
    except (TypeError, ValueError):
        raise ModelFileError(f"{where}field 'class': unknown model class {name!r}") from None


def build_from_meta(cls: type, meta: dict[str, Any], where: str):
    """An unfitted ``cls`` from the document's hyperparameters, scale and mean, each checked."""
    params = meta.get("params", {})
    check_param_types(cls, params, where)
    try:
        model = cls(**params)
        scale = tuple(float(v) for v in meta["rating_scale"])
        mean = float(meta["global_mean"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}bad model description ({exc})") from exc
    if len(scale) != 2 or not np.all(np.isfinite(scale)) or scale[0] > scale[1]:
        raise ModelFileError(f"{where}field 'rating_scale': {meta['rating_scale']!r} "
                             f"is not a (low, high) pair")
    if not np.isfinite(mean):
        raise ModelFileError(f"{where}field 'global_mean': {mean!r} is not finite")
    model.rating_scale_, model.global_mean_ = scale, mean
    return model


def check_param_types(cls: type, params: dict[str, Any], where: str) -> None:
    """Refuse hyperparameters ``cls.__init__`` does not take, or whose JSON value cannot be of
    the annotated type (a string for an ``int``, a bool for a ``float``...)."""
    valid = cls._param_names()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ModelFileError(f"{where}field 'params.{unknown[0]}': {cls.__name__} has "
                             f"no such hyperparameter (valid: {', '.join(valid)})")
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve: check the names only
        hints = {}
    for name, value in params.items():
        hint = hints.get(name)
        if hint is not None and not _matches(value, hint):
            raise ModelFileError(f"{where}field 'params.{name}': {value!r} is not a "
                                 f"valid {cls.__name__}.{name} ({_hint_name(hint)})")


def _matches(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    target = origin or hint
    if target in (list, tuple, typing.Sequence) or hint in (list, tuple):
        return isinstance(value, list)
    if target is dict:
        return isinstance(value, dict)
    # A class JSON cannot hold (a numpy Generator: saved as None): no JSON value is one.
    return not isinstance(hint, type)


def _hint_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_arrays(model, arrays: dict[str, np.ndarray], where: str) -> None:
    """Refuse missing learned arrays, non-finite values, a training matrix that is not a
    valid CSR matrix of the id maps' shape, and shapes that disagree with ``_array_shapes``."""
    missing = [a for a in (*_ID_AND_SEEN, *model._fitted_arrays) if a not in arrays]
    if missing and not set(missing) & set(_ID_AND_SEEN):
        # The arrays every model saves are there, some of this class's are not: a file of
        # an older recsys, from before the class learned (and saved) them.
        from recsys import __version__

        cls = type(model).__name__
        raise ModelFileError(
            f"{where}an outdated {cls} model file: it lacks the arrays {missing}, which "
            f"{cls} files of recsys {__version__} hold (it was saved by an older recsys); "
            f"fit the model again and save it with this version (recsys serve: --retrain)")
    if missing:
        raise ModelFileError(f"{where}missing arrays {missing}")
    for name in model._fitted_arrays:
        value = arrays[name]
        if value.dtype.kind == "f" and name in model._nan_allowed:
            value = value[~np.isnan(value)]
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ModelFileError(f"{where}array {name!r} holds NaN or infinite values")
    n_users, n_items = len(arrays["user_ids_"]), len(arrays["item_ids_"])
    _check_csr(where, arrays, n_users, n_items)
    dims = {"users": n_users, "items": n_items, "users+1": n_users + 1, "items+1": n_items + 1}
    for name, shape in model._array_shapes.items():
        if name not in model._fitted_arrays:
            continue
        value = arrays[name]
        if value.ndim != len(shape):
            raise ModelFileError(f"{where}array {name!r} has {value.ndim} dimensions, "
                                 f"expected {len(shape)} {shape}")
        for axis, (dim, size) in enumerate(zip(shape, value.shape)):
            expected = dims.setdefault(dim, size)
            if size != expected:
                raise ModelFileError(f"{where}array {name!r} has {size} along axis "
                                     f"{axis} ({dim}), other arrays or the id maps say "
                                     f"{expected}")


def _check_csr(where: str, arrays, n_users: int, n_items: int) -> None:
    indptr, indices = arrays["seen_indptr_"], arrays["seen_indices_"]
    ratings = arrays["seen_ratings_"]
    problem = None
    if indptr.shape != (n_users + 1,) or indptr.dtype.kind not in "iu":
        problem = f"seen_indptr_ must be {n_users + 1} integers (users + 1)"
    elif indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
        problem = "seen_indptr_ must rise from 0 to the number of training ratings"
    elif indices.dtype.kind not in "iu" or (len(indices) and (indices.min() < 0
                                                              or indices.max() >= n_items)):
        problem = f"seen_indices_ must be item indices in 0..{n_items - 1}"
    elif ratings.shape != indices.shape or not np.isfinite(ratings).all():
        problem = "seen_ratings_ must be finite and as long as seen_indices_"
    if problem:
        raise ModelFileError(f"{where}{problem}")
