"""ContentKNN on the real TMDB files ($RECSYS_DATA/tmdb) joined to ml-latest-small: a movie
nobody rated gets neighbours that share its keywords, a personal score, and an explanation.
Fails, never skips, when the files are missing."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.data import load_dataset
from recsys.data.tmdb import load_tmdb
from recsys.models import ContentKNN
from recsys.models.content_features import has_tmdb, with_tmdb

pytestmark = pytest.mark.realdata

HEAT = 6  # movieId of Heat (1995): TMDB keywords "robbery", "heist", "bank", ...


@pytest.fixture(scope="module")
def small_with_tmdb(real_data_dir):
    folder = real_data_dir / "tmdb"
    if not (folder / "keywords.csv").is_file():
        pytest.fail(f"{folder} has no keywords.csv: put The Movies Dataset's keywords.csv and "
                    "links.csv and TMDB 5000's tmdb_5000_movies.csv there", pytrace=False)
    return with_tmdb(load_dataset("ml-latest-small", real_data_dir), load_tmdb(folder))


def test_a_movie_nobody_rated_gets_keyword_neighbours_and_a_personal_score(small_with_tmdb):
    ds = small_with_tmdb
    heat = int(ds.item_index([HEAT])[0])
    assert has_tmdb(ds)[heat] and ds.item_counts[heat] > 50
    train = ds.subset(ds.items != heat)  # every rating of Heat removed: a cold item
    model = ContentKNN(features="tmdb", max_neighbors=200).fit(train)
    keywords = set(ds.item_info.loc[HEAT, "tmdb_keywords"])
    near, sims = model.similar_items(HEAT, k=10, raw=True)
    assert (sims > 0).all()
    for other in near:
        shared = model.shared_features(HEAT, other, raw=True)["keywords"]
        assert shared and set(shared) <= keywords
    assert model.describe_shared(HEAT, near[0], raw=True).startswith("shares keywords: ")
    scores = model.predict(np.arange(ds.n_users), np.full(ds.n_users, heat))
    assert np.isfinite(scores).all() and np.ptp(scores) > 1.0
    # A user's recommendations can hold it, explained by rated movies that share keywords.
    fan = int(np.argmax(scores - train.user_means))
    ranked, _ = model.recommend(fan, k=100)
    assert heat in ranked
    because, contrib = model.explain(fan, heat, n=3)
    assert len(because) and (contrib > 0).any()
    assert any(model.shared_features(heat, j)["keywords"] for j in because)
