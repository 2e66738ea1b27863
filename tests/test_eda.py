"""EDA: every plot is written as a real PNG, with a summary, on small and odd data sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.cli import main
from recsys.dataset import Dataset
from recsys.eda import PLOTS, run_eda

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPECTED = [name for name, _ in PLOTS]


def synthetic(seed: int = 0, n_users: int = 60, n_items: int = 80, half_stars: bool = True,
              with_info: bool = True, with_time: bool = True) -> Dataset:
    rng = np.random.default_rng(seed)
    # Power-law-ish popularity so the long tail and log plots have something to show.
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pairs = {(int(u), int(rng.choice(n_items, p=popularity / popularity.sum())))
             for u in rng.integers(0, n_users, 1500)}
    users, items = map(np.array, zip(*sorted(pairs)))
    ratings = rng.integers(1 if half_stars else 2, 11, len(users)) / 2
    if not half_stars:
        ratings = np.ceil(ratings)
    timestamps = (rng.integers(1_000_000_000, 1_100_000_000, len(users)) if with_time
                  else None)
    info = None
    if with_info:
        genres = ["Action", "Comedy", "Drama", "Sci-Fi", "Children's"]
        info = pd.DataFrame({
            "title": [f"Movie {j} ({1950 + j % 60})" for j in range(n_items)],
            "year": pd.array([1950 + j % 60 for j in range(n_items)], dtype="Int64"),
            "genres": ["|".join(rng.choice(genres, size=1 + j % 3, replace=False))
                       for j in range(n_items)],
        }, index=np.arange(n_items) + 1)
    return Dataset(users, items, ratings, timestamps, np.arange(n_users) + 1,
                   np.arange(n_items) + 1, (0.5 if half_stars else 1.0, 5.0),
                   item_info=info, name="synthetic")


def assert_pngs(out_dir, written):
    names = [p.name for p in written]
    assert names == EXPECTED + ["summary.md"]
    for path in written[:-1]:
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC, path
        assert len(data) > 10_000, f"{path} is suspiciously small ({len(data)} bytes)"
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(names)


@pytest.mark.parametrize("kwargs", [
    {},  # half stars, genres, timestamps
    # Whole stars, no genres, no timestamps: placeholder panels, still valid PNGs.
    {"half_stars": False, "with_info": False, "with_time": False},
])
def test_run_eda_writes_valid_pngs(tmp_path, kwargs):
    ds = synthetic(**kwargs)
    out = tmp_path / "nested" / "eda"
    out.mkdir(parents=True)
    (out / "rating_histogram.png").write_bytes(b"stale")  # replaced, not appended to
    written = run_eda(ds, out)
    assert_pngs(out, written)
    summary = (out / "summary.md").read_text()
    assert "sparsity" in summary.lower()
    assert "synthetic" in summary
    for name in EXPECTED:
        assert f"({name})" in summary


def test_run_eda_on_an_empty_dataset(tmp_path):
    ds = Dataset([], [], [], None, np.array([1]), np.array([1]), (1.0, 5.0), name="empty")
    written = run_eda(ds, tmp_path)
    for path in written[:-1]:
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_cli_eda_on_ml100k(tmp_path, real_data_dir, capsys):
    out = tmp_path / "plots"
    code = main(["eda", "--dataset", "ml-100k", "--data-dir", str(real_data_dir),
                 "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "943 users" in printed and "100,000 ratings" in printed
    assert_pngs(out, [out / n for n in EXPECTED] + [out / "summary.md"])
    summary = (out / "summary.md").read_text()
    assert "0.937" in summary  # sparsity 0.9370


def test_cli_eda_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eda", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--dataset" in text and "--out" in text and "--data-dir" in text


def test_cli_eda_unknown_dataset_is_an_error(tmp_path, capsys):
    code = main(["eda", "--dataset", "ml-nope", "--out", str(tmp_path)])
    assert code != 0
    assert "ml-nope" in capsys.readouterr().err


def test_eda_files_get_the_umask_mode(tmp_path):
    # Written through recsys.io.atomic_write: 0644 under umask 022, not mkstemp's 0600.
    import os
    import stat

    old = os.umask(0o022)
    try:
        written = run_eda(synthetic(with_info=False), tmp_path)
    finally:
        os.umask(old)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# ---------------------------------------------------------------------- TMDB metadata
def _tmdb_root(tmp_path):
    from tmdb_fixture import write_both

    return write_both(tmp_path / "data")


def _small(root):
    import warnings

    from recsys.data import ReleaseMismatchWarning, load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        return load_dataset("ml-latest-small", data_dir=root)


METADATA_PNGS = ["overview_length.png", "top_keywords.png", "metadata_coverage_by_year.png"]


def test_run_eda_with_tmdb_metadata_adds_its_plots(tmp_path):
    from recsys.metadata import load_metadata

    root = _tmdb_root(tmp_path)
    ds = _small(root)
    joined = load_metadata("tmdb", ds, root).joined
    out = tmp_path / "eda"
    written = run_eda(ds, out, metadata=joined)
    assert [p.name for p in written] == EXPECTED + METADATA_PNGS + ["summary.md"]
    for path in written[:-1]:
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, path
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    summary = (out / "summary.md").read_text()
    assert "## TMDB metadata" in summary and "with overview 4 (50.0%)" in summary
    for name in METADATA_PNGS:
        assert f"({name})" in summary


def test_metadata_plot_figures(tmp_path):
    from recsys.eda_metadata import (overview_words, plot_coverage_by_year,
                                     plot_top_keywords, release_years)
    from recsys.eda_style import figure as _figure
    from recsys.metadata import load_metadata

    root = _tmdb_root(tmp_path)
    ds = _small(root)
    items = load_metadata("tmdb", ds, root).joined.items
    assert sorted(overview_words(items).tolist()) == [8, 11, 13, 14]
    fig, (ax,) = _figure()
    plot_top_keywords(ds, items, ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-2:] == ["heist", "bank robbery"]  # 3 movies each; ties by name, top last
    assert "13 distinct keywords on 5 of 8 movies" in ax.get_title()
    assert release_years(ds, items).loc[3] == 1954
    fig, (ax,) = _figure()
    plot_coverage_by_year(ds, items, ax)
    lines = {line.get_label().split(" (")[0]: line.get_ydata() for line in ax.get_lines()}
    assert set(lines) == {"with a TMDB row", "with keywords", "with an overview"}
    assert "5-year bins" in ax.get_title()  # 1954 to 2010
    shares = dict(zip(ax.get_lines()[2].get_xdata(), lines["with an overview"]))
    assert shares[1952] == 100.0 and shares[1992] == 0.0  # Seven Samurai; 1990 and 1991


def test_cli_eda_with_metadata(tmp_path, capsys):
    root = _tmdb_root(tmp_path)
    out = tmp_path / "plots"
    assert main(["eda", "--data-dir", str(root), "--metadata", "tmdb", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "TMDB coverage of 8 movies" in printed
    for name in METADATA_PNGS:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    # the same rule as data info: a folder given is searched alone, and nothing is written
    # when the TMDB files are not there
    empty = tmp_path / "none"
    code = main(["eda", "--data-dir", str(root), "--metadata", "tmdb", "--metadata-dir",
                 str(tmp_path), "--out", str(empty), "--no-progress"])
    assert code == 1 and not empty.exists()
    assert "TMDB metadata not found" in capsys.readouterr().err
