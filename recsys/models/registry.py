"""The one way to find a model by name.

Every model class is decorated with :func:`register`; :func:`model_class` looks a name up
(loading every model module first, from the explicit list below, so the answer never depends
on what happened to be imported), :func:`build_model` makes an unfitted model from a spec
``{"class": name, "params": {...}}``, and :func:`model_spec` is its inverse. ``Recommender.load``,
the hybrid, the benchmark, tuning and the CLI all ask here.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["register", "unregister", "model_class", "model_names", "build_model", "model_spec",
           "registered_models"]

#: The modules of :mod:`recsys.models` that define models. A new model module is added here.
MODEL_MODULES = ("baseline", "mf", "svdpp", "als", "knn", "content", "hybrid", "bpr", "ials",
                 "ease", "rp3beta", "slim", "timesvdpp", "bfm", "rank_fusion")

_MODELS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a model findable by its class name."""
    name = cls.__name__
    if name in _MODELS and _MODELS[name] is not cls:
        raise TypeError(f"two model classes are named {name!r}: "
                        f"{_MODELS[name].__module__} and {cls.__module__}")
    _MODELS[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a registered model (for tests that register a toy model for a while)."""
    _MODELS.pop(name, None)


def _load_all() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(f"recsys.models.{module}")


def registered_models() -> dict[str, type]:
    """Every registered model class by name (a copy), after loading every model module."""
    _load_all()
    return dict(_MODELS)


def model_names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(registered_models())


def model_class(name: str, *, ignore_case: bool = False) -> type:
    """The model class registered as ``name``.

    Raises ValueError naming the known models when there is none (``ignore_case`` accepts
    ``funksvd`` for ``FunkSVD``, as the CLI does).
    """
    if not isinstance(name, str):
        raise TypeError(f"a model name must be a string, got {type(name).__name__}")
    models = registered_models()
    if ignore_case:
        models = {k.lower(): v for k, v in models.items()}
        name = name.lower()
    try:
        return models[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: "
                         f"{', '.join(model_names())}") from None


def build_model(spec) -> Any:
    """A new unfitted model from a spec.

    ``spec`` is a model (cloned, fitted arrays not copied), a name (default hyperparameters),
    or a dict ``{"class": name, "params": {...}}``. Unknown names and hyperparameters raise
    ValueError naming them.
    """
    if callable(getattr(spec, "clone", None)) and callable(getattr(spec, "get_params", None)):
        return spec.clone()  # a model (duck-typed: this module sits below models.base)
    if isinstance(spec, str):
        return model_class(spec)()
    if isinstance(spec, dict) and isinstance(spec.get("class"), str):
        extra = set(spec) - {"class", "params"}
        if extra:
            raise ValueError(f"a model spec has keys 'class' and 'params'; got also "
                             f"{sorted(extra)}")
        cls = model_class(spec["class"])
        params = spec.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError(f"the params of a {spec['class']} spec must be a dict, got "
                            f"{type(params).__name__}")
        valid = set(cls._param_names())
        unknown = sorted(set(params) - valid)
        if unknown:
            raise ValueError(f"{spec['class']} has no hyperparameter {unknown[0]!r}; valid: "
                             f"{sorted(valid)}")
        return cls(**params)
    raise TypeError(f"a model spec is a Recommender, a model name or a dict "
                    f"{{'class': name, 'params': {{...}}}}; got {type(spec).__name__}")


def model_spec(model) -> dict[str, Any]:
    """``{"class": name, "params": {...}}`` of a model or of the model a spec describes, with
    every hyperparameter filled in (equal models give equal specs), as plain JSON values."""
    from recsys.io import jsonable

    model = build_model(model)
    return {"class": type(model).__name__, "params": jsonable(model.get_params())}
