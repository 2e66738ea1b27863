"""The model registry: every registered model runs the conformance suite; register,
unregister, lookup, building from specs and writing specs, and their errors."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import recsys.models
from model_conformance import ModelConformance, small_ratings
from recsys.models import registry
from recsys.models.base import Recommender
from recsys.models.registry import (build_model, model_class, model_names, model_spec,
                                    register, registered_models, unregister)

TESTS = Path(__file__).resolve().parent


def conformance_classes() -> list[type]:
    """Every ModelConformance subclass defined in a tests/test_models_*.py module."""
    found = []
    for path in sorted(TESTS.glob("test_models_*.py")):
        module = importlib.import_module(path.stem)
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, ModelConformance)
                  and obj is not ModelConformance and obj.__module__ == module.__name__]
    return found


# ---------------------------------------------------------------------- the contract
def test_every_registered_model_has_a_conformance_class():
    classes = conformance_classes()
    assert classes, "no ModelConformance subclass found in tests/test_models_*.py"
    covered = {type(cls().make_model()).__name__ for cls in classes}
    missing = sorted(set(model_names()) - covered)
    assert not missing, (f"registered models without a ModelConformance test class in "
                         f"tests/test_models_*.py: {missing}")


def test_every_conformance_class_states_its_accuracy_range():
    for cls in conformance_classes():
        model = cls().make_model()
        wanted = "expected_rmse" if model.predicts_ratings else "expected_ndcg"
        bounds = getattr(cls, wanted)
        assert bounds is not None, f"{cls.__name__} states no {wanted}"
        lo, hi = bounds
        assert 0 <= lo < hi, f"{cls.__name__}.{wanted} = {bounds} is not a range"


def _models_defined_in(module) -> list[type]:
    """The concrete public model classes a module defines: Recommender subclasses with a
    ``_fit`` of their own or from a base (bases such as FactorModel have none)."""
    return [obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Recommender)
            and obj.__module__ == module.__name__ and not obj.__name__.startswith("_")
            and obj._fit is not Recommender._fit]


def test_every_model_module_is_listed_and_every_model_registered():
    package = Path(recsys.models.__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        module = importlib.import_module(f"recsys.models.{info.name}")
        models = _models_defined_in(module)
        for cls in models:
            assert registered_models().get(cls.__name__) is cls, (
                f"{module.__name__}.{cls.__name__} is not registered (decorate it with "
                "@register)")
        if models:
            assert info.name in registry.MODEL_MODULES, (
                f"recsys.models.{info.name} defines models but is not in MODEL_MODULES")
    for name, cls in registered_models().items():
        assert cls.__module__ == f"recsys.models.{cls.__module__.rsplit('.', 1)[-1]}"
        assert cls.__module__.rsplit(".", 1)[-1] in registry.MODEL_MODULES, name


def test_the_package_exports_every_registered_model():
    for name, cls in registered_models().items():
        assert getattr(recsys.models, name) is cls
        assert name in recsys.models.__all__


# ---------------------------------------------------------------------- register, lookup
class _Toy(Recommender):
    """A toy model registered only inside the tests that need it."""

    def __init__(self, level: float = 1.0):
        self.level = level

    def _fit(self, train):
        pass

    def _score(self, users, items):
        return np.full(len(users), self.level)


@pytest.fixture
def toy():
    cls = type("RegistryToy", (_Toy,), {})
    register(cls)
    yield cls
    unregister("RegistryToy")


def test_register_makes_a_model_findable_and_unregister_forgets_it(toy):
    assert model_class("RegistryToy") is toy
    assert "RegistryToy" in model_names() and model_names() == sorted(model_names())
    assert register(toy) is toy  # registering the same class again is harmless
    model = build_model({"class": "RegistryToy", "params": {"level": 2.0}})
    assert type(model) is toy and model.level == 2.0
    fitted = model.fit(small_ratings())
    np.testing.assert_array_equal(fitted.predict([0, 1], [0, 1]), [2.0, 2.0])
    unregister("RegistryToy")
    with pytest.raises(ValueError, match="unknown model 'RegistryToy'"):
        model_class("RegistryToy")
    unregister("RegistryToy")  # unknown names are ignored


def test_two_classes_with_one_name_are_refused(toy):
    other = type("RegistryToy", (_Toy,), {})
    with pytest.raises(TypeError, match="two model classes are named 'RegistryToy'"):
        register(other)
    assert model_class("RegistryToy") is toy


def test_registered_models_is_a_copy():
    models = registered_models()
    models.pop("FunkSVD")
    models["Nothing"] = object
    assert "FunkSVD" in registered_models() and "Nothing" not in registered_models()


def test_model_class_names_the_known_models_when_it_fails():
    with pytest.raises(ValueError) as err:
        model_class("NoSuchModel")
    message = str(err.value)
    assert "unknown model 'NoSuchModel'" in message
    for name in model_names():
        assert name in message
    with pytest.raises(ValueError):
        model_class("funksvd")  # case matters unless asked otherwise
    assert model_class("funksvd", ignore_case=True) is model_class("FunkSVD")
    with pytest.raises(TypeError, match="must be a string"):
        model_class(3)


# ---------------------------------------------------------------------- specs
def test_build_model_from_a_model_a_name_and_a_spec():
    FunkSVD = model_class("FunkSVD")
    fitted = FunkSVD(n_factors=4, n_epochs=2).fit(small_ratings())
    clone = build_model(fitted)
    assert clone is not fitted and type(clone) is FunkSVD
    assert clone.get_params() == fitted.get_params() and not hasattr(clone, "item_ids_")
    assert build_model("FunkSVD").get_params() == FunkSVD().get_params()
    built = build_model({"class": "FunkSVD", "params": {"n_factors": 4}})
    assert built.get_params() == FunkSVD(n_factors=4).get_params()
    assert build_model({"class": "FunkSVD"}).get_params() == FunkSVD().get_params()
    assert build_model({"class": "FunkSVD", "params": None}).get_params() == \
        FunkSVD().get_params()


@pytest.mark.parametrize("spec, error, message", [
    ({"class": "NoSuchModel"}, ValueError, "unknown model 'NoSuchModel'"),
    ("NoSuchModel", ValueError, "unknown model 'NoSuchModel'"),
    ({"class": "FunkSVD", "params": {"n_factor": 3}}, ValueError,
     "FunkSVD has no hyperparameter 'n_factor'"),
    ({"class": "FunkSVD", "param": {}}, ValueError, r"also \['param'\]"),
    ({"class": "FunkSVD", "params": [3]}, TypeError, "must be a dict"),
    ({"params": {}}, TypeError, "a model spec is"),
    ({"class": 3}, TypeError, "a model spec is"),
    (3, TypeError, "a model spec is"),
    (None, TypeError, "a model spec is"),
])
def test_build_model_errors(spec, error, message):
    with pytest.raises(error, match=message):
        build_model(spec)


def test_model_spec_is_plain_json_and_builds_the_same_model():
    Hybrid = model_class("Hybrid")
    for model in (model_class("FunkSVD")(n_factors=4, seed=np.int64(3)),
                  model_class("ItemKNN")(k=7, shrinkage=None),
                  Hybrid([{"class": "ContentKNN", "params": {"k": 5}}, "Baseline"],
                         weights=(1, 3))):
        spec = model_spec(model)
        assert spec["class"] == type(model).__name__
        assert json.loads(json.dumps(spec, allow_nan=False)) == spec
        rebuilt = build_model(spec)
        assert type(rebuilt) is type(model) and model_spec(rebuilt) == spec
    assert model_spec("Baseline") == model_spec(model_class("Baseline")())
    assert model_spec({"class": "Baseline", "params": {"reg_user": 2.0}})["params"][
        "reg_user"] == 2.0
    with pytest.raises(ValueError, match="unknown model"):
        model_spec("NoSuchModel")
