"""Summary statistics: real-data figures from the issue, and hand-checked small cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.data import load_dataset
from recsys.dataset import Dataset
from recsys.summary import format_summary, long_tail_shares, summarize


def test_ml100k_figures(real_data_dir, capsys):
    s = summarize(load_dataset("ml-100k", data_dir=real_data_dir))
    assert (s["n_users"], s["n_items"], s["n_ratings"]) == (943, 1682, 100_000)
    assert s["catalogue_items"] is None
    assert f"{s['sparsity']:.4f}" == "0.9370"
    assert s["rating_distribution"] == {1.0: 6110, 2.0: 11370, 3.0: 27145, 4.0: 34174,
                                        5.0: 21201}
    assert s["ratings_per_user"]["min"] == 20
    assert main(["data", "info", "--dataset", "ml-100k", "--data-dir", str(real_data_dir)]) == 0
    out = capsys.readouterr().out
    for text in ("users: 943", "items: 1682 rated", "ratings: 100000", "sparsity: 0.9370"):
        assert text in out


def test_ml_latest_small_figures(real_data_dir, capsys):
    assert main(["data", "info", "--dataset", "ml-latest-small",
                 "--data-dir", str(real_data_dir)]) == 0
    out = capsys.readouterr().out
    for text in ("users: 610", "items: 9724 rated (9742 in the catalogue)",
                 "ratings: 100836", "sparsity: 0.9830", "| 0.5 | 1370 |"):
        assert text in out


def _ds(users, items, ratings, n_users=None, n_items=None, item_info=None):
    n_users = n_users or max(users) + 1
    n_items = n_items or max(items) + 1
    return Dataset(np.array(users), np.array(items), np.array(ratings, dtype=np.float32),
                   np.arange(1, len(users) + 1) * 86_400, np.arange(n_users) + 10,
                   np.arange(n_items) + 100, (1, 5), item_info=item_info, name="tiny")


def test_small_hand_checked():
    # user 2 and item 3 exist in the id maps but have no rating: they do not count.
    info = pd.DataFrame({"title": list("abcde")}, index=np.arange(5) + 100)
    ds = _ds([0, 0, 0, 1], [0, 1, 2, 0], [1, 5, 5, 3.5], n_users=3, n_items=4,
             item_info=info)
    s = summarize(ds)
    assert (s["n_users"], s["n_items"], s["n_ratings"]) == (2, 3, 4)
    assert s["catalogue_items"] == 5
    assert s["density"] == pytest.approx(4 / 6) and s["sparsity"] == pytest.approx(2 / 6)
    assert s["rating_distribution"] == {1.0: 1, 3.5: 1, 5.0: 2}
    assert s["mean_rating"] == pytest.approx(3.625)
    assert s["ratings_per_user"] == {"min": 1, "median": 2.0, "mean": 2.0, "max": 3}
    assert s["ratings_per_item"] == {"min": 1, "median": 1.0, "mean": 4 / 3, "max": 2}
    # 20% of 3 items -> the top 1 item holds 2 of 4 ratings; 80% (3.2) needs all 3 items
    assert s["top20_item_share"] == pytest.approx(0.5)
    assert s["items_for_80pct_share"] == pytest.approx(1.0)
    assert s["time_range"] == ("1970-01-02", "1970-01-05")
    text = format_summary(s)
    assert "items: 3 rated (5 in the catalogue)" in text and "| 3.5 | 1 | 25.0% |" in text


def test_long_tail_shares():
    head, mass = long_tail_shares(np.array([80, 10, 5, 3, 2]))
    assert head == pytest.approx(0.8) and mass == pytest.approx(0.2)
    head, mass = long_tail_shares(np.array([1] * 10))
    assert head == pytest.approx(0.2) and mass == pytest.approx(0.8)
    assert long_tail_shares(np.array([], dtype=np.int64)) == (0.0, 0.0)


def test_empty_dataset():
    ds = Dataset(np.array([], np.int32), np.array([], np.int32), np.array([], np.float32),
                 None, np.array([1]), np.array([1]), (1, 5), name="empty")
    s = summarize(ds)
    assert (s["n_users"], s["n_items"], s["n_ratings"], s["density"]) == (0, 0, 0, 0.0)
    assert "ratings: 0" in format_summary(s)
