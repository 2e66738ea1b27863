"""What each timing and memory column of a bench cell includes (issue 15): a peer adapter's
conversion of our Dataset into its library's structure is timed and measured on its own
(``convert_seconds``, ``convert_peak_mb``) and is in neither ``fit_seconds`` nor
``fit_peak_mb``; the fold's CSR matrix is built before every measured block."""

from __future__ import annotations

import textwrap
import time

import numpy as np
import pytest

from recsys.bench import parse_config
from recsys.bench.adapters import make_adapter
from recsys.bench.adapters._base import PeerAdapter
from recsys.bench.cell import _measured_fit, run_cell
from recsys.bench.memory import memory_method
from recsys.bench.models import Resolved
from recsys.data.synthetic import generate
from recsys.split import holdout

CONVERT_S, FIT_S = 0.25, 0.02
CONVERT_MB, FIT_MB = 96, 8


class SlowConversion(PeerAdapter):
    """A peer whose conversion is slow and large and whose fit is quick and small."""

    library = "toy"
    predicts_ratings = True

    def _convert(self, train):
        time.sleep(CONVERT_S)
        block = np.ones(CONVERT_MB * 2**20 // 8)  # kept: the library's copy of the data
        big = np.ones(CONVERT_MB * 2**20 // 8)  # freed: a conversion temporary
        del big
        return block

    def _fit(self, train, **fit_options):
        self.kept_ = self._converted(train)
        time.sleep(FIT_S)
        scratch = np.ones(FIT_MB * 2**20 // 8)
        self.mean_ = float(train.ratings.mean()) + 0 * scratch[0]

    def _score(self, users, items):
        return np.full(len(users), self.mean_)

    def _score_users(self, users):
        return np.full((len(users), self.n_items_), self.mean_)


@pytest.fixture(scope="module")
def fold():
    ds = generate(40, 25, 500, seed=0)
    return holdout(ds, test_fraction=0.2, seed=0)[0]


def test_conversion_is_outside_the_fit_time_and_peak(fold):
    method = memory_method()
    (fit_s, fit_mb), conv_s, conv_mb = _measured_fit(SlowConversion("x"), fold.train, method)
    assert conv_s >= CONVERT_S
    assert fit_s < CONVERT_S / 2, "the conversion time leaked into fit_seconds"
    assert fit_s >= FIT_S
    if method == "vmhwm":  # ru_maxrss only sees new process-wide peaks: no exact figures
        assert conv_mb >= 1.5 * CONVERT_MB  # the kept block and the freed temporary
        assert fit_mb < CONVERT_MB / 2, "the conversion's memory leaked into fit_peak_mb"


def test_fit_without_prepare_still_converts_and_records_it(fold):
    model = SlowConversion("x")
    t0 = time.perf_counter()
    model.fit(fold.train)
    assert time.perf_counter() - t0 >= CONVERT_S + FIT_S
    assert model.convert_seconds_ >= CONVERT_S


def test_a_prepared_structure_is_used_once_and_only_for_its_own_dataset(fold):
    model = SlowConversion("x").prepare(fold.train)
    t0 = time.perf_counter()
    model.fit(fold.test)  # another Dataset: converted again, inside fit
    assert time.perf_counter() - t0 >= CONVERT_S
    model.prepare(fold.train)
    t0 = time.perf_counter()
    model.fit(fold.train)
    assert time.perf_counter() - t0 < CONVERT_S
    t0 = time.perf_counter()
    model.fit(fold.train)  # the prepared copy was consumed
    assert time.perf_counter() - t0 >= CONVERT_S


def test_run_cell_rows_keep_conversion_apart(fold):
    cfg = parse_config(textwrap.dedent("""
        [bench]
        metrics = ["rmse"]
        warmup = false
        [[datasets]]
        name = "s"
        synthetic = { n_users = 40, n_items = 25, n_ratings = 500, seed = 0 }
        [split]
        method = "holdout"
        test_fraction = 0.2
        [[models]]
        name = "Baseline"
    """), source="t.toml")
    spec = cfg.models[0]
    m = Resolved(spec, lambda: SlowConversion("x"), {})
    row = run_cell(cfg, m, "s", "holdout", 0, fold, memory_method()).row
    assert row["status"] == "ok", row["error"]
    assert row["convert_seconds"] >= CONVERT_S
    assert row["fit_seconds"] < CONVERT_S / 2
    assert row["convert_peak_mb"] is not None
    if memory_method() == "vmhwm":
        assert row["fit_peak_mb"] < CONVERT_MB / 2 <= row["convert_peak_mb"]
    from recsys.models import Baseline
    ours = run_cell(cfg, Resolved(spec, Baseline, {}), "s", "holdout", 0, fold,
                    memory_method()).row
    assert ours["convert_seconds"] is None and ours["convert_peak_mb"] is None


def test_the_fold_csr_is_built_before_the_measured_fit():
    # A fresh Dataset's CSR is built lazily by the first fit; the cell builds it first, so
    # whichever model happens to run first on a fold does not pay for it.
    ds = generate(40, 25, 500, seed=1)
    assert "csr" not in ds.__dict__
    from recsys.models import Baseline
    _measured_fit(Baseline(), ds, memory_method())
    assert "csr" in ds.__dict__


@pytest.mark.parametrize("library, name", [("surprise", "SVD"),
                                           ("implicit", "AlternatingLeastSquares")])
def test_real_adapters_convert_in_prepare(fold, library, name):
    pytest.importorskip(library)
    model = make_adapter(library, name, {"random_state": 0} if library == "implicit" else {})
    model.prepare(fold.train)
    assert model.convert_seconds_ > 0
    assert model._prepared is not None and model._prepared[0] is fold.train
    model.fit(fold.train)
    assert model._prepared is None


def test_surprise_trainset_is_measured_as_conversion_not_fit():
    # The case: Surprise's trainset alone peaked at 24-27 MiB on u1 while its fit
    # peaked at 2 MiB, and "Fit peak MiB" showed the sum for Surprise only.
    pytest.importorskip("surprise")
    ds = generate(2000, 1000, 60_000, seed=2)
    model = make_adapter("surprise", "SVD", {"n_factors": 4, "n_epochs": 1})
    method = memory_method()
    (fit_s, fit_mb), conv_s, conv_mb = _measured_fit(model, ds, method)
    assert conv_s > 0 and fit_s > 0
    if method == "vmhwm":
        assert conv_mb > 4 * max(fit_mb, 0.5), (conv_mb, fit_mb)
