"""Bad input to the model API and damaged model files get errors that name the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_conformance import small_ratings
from recsys.dataset import Dataset
from recsys.errors import ModelFileError
from recsys.models import ALS, Baseline, FunkSVD, Hybrid, ItemKNN
from recsys.models.base import Recommender
from recsys.models.registry import model_class, model_names


def _default(name: str) -> Recommender:
    if name in ("Hybrid", "RankFusion"):  # blends: their members are their one required argument
        return model_class(name)([Baseline()])
    return model_class(name)()


@pytest.fixture(scope="module")
def data() -> Dataset:
    return small_ratings()


@pytest.fixture(scope="module")
def svd(data) -> FunkSVD:
    return FunkSVD(n_factors=4, n_epochs=3, seed=0).fit(data)


@pytest.mark.parametrize("name", model_names())
def test_fitting_on_an_empty_dataset_is_an_error(name, data):
    empty = data.subset(np.zeros(data.n_ratings, dtype=bool))
    assert empty.n_ratings == 0
    with pytest.raises(ValueError, match=f"cannot fit {name} on an empty Dataset"):
        _default(name).fit(empty)


@pytest.mark.parametrize("k", [2.5, "5", True, 0, -3, None])
def test_k_must_be_a_positive_integer(svd, k):
    with pytest.raises(ValueError, match="k must be"):
        svd.recommend(0, k=k)
    with pytest.raises(ValueError, match="k must be"):
        svd.similar_items(0, k=k)
    with pytest.raises(ValueError, match="k must be"):
        svd.recommend_new_user([0, 1], [4.0, 3.0], k=k)


def test_numpy_integer_k_is_accepted(svd):
    items, _ = svd.recommend(0, k=np.int64(3))
    assert items.shape == (3,)


def test_a_huge_k_returns_at_most_the_candidate_items(svd, data):
    items, scores = svd.recommend(np.arange(3), k=10**9)
    assert items.shape == scores.shape == (3, data.n_items)
    one, _ = svd.recommend(0, k=10**9, candidates=np.arange(data.n_items) < 7)
    assert one.shape == (7,)
    sim, _ = svd.similar_items(0, k=10**9)
    assert sim.shape == (data.n_items,) and 0 not in sim
    new, _ = svd.recommend_new_user([0], [4.0], k=10**9)
    assert new.shape == (data.n_items,)


def test_a_bad_candidates_mask_is_named(svd):
    with pytest.raises(ValueError, match="candidates must be a bool array"):
        svd.recommend(0, candidates=np.ones(3, dtype=bool))


@pytest.mark.parametrize("rating, what", [(np.nan, "nan"), (7.5, "7.5"), (0.0, "0.0")])
def test_a_new_users_bad_rating_is_named(svd, data, rating, what):
    raw_item = data.item_ids[2]
    with pytest.raises(ValueError, match=f"rating {what} of item {raw_item}"):
        svd.recommend_new_user([data.item_ids[1], raw_item], [4.0, rating], raw=True)


def test_a_new_users_item_index_out_of_range_is_named(svd, data):
    with pytest.raises(ValueError, match="item index 999 is out of range"):
        svd.recommend_new_user([0, 999], [4.0, 3.0])


# ---------------------------------------------------------------------- damaged files
def _rewrite(path, meta_edit=None, arrays_edit=None):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    if meta_edit is not None:
        meta = meta_edit(meta)
    if arrays_edit is not None:
        arrays_edit(arrays)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def saved(svd, tmp_path):
    return svd.save(tmp_path / "m.npz")


def _set(key, value):
    def edit(meta):
        meta[key] = value
        return meta
    return edit


def _param(name, value):
    def edit(meta):
        meta["params"][name] = value
        return meta
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda meta: [meta], "the document is a list, not a JSON object"),
    (_set("params", [1, 2]), "field 'params' must be a JSON object"),
    (_set("class", "NoSuchModel"), "field 'class': unknown model class 'NoSuchModel'"),
    (_param("n_factorz", 4), "field 'params.n_factorz': FunkSVD has no such hyperparameter"),
    (_param("n_factors", "ten"), "field 'params.n_factors': 'ten' is not a valid"),
    (_param("learning_rate", True), "field 'params.learning_rate': True is not a valid"),
    (_param("seed", 1.5), "field 'params.seed'"),
    (_set("rating_scale", [5, 1]), "field 'rating_scale'"),
    (_set("global_mean", None), "bad model description"),
])
def test_a_bad_document_is_refused_naming_the_field(saved, edit, message):
    _rewrite(saved, meta_edit=edit)
    with pytest.raises(ModelFileError, match=message) as info:
        Recommender.load(saved)
    assert str(saved) in str(info.value)


def _poison(name, index):
    def edit(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name].flat[index] = np.nan
    return edit


def _drop_row(name):
    def edit(arrays):
        arrays[name] = arrays[name][:-1]
    return edit


@pytest.mark.parametrize("edit, message", [
    (_poison("item_factors_", 3), "array 'item_factors_' holds NaN or infinite values"),
    (_poison("user_bias_", 0), "array 'user_bias_' holds NaN"),
    (_drop_row("item_factors_"), "array 'item_factors_' has 29 along axis 0 \\(items\\)"),
    (_drop_row("user_bias_"), "array 'user_bias_' has 39 along axis 0 \\(users\\)"),
    (_drop_row("item_ids_"), "seen_indices_ must be item indices|along axis 0"),
    (_drop_row("seen_indptr_"), "seen_indptr_ must be 41 integers"),
    (_drop_row("seen_ratings_"), "seen_ratings_ must be finite and as long"),
])
def test_inconsistent_arrays_are_refused(saved, edit, message):
    _rewrite(saved, arrays_edit=edit)
    with pytest.raises(ModelFileError, match=message):
        Recommender.load(saved)


def test_factor_width_must_agree_between_arrays(saved):
    def narrow(arrays):
        arrays["user_factors_"] = arrays["user_factors_"][:, :-1]
    _rewrite(saved, arrays_edit=narrow)
    with pytest.raises(ModelFileError, match="'item_factors_' has 4 along axis 1 \\(k\\)"):
        Recommender.load(saved)


def test_a_plain_text_file_is_not_a_model_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match="not a recsys model file") as info:
        Recommender.load(path)
    assert "pickle" not in str(info.value)


@pytest.mark.parametrize("model", [ALS(n_factors=3, n_iterations=2, seed=0), ItemKNN(k=5),
                                   Baseline()])
def test_other_models_refuse_a_shape_that_disagrees_with_the_id_maps(model, data, tmp_path):
    path = model.fit(data).save(tmp_path / "m.npz")
    name = next(iter(n for n in model._array_shapes if n in model._fitted_arrays))
    _rewrite(path, arrays_edit=_drop_row(name))
    with pytest.raises(ModelFileError, match=f"array {name!r} has"):
        Recommender.load(path)


def test_ease_on_a_singular_gram_matrix_raises_a_recsys_error(capfd):
    from recsys.errors import FitError
    from recsys.models import EASE

    n = 3  # two items rated by the same three users: X^T X is singular, reg negligible
    users, items = np.repeat(np.arange(n), 2), np.tile([0, 1], n)
    data = Dataset(users, items, np.full(2 * n, 4.0), np.zeros(2 * n, dtype=np.int64),
                   np.arange(n) + 10, np.array([20, 21]), (1.0, 5.0))
    with pytest.raises(FitError, match="numerically singular .* use a larger reg"):
        EASE(reg=1e-320).fit(data)
    assert capfd.readouterr().err == ""
    EASE(reg=1.0).fit(data)  # a real penalty makes it well posed
