"""The myFM peer adapter: the same relational design as BayesianFM, fitted by myFM's Gibbs
sampler, on tiny problems (myFM is the optional extra "fm")."""

from __future__ import annotations

import numpy as np
import pytest

from test_models_bfm_blocks import ALL, side_data, split
from recsys.bench.adapters import library_error, make_adapter, param_error
from recsys.evaluation import rating_predictor
from recsys.models.bfm import BayesianFM

myfm = pytest.importorskip("myfm")


def rmse(pred, data):
    return float(np.sqrt(np.mean((pred - data.ratings) ** 2)))


def test_the_adapter_is_listed_and_checks_parameters():
    assert library_error("myfm") is None
    assert param_error("myfm", "MyFMRegressor", {"rank": 3, "blocks": "user,item",
                                                  "n_iter": 5}) is None
    bad, valid = param_error("myfm", "MyFMRegressor", {"n_factors": 3})
    assert bad == "n_factors" and "rank" in valid and "blocks" in valid
    with pytest.raises(ValueError, match="n_kept_samples"):
        make_adapter("myfm", "MyFMRegressor", {"n_iter": 5, "n_kept_samples": 9}).fit(
            side_data())


@pytest.mark.parametrize("blocks", ["user,item,user_implicit,item_implicit", ALL])
def test_myfm_and_bayesian_fm_agree_on_the_same_features(blocks):
    train, test = split(side_data(n_users=40, n_items=30))
    peer = make_adapter("myfm", "MyFMRegressor", {"rank": 3, "n_iter": 150, "blocks": blocks,
                                                   "random_seed": 1})
    peer.prepare(train)
    peer.fit(train)
    assert peer.convert_seconds_ >= 0
    ours = BayesianFM(rank=3, n_samples=150, blocks=blocks, seed=1).fit(train)
    theirs = rating_predictor(peer, test)(test.users, test.items)
    mine = rating_predictor(ours, test)(test.users, test.items)
    # Two chains of the same posterior: close predictions, close RMSE (measured: myFM 0.510
    # vs ours 0.510, correlation 0.991 on the implicit blocks; 0.568 vs 0.599, 0.922 on
    # every block, where 150 sweeps on 600 ratings leave the time bins noisy).
    assert np.corrcoef(theirs, mine)[0, 1] > 0.9
    assert abs(rmse(theirs, test) - rmse(mine, test)) < 0.05
    assert rmse(theirs, test) < 0.8 * float(np.std(test.ratings))


def test_ordered_probit_predicts_expected_ratings_within_the_scale():
    train, test = split(side_data())
    peer = make_adapter("myfm", "MyFMOrderedProbit", {"rank": 2, "n_iter": 60,
                                                       "blocks": "user,item,time"})
    pred = rating_predictor(peer.fit(train), test)(test.users, test.items)
    assert ((pred >= 1) & (pred <= 5)).all()
    assert rmse(pred, test) < float(np.std(test.ratings))
    # Without times: the time outside the training period, as BayesianFM.
    assert not np.allclose(pred, peer.predict(test.users, test.items))
