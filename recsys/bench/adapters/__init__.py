"""Thin adapters that run the reference libraries inside our harness, one module per library.

Each adapter is a :class:`~recsys.models.base.Recommender`: it takes the same
:class:`~recsys.dataset.Dataset` and the same folds as our models, converts the training part
to the library's own structure, fits the library's model with the given hyperparameters, and
answers ``predict`` / ``score_items`` so that OUR metric and evaluation code scores it.

A library module (``surprise.py``, ``implicit.py``, ...) defines ``NAMES`` (the adapters it
offers), ``IMPORT_NAME`` (the package that must import), ``OWN_PARAMS`` (parameters the
adapter takes itself), ``library_class(name)`` (the library's class, for the parameter check)
and ``Adapter`` (the Recommender). Adding a peer library means one module here and one line in
``_MODULES``. Library modules import their library only inside functions, so this package
imports fast and without the optional extras.

The time spent converting our Dataset to the library's structure is measured separately
(``convert_seconds_``) and the harness subtracts it from the fit time: a user of the library
would load the data into its structure directly.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

from recsys.models.base import Recommender

#: library -> the module under recsys.bench.adapters that adapts it.
_MODULES: dict[str, str] = {
    "surprise": "surprise",
    "implicit": "implicit",
    "spark": "spark",
    "myfm": "myfm",
}


def _module(library: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{_MODULES[library]}")


#: library -> adapter names it offers.
ADAPTERS: dict[str, tuple[str, ...]] = {lib: tuple(_module(lib).NAMES) for lib in _MODULES}
#: The peer libraries a bench config may name (besides "recsys").
LIBRARIES: tuple[str, ...] = tuple(_MODULES)


def library_error(library: str) -> str | None:
    """None if ``library`` imports, else one line saying why not."""
    mod = _module(library)
    try:
        importlib.import_module(mod.IMPORT_NAME)
    except Exception as exc:  # ImportError, or a binary extension failing to load
        extra = getattr(mod, "EXTRA", "bench")
        return (f"{library} cannot be imported ({type(exc).__name__}: {exc}); install "
                f"recsys[{extra}] to run it")
    return None


def param_error(library: str, name: str, params: dict[str, Any]
                ) -> tuple[str, list[str]] | None:
    """``(bad name, valid names)`` for the first parameter the library's class does not take,
    or None. The library must import. Checked against the class's signature, since Surprise's
    KNN classes swallow unknown keywords (``KNNBasic(k_neighbours=5)`` runs with k=40)."""
    mod = _module(library)
    try:
        signature = inspect.signature(mod.library_class(name))
    except (TypeError, ValueError):
        return None  # no signature to check against: the library's own call decides
    valid = [p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        valid += [k for k in getattr(mod, "KWARGS", ()) if k not in valid]
    valid += [k for k in mod.OWN_PARAMS if k not in valid]
    for key in params:
        if key not in valid:
            return key, valid
    return None


def make_adapter(library: str, name: str, params: dict[str, Any] | None = None) -> Recommender:
    """The adapter for ``library``'s ``name`` with ``params``. ValueError for an unknown name."""
    if library not in ADAPTERS:
        raise ValueError(f"no adapters for library {library!r}; have {sorted(ADAPTERS)}")
    if name not in ADAPTERS[library]:
        raise ValueError(f"{library} has no adapter {name!r}; available: "
                         f"{list(ADAPTERS[library])}")
    return _module(library).Adapter(name, dict(params or {}))
