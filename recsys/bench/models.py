"""The models of a benchmark config, checked before anything runs.

:func:`resolve_models` turns each ``[[models]]`` table into a factory. A name that is not a
registered model or an adapter, and a hyperparameter the class does not take, raise
:class:`~recsys.bench.config.ConfigError` naming the file and the key (with the closest
valid name): a typo must not cost a run, nor pass as a skip. The one thing skipped is a
reference library that cannot be imported; that is reported in one line and in the header.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from recsys.bench.config import BenchConfig, ConfigError, ModelSpec

__all__ = ["Resolved", "resolve_models"]


@dataclass
class Resolved:
    """A model of the config, ready to make."""

    spec: ModelSpec
    make: Callable[[], Any]
    params: dict[str, Any]
    accepts_eval_set: bool = False
    warmup_seconds: float | None = None
    warmed: bool = False


def resolve_models(config: BenchConfig) -> tuple[list[Resolved], list[dict[str, str]]]:
    """Factories of the config's models; returns (runnable, skipped with one-line reasons).

    Raises ConfigError for an unknown model or adapter name and for a hyperparameter the
    class does not take; only a reference library that cannot be imported is skipped.
    """
    from recsys.bench.adapters import ADAPTERS, library_error, make_adapter, param_error
    from recsys.models.registry import registered_models

    registry = registered_models()
    lib_errors: dict[str, str | None] = {}
    runnable, skipped = [], []
    for j, spec in enumerate(config.models):
        key = f"models[{j}]"
        if spec.library == "recsys":
            runnable.append(_resolve_ours(config.source, key, spec, registry))
            continue
        offered = ADAPTERS[spec.library]
        if spec.name not in offered:
            raise ConfigError(config.source, f"{key}.name",
                              f"{spec.library} has no adapter {spec.name!r}"
                              f"{_did_you_mean(spec.name, offered)}; available: "
                              f"{', '.join(offered)}")
        if spec.library not in lib_errors:
            lib_errors[spec.library] = library_error(spec.library)
        reason = lib_errors[spec.library]
        if reason is not None:
            skipped.append({"model": spec.label, "library": spec.library, "reason": reason})
            continue
        problem = param_error(spec.library, spec.name, spec.params)
        if problem is not None:
            name, valid = problem
            raise ConfigError(config.source, f"{key}.params.{name}",
                              f"{spec.library}'s {spec.name} takes no parameter {name!r}"
                              f"{_did_you_mean(name, valid)}; valid: {', '.join(valid)}")
        probe = make_adapter(spec.library, spec.name, spec.params)
        runnable.append(Resolved(
            spec, (lambda s=spec: make_adapter(s.library, s.name, s.params)),
            probe.effective_params()))
    return runnable, skipped


def _resolve_ours(source: str, key: str, spec: ModelSpec, registry: dict) -> Resolved:
    cls = registry.get(spec.name)
    if cls is None:
        raise ConfigError(source, f"{key}.name",
                          f"{spec.name!r} is not a registered model"
                          f"{_did_you_mean(spec.name, registry)}; registered: "
                          f"{', '.join(sorted(registry)) or 'none'}")
    valid = list(cls._param_names())
    for name in spec.params:
        if name not in valid:
            raise ConfigError(source, f"{key}.params.{name}",
                              f"{spec.name} has no hyperparameter {name!r}"
                              f"{_did_you_mean(name, valid)}; valid: {', '.join(valid)}")
    try:
        probe = cls(**spec.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, f"{key}.params", f"{spec.name}: {exc}") from None
    fit_sig = inspect.signature(type(probe)._fit).parameters
    return Resolved(spec, (lambda c=cls, p=dict(spec.params): c(**p)), probe.get_params(),
                    accepts_eval_set="eval_set" in fit_sig)


def _did_you_mean(name: str, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    if not close:
        close = [v for v in valid if v.lower() == name.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""
