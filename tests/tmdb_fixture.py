"""A small MovieLens release with links and a TMDB folder, written by the tests (TMDB's terms
do not allow shipping the real files): eight movies, of which

- 1, 2, 3, 7 have a TMDB 5000 row (overview, TMDB genres, keywords) and keywords.csv rows;
- 4 has keywords only (keywords.csv, no TMDB 5000 row);
- 5 has no tmdbId in links.csv;
- 6 and 8 share tmdbId 8000 (as ml-latest-small's 6003 and 144606 share 4912), which
  neither TMDB file knows;
- 7 is in the catalogue (movies.csv) but no one rated it: a cold item.

The TMDB folder holds one exact duplicate row in keywords.csv and The Movies Dataset's
links.csv with a row without a tmdbId and a repeated tmdbId.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from test_tmdb import TMDB5000_HEADER, as_literal, tmdb5000_row, write_csv

#: movieId, title, genres, imdbId, tmdbId, overview, TMDB genres, keywords, in TMDB 5000
MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children", "0114709", "862",
     "Led by Woody, Andy's toys live happily in his room until Buzz Lightyear arrives.",
     ["Animation", "Comedy", "Family"], ["toy", "friendship", "rivalry"], True),
    (2, "Heat (1995)", "Action|Crime|Thriller", "0113277", "949",
     "Obsessive master thief Neil McCauley leads a top-notch crew on various daring heists.",
     ["Action", "Crime"], ["heist", "bank robbery", "detective", "obsession"], True),
    (3, "Seven Samurai (Shichinin no samurai) (1954)", "Action|Adventure|Drama", "0047478",
     "346", "A samurai answers a village's request for protection.",
     ["Action", "Drama"], ["samurai", "village", "bandit"], True),
    (4, "Casino (1995)", "Crime|Drama", "0112641", "524", "", [],
     ["casino", "heist", "bank robbery", "mafia"], False),
    (5, "No Link (2001)", "Comedy", "0000005", "", "", [], [], False),
    (6, "Shared One (1990)", "Drama", "0000006", "8000", "", [], [], False),
    (7, "Cold Heist (2010)", "Crime|Thriller", "0000007", "7007",
     "A crew plans one last bank job in a frozen town.", ["Crime", "Thriller"],
     ["heist", "bank robbery", "snow"], True),
    (8, "Shared Two (1991)", "Drama", "0000008", "8000", "", [], [], False),
]
#: The movies someone rated (7 is cold).
RATED = (1, 2, 3, 4, 5, 6, 8)


def write_release(root: Path, n_users: int = 24, seed: int = 0) -> Path:
    """``root/ml-latest-small`` with ratings.csv, movies.csv and links.csv; returns root."""
    folder = root / "ml-latest-small"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        for movie in rng.choice(RATED, size=5, replace=False):
            rows.append([str(user), str(int(movie)), f"{rng.integers(1, 11) / 2:g}",
                         str(1_000_000_000 + 60 * len(rows))])
    write_csv(folder / "ratings.csv", ["userId", "movieId", "rating", "timestamp"], rows)
    write_csv(folder / "movies.csv", ["movieId", "title", "genres"],
              [[str(m[0]), m[1], m[2]] for m in MOVIES])
    write_csv(folder / "links.csv", ["movieId", "imdbId", "tmdbId"],
              [[str(m[0]), m[3], m[4]] for m in MOVIES])
    return root


def write_tmdb(folder: Path) -> Path:
    """TMDB 5000's movies file, The Movies Dataset's keywords.csv (one exact duplicate row)
    and links.csv (one row without a tmdbId, one repeating a tmdbId) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "tmdb_5000_movies.csv", TMDB5000_HEADER, [
        tmdb5000_row(int(m[4]), m[1].rsplit(" (", 1)[0], m[5], m[6], m[7],
                     f"{m[1][-5:-1]}-06-01", popularity="12.5")
        for m in MOVIES if m[8]])
    keywords = [[m[4], as_literal(m[7])] for m in MOVIES if m[4] and m[7]]
    write_csv(folder / "keywords.csv", ["id", "keywords"], keywords + [keywords[0]])
    write_csv(folder / "links.csv", ["movieId", "imdbId", "tmdbId"],
              [["1", "0114709", "862"], ["2", "0113277", "949"], ["9", "0000009", ""],
               ["10", "0000010", "949"]])
    return folder


def write_both(root: Path) -> Path:
    """The release and ``root/tmdb``: a data folder as ``$RECSYS_DATA`` holds them."""
    write_release(root)
    write_tmdb(root / "tmdb")
    return root
