"""The benchmark config: a TOML file describing the grid data sets x splits x models x metrics.

Every key is checked when the file is read; a mistake raises :class:`ConfigError` naming the
file and the key (``quick.toml: models[2].params.n_factors: expected ...``), before any model
is fitted. The format, with every key and its default::

    [bench]
    name = "quick"                 # default: the file name without .toml
    description = "..."            # one line, printed above the table
    metrics = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10"]
                                   # rmse/mae select the rating protocol (predict the test
                                   # ratings); any top-N metric (precision@K, recall@K, ndcg@K,
                                   # map@K, hit@K, mrr, coverage, novelty) selects the top-N
                                   # protocol (rank every item the user has not rated in train)
                                   # opt-in beyond-accuracy metrics of the lists: ild_genres,
                                   # ild_content, arp, aplt, gini, serendipity, calibration
    relevance_threshold = 4.0      # top-N: a test item is relevant if rated >= this
    reference = "Surprise SVD"     # label of the model the speed-ratio column divides by
    readme_section = "ml100k-rating"   # marker name for --update-readme
    warmup = true                  # fit each recsys model once on tiny data first (JIT compile)
    learning_curves = true         # extra untimed fit on the first fold with eval_set=test
                                   # for models whose fit takes eval_set (per-epoch RMSE)
    paired = ["rmse", "ndcg@10"]   # metrics of the automatic paired tests vs the reference

    [[datasets]]                   # one or more
    name = "ml-100k"               # any name load_dataset knows ...
    [[datasets]]
    name = "synthetic-1m"          # ... or a synthetic one: the table goes to
    synthetic = { n_users = 20000, n_items = 5000, n_ratings = 1000000, seed = 0 }
                                   # recsys.data.synthetic.generate(**synthetic)
    [[datasets]]                   # ... or a path and a format (recsys.data.custom):
    path = "ratings.csv"           # relative to this file; ~ and $VARS expanded
    format = "csv"                 # "ml-100k" | "ml-1m" | "ml-latest" (release folders)
                                   # | "csv" | "implicit" (one file)
    label = "my ratings"           # the name the tables use (default: the file name)
    columns = { user = "userId", item = "movieId", rating = "stars", timestamp = "ts" }
                                   # csv/implicit: header names or 0-based positions;
                                   # implicit: user, item, optional count and timestamp
    sep = ","                      # csv/implicit: one character or "::"
    header = true                  # csv/implicit: the first line names the columns
    rating_scale = [1, 5]          # csv: required
    rating_step = 0.5              # csv: optional
    id_type = "int"                # csv/implicit: "int" or "str" ids
    release = "ml-1m"              # MovieLens folder formats: the registered release to
                                   # check its counts against (default: the folder's name)
    [[datasets]]
    name = "ml-latest-small"
    metadata = "tmdb"              # join TMDB into item_info (found as `recsys data info
                                   # --metadata tmdb` finds it) for ContentKNN(features="tmdb")
    shuffle_items = 0              # permute the item indices with this seed: equal top-N
                                   # scores then rank in a random order, not by movieId

    [[splits]]                     # one or more ([split] for exactly one); the table goes to
    method = "official"            # recsys.split.split_from_config, except these two keys:
    folds = ["u1", "u2", "u3", "u4", "u5"]
    name = "u1-u5"                 # label in the table (default: the method)
    datasets = ["ml-100k"]         # only for these data sets (default: all)
    candidates = "unrated"         # top-N ranks every item the user did not rate in train
                                   # (default), or "test_items": only the fold's test items
    among = "tmdb"                 # item_cold_start: hold out only items with this metadata
    sampled = { n_negatives = 100, sampling = "uniform", replace = false, gamma = 0.1, seed = 0 }
                                   # also rank each relevant test item among n sampled
                                   # negatives ("uniform" or "popularity"): the rows get
                                   # full_/sampled_/corrected_ hit@K and ndcg@K (Krichene &
                                   # Rendle 2020, recsys.sampled); `sampled = true` = defaults
                                   # Protocols (method = ...; recsys.split): "official",
                                   # "holdout", "kfold", "user_holdout", "temporal",
                                   # "global_temporal" (validation_quantile/test_quantile or
                                   # validation_at/test_at; drops and counts unseen users and
                                   # items), "leave_one_out" (by = "time" | "random"),
                                   # "item_cold_start", "user_cold_start" (test_fraction,
                                   # n_given: scored by new-user fold-in; a model without
                                   # it gets status "unsupported")

    [[models]]                     # one or more
    name = "FunkSVD"               # a registered model class name, or an adapter name
    library = "recsys"             # "recsys" (default), "surprise" or "implicit"
    label = "FunkSVD"              # unique name in the table (default: name for recsys,
                                   # "<library>:<name>" otherwise)
    params = { n_factors = 100 }   # constructor arguments
    params_from = "tuned/x.json"   # start from the best parameters of a `recsys tune --out`
                                   # run record (.json) or [[models]] snippet (.toml), the
                                   # path relative to this file; keys in params override them
    folds = ["u1"]                 # run on these folds only (default: every fold)
    datasets = ["ml-100k"]         # run on these data sets only (default: all)
    metrics = ["rmse", "mae"]      # override [bench].metrics for this model
    counterpart = "Surprise SVD"   # the reference implementation of the same algorithm: the
                                   # table gets a speed-up column against it and the paired
                                   # tests compare the two

    [[compare]]                    # extra paired tests (each model vs the reference is automatic)
    a = "FunkSVD"
    b = "Surprise SVD"
    metric = "rmse"

All top-N metrics of one config share one cut-off ``k`` (the ``@10``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys.errors import RecsysError
from recsys.bench.adapters import LIBRARIES as PEER_LIBRARIES

LIBRARIES = ("recsys", *PEER_LIBRARIES)
RATING_METRICS = ("rmse", "mae")
#: Top-N metrics that take a cut-off: ``<name>@<k>``.
TOPN_AT_METRICS = ("precision", "recall", "ndcg", "map", "hit")
#: Top-N metrics without a cut-off in their name (computed on the top-k lists):
#: mean reciprocal rank, catalogue coverage, novelty.
TOPN_LIST_METRICS = ("mrr", "coverage", "novelty")
#: Beyond-accuracy metrics of the top-k lists (:mod:`recsys.beyond_accuracy`), opt-in:
#: intra-list diversity of genre and content vectors, average recommendation popularity,
#: long-tail share, Gini of item exposure, serendipity against the popularity baseline,
#: Steck's calibration KL over genres.
BEYOND_ACCURACY_METRICS = ("ild_genres", "ild_content", "arp", "aplt", "gini", "serendipity",
                           "calibration")
#: The keys of a split's ``sampled`` table (:func:`recsys.sampled.evaluate_sampled`).
SAMPLED_KEYS = {"n_negatives": 100, "sampling": "uniform", "replace": False, "gamma": 0.1,
                "seed": 0}
DEFAULT_METRICS = ("rmse", "mae", "precision@10", "recall@10", "ndcg@10", "coverage", "novelty")

_AT = re.compile(r"^([a-z]+)@(\d+)$")


class ConfigError(RecsysError, ValueError):
    """A benchmark config is malformed; the message names the file and the key."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


#: The keys of a ``[[datasets]]`` entry given by ``path`` and ``format``.
PATH_KEYS = ("path", "format", "label", "metadata", "shuffle_items", "release", "columns",
             "sep", "header", "rating_scale", "rating_step", "id_type")
#: Of those, the layout of a ``"csv"`` or ``"implicit"`` file.
TABLE_KEYS = ("columns", "sep", "header", "rating_scale", "rating_step", "id_type")

#: What a top-N list may rank (``[[splits]] candidates``).
CANDIDATES = ("unrated", "test_items")


@dataclass(frozen=True)
class DatasetSpec:
    """One data set of the grid: a name for ``load_dataset``, synthetic parameters, or a
    ``path`` in a ``format`` (:func:`recsys.data.custom.load_path`, with the file layout of
    ``table``: a :class:`recsys.data.custom.TableFormat`'s fields, and the registered
    ``release`` a folder copies); the metadata to join to it (``"tmdb"``:
    :func:`recsys.metadata.load_metadata`), and the seed of the permutation of its item
    indices (None: the data set's own order). ``name`` is what the tables show: the
    ``label`` of a path data set."""

    name: str
    synthetic: dict[str, Any] | None = None
    metadata: str | None = None
    shuffle_items: int | None = None
    path: str | None = None
    format: str | None = None
    table: dict[str, Any] | None = None
    release: str | None = None


@dataclass(frozen=True)
class SplitSpec:
    """One splitter: ``spec`` goes to :func:`recsys.split.split_from_config` (with
    ``among``, to :func:`recsys.split.item_cold_start` with the items that have that
    metadata); ``candidates`` is what its top-N lists rank (:data:`CANDIDATES`);
    ``sampled`` the settings of the sampled-ranking evaluation run beside the full one."""

    name: str
    spec: dict[str, Any]
    datasets: tuple[str, ...] | None = None
    candidates: str = "unrated"
    among: str | None = None
    #: Sampled ranking next to full ranking (``sampled = {...}``: :data:`SAMPLED_KEYS`,
    #: defaults filled in), or None.
    sampled: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid."""

    name: str
    library: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    folds: tuple[str, ...] | None = None
    datasets: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    counterpart: str | None = None
    #: The tuned-parameters file ``params`` started from (``params_from``, resolved), if any.
    params_from: str | None = None


@dataclass(frozen=True)
class CompareSpec:
    """An explicit paired comparison of two model labels on one metric."""

    a: str
    b: str
    metric: str


@dataclass(frozen=True)
class BenchConfig:
    """A parsed and validated benchmark config (see the module docstring for the format)."""

    name: str
    source: str
    datasets: tuple[DatasetSpec, ...]
    splits: tuple[SplitSpec, ...]
    models: tuple[ModelSpec, ...]
    metrics: tuple[str, ...] = DEFAULT_METRICS
    k: int = 10
    relevance_threshold: float = 4.0
    reference: str | None = None
    readme_section: str | None = None
    description: str = ""
    warmup: bool = True
    learning_curves: bool = True
    paired: tuple[str, ...] = ("rmse", "ndcg@10")
    compare: tuple[CompareSpec, ...] = ()

    def model_metrics(self, model: ModelSpec) -> tuple[str, ...]:
        return model.metrics if model.metrics is not None else self.metrics

    @property
    def counterparts(self) -> dict[str, str]:
        """Model label -> the label of its counterpart (models that name one)."""
        return {m.label: m.counterpart for m in self.models if m.counterpart}


def is_rating_metric(name: str) -> bool:
    return name in RATING_METRICS


def is_topn_metric(name: str) -> bool:
    m = _AT.match(name)
    return ((m is not None and m.group(1) in TOPN_AT_METRICS) or name in TOPN_LIST_METRICS
            or name in BEYOND_ACCURACY_METRICS)


def is_beyond_accuracy_metric(name: str) -> bool:
    return name in BEYOND_ACCURACY_METRICS


_SAMPLED = re.compile(r"^(full|sampled|corrected)_(hit|ndcg)@(\d+)$")


def is_sampled_metric(name: str) -> bool:
    """``full_|sampled_|corrected_`` + ``hit@K | ndcg@K``: computed for the splits with a
    ``sampled`` table (at the config's K), and accepted in ``paired`` and ``[[compare]]``."""
    return _SAMPLED.match(name) is not None


# ---------------------------------------------------------------------- reading
def load_config(path: str | Path) -> BenchConfig:
    """Read and validate a benchmark config file. Raises ConfigError naming file and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such config file") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read ({exc})") from exc
    return parse_config(text, source=str(path), default_name=path.stem)


def parse_config(text: str, source: str = "<config>", default_name: str = "bench") -> BenchConfig:
    """Parse and validate config text (TOML). ``source`` names it in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML ({exc})") from exc
    return _Validator(source).config(doc, default_name)


class _Validator:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str):
        raise ConfigError(self.source, key, message)

    # -------------------------------------------------------------- typed getters
    def table(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {_kind(value)}")
        return value

    def unknown(self, table: dict, allowed: set[str], key: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            where = f"{key}.{extra[0]}" if key else extra[0]
            self.fail(where, f"unknown key; valid keys here: {sorted(allowed)}")

    def string(self, table: dict, name: str, key: str, default=None, required=False):
        if name not in table:
            if required:
                self.fail(f"{key}.{name}" if key else name, "missing (required)")
            return default
        value = table[name]
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key}.{name}" if key else name,
                      f"expected a non-empty string, got {_kind(value)}")
        return value

    def boolean(self, table: dict, name: str, key: str, default: bool) -> bool:
        value = table.get(name, default)
        if not isinstance(value, bool):
            self.fail(f"{key}.{name}", f"expected true or false, got {_kind(value)}")
        return value

    def number(self, table: dict, name: str, key: str, default: float) -> float:
        value = table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{key}.{name}", f"expected a number, got {_kind(value)}")
        return float(value)

    def strings(self, table: dict, name: str, key: str, default=None):
        if name not in table:
            return default
        value = table[name]
        if isinstance(value, str):
            value = [value]
        where = f"{key}.{name}"
        if not isinstance(value, list) or not value:
            self.fail(where, f"expected a non-empty list of strings, got {_kind(value)}")
        for j, v in enumerate(value):
            if not isinstance(v, str) or not v:
                self.fail(f"{where}[{j}]", f"expected a string, got {_kind(v)}")
        return tuple(value)

    def array_of_tables(self, doc: dict, plural: str,
                        singular: str | None) -> list[tuple[str, dict]]:
        if singular and singular in doc:
            if plural in doc:
                self.fail(singular, f"give either [{singular}] or [[{plural}]], not both")
            return [(singular, self.table(doc[singular], singular))]
        if plural not in doc:
            self.fail(plural, f"missing (required): add at least one [[{plural}]] table")
        items = doc[plural]
        if not isinstance(items, list) or not items:
            self.fail(plural, f"expected one or more [[{plural}]] tables, got {_kind(items)}")
        return [(f"{plural}[{j}]", self.table(t, f"{plural}[{j}]")) for j, t in enumerate(items)]

    # -------------------------------------------------------------- sections
    def metrics(self, value, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            self.fail(key, f"expected a non-empty list of metric names, got {_kind(value)}")
        out = []
        for j, name in enumerate(value):
            if not isinstance(name, str) or not (is_rating_metric(name) or is_topn_metric(name)
                                                 or is_sampled_metric(name)):
                self.fail(f"{key}[{j}]", f"unknown metric {name!r}; valid: rmse, mae, "
                          f"{', '.join(m + '@K' for m in TOPN_AT_METRICS)}, mrr, coverage, "
                          f"novelty, {', '.join(BEYOND_ACCURACY_METRICS)}, and with a "
                          f"split's sampled table full_|sampled_|corrected_ + hit@K|ndcg@K")
            out.append(name)
        return tuple(out)

    def config(self, doc: dict, default_name: str) -> BenchConfig:
        self.unknown(doc, {"bench", "datasets", "split", "splits", "models", "compare"}, "")
        bench = self.table(doc.get("bench", {}), "bench")
        self.unknown(bench, {"name", "description", "metrics", "relevance_threshold", "reference",
                             "readme_section", "warmup", "learning_curves", "paired"}, "bench")
        metrics = self.metrics(bench.get("metrics", list(DEFAULT_METRICS)), "bench.metrics")
        datasets = self.datasets(doc)
        splits = self.splits(doc, datasets)
        models = self.models(doc, datasets)
        labels = {m.label for m in models}

        all_metrics = set(metrics).union(*(m.metrics or () for m in models))
        ks = sorted({int(_AT.match(m).group(2)) for m in all_metrics if _AT.match(m)})
        if len(ks) > 1:
            self.fail("bench.metrics", f"all top-N metrics must share one cut-off k, got {ks}")
        k = ks[0] if ks else 10

        reference = self.string(bench, "reference", "bench")
        if reference is not None and reference not in labels:
            self.fail("bench.reference", f"{reference!r} is not the label of a model in this "
                      f"config; labels: {sorted(labels)}")
        paired = self.metrics(bench.get("paired", ["rmse", f"ndcg@{k}"]), "bench.paired")
        compare = self.compare(doc, labels)

        return BenchConfig(
            name=self.string(bench, "name", "bench", default=default_name),
            source=self.source,
            datasets=tuple(datasets), splits=tuple(splits), models=tuple(models),
            metrics=metrics, k=k,
            relevance_threshold=self.number(bench, "relevance_threshold", "bench", 4.0),
            reference=reference,
            readme_section=self.string(bench, "readme_section", "bench"),
            description=self.string(bench, "description", "bench", default="") or "",
            warmup=self.boolean(bench, "warmup", "bench", True),
            learning_curves=self.boolean(bench, "learning_curves", "bench", True),
            paired=paired, compare=tuple(compare),
        )

    def datasets(self, doc: dict) -> list[DatasetSpec]:
        datasets = []
        for key, t in self.array_of_tables(doc, "datasets", None):
            if "path" in t or "format" in t:
                datasets.append(self._path_dataset(doc, t, key))
                continue
            self.unknown(t, {"name", "synthetic", "metadata", "shuffle_items"}, key)
            name = self.string(t, "name", key, required=True)
            synthetic = None
            if "synthetic" in t:
                synthetic = dict(self.table(t["synthetic"], f"{key}.synthetic"))
                self.unknown(synthetic, _generator_params(), f"{key}.synthetic")
                for req in ("n_users", "n_items", "n_ratings"):
                    v = synthetic.get(req)
                    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                        self.fail(f"{key}.synthetic.{req}",
                                  f"expected a positive integer, got {_kind(v)}")
            metadata = self._metadata(t, key, synthetic is not None, name)
            datasets.append(DatasetSpec(name, synthetic, metadata, self._shuffle(t, key)))
        _unique([d.name for d in datasets], "datasets", "name", self)
        return datasets

    def _metadata(self, t: dict, key: str, synthetic: bool, name: str,
                  format: str | None = None) -> str | None:
        from recsys.metadata import name_problem

        metadata = self.string(t, "metadata", key)
        problem = metadata and name_problem(metadata, name, synthetic)
        if metadata and not problem and format is not None and format != "ml-latest":
            problem = (f"format {format!r} has no links.csv to join {metadata} through "
                       "(format 'ml-latest', the CSV releases, has one)")
        if problem:
            self.fail(f"{key}.metadata", problem)
        return metadata

    def _path_dataset(self, doc: dict, t: dict, key: str) -> DatasetSpec:
        """A ``[[datasets]]`` entry with ``path`` and ``format`` (:data:`PATH_KEYS`)."""
        from recsys.data.custom import FORMATS, MOVIELENS_FORMATS

        if "name" in t:
            self.fail(f"{key}.name", "a data set given by path is named by label (the "
                      "tables use it), not name")
        self.unknown(t, set(PATH_KEYS), key)
        path = self.string(t, "path", key, required=True)
        fmt = self.string(t, "format", key, required=True)
        if fmt not in FORMATS:
            self.fail(f"{key}.format", f"unknown format {fmt!r}; valid: {list(FORMATS)}")
        path = self._resolve(path)
        label = self.string(t, "label", key, default=Path(path).stem if fmt in (
            "csv", "implicit") else Path(path).name)
        table_keys = [k for k in TABLE_KEYS if k in t]
        if fmt in MOVIELENS_FORMATS:
            if table_keys:
                self.fail(f"{key}.{table_keys[0]}", f"format {fmt!r} is a release folder "
                          f"with its own layout; {table_keys[0]} is for 'csv' and 'implicit'")
        elif "release" in t:
            self.fail(f"{key}.release", f"release names the registered release a folder of "
                      f"a MovieLens format copies; format {fmt!r} is one file")
        release = self.string(t, "release", key)
        if release is not None:
            from recsys.data.releases import RELEASES

            layout = MOVIELENS_FORMATS[fmt]
            if release not in RELEASES or RELEASES[release].format != layout:
                fits = sorted(n for n, r in RELEASES.items() if r.format == layout)
                self.fail(f"{key}.release", f"{release!r} is not a registered release of "
                          f"format {fmt!r}; those are {fits}")
        table = None
        if fmt in ("csv", "implicit"):
            table = self._table_format(t, key, fmt, doc)
        metadata = self._metadata(t, key, False, release or label, fmt)
        return DatasetSpec(label, None, metadata, self._shuffle(t, key), path, fmt, table,
                           release)

    def _resolve(self, path: str) -> str:
        """``~`` and ``$VARS`` expanded; a relative path is relative to the config file's
        folder (the working directory for config text that is no file)."""
        import os

        expanded = Path(os.path.expandvars(os.path.expanduser(path)))
        source = Path(self.source)
        if not expanded.is_absolute() and source.is_file():
            expanded = source.resolve().parent / expanded
        return str(expanded)

    def _table_format(self, t: dict, key: str, fmt: str, doc: dict) -> dict[str, Any]:
        """The file layout keys of a ``csv``/``implicit`` entry, checked: the fields of a
        :class:`recsys.data.custom.TableFormat`."""
        from recsys.data.custom import ID_TYPES

        out: dict[str, Any] = {}
        if "columns" in t:
            columns = dict(self.table(t["columns"], f"{key}.columns"))
            fields = ("user", "item", "rating" if fmt == "csv" else "count", "timestamp")
            self.unknown(columns, set(fields), f"{key}.columns")
            for name, where in columns.items():
                if isinstance(where, bool) or not (
                        (isinstance(where, str) and where) or
                        (isinstance(where, int) and where >= 0)):
                    self.fail(f"{key}.columns.{name}", f"expected a column name or a 0-based "
                              f"position, got {_kind(where)}")
            out["columns"] = columns
        sep = self.string(t, "sep", key, default=",")
        if sep != "::" and len(sep) != 1:
            self.fail(f"{key}.sep", f"expected one character (or '::'), got {sep!r}")
        out["sep"] = sep
        out["header"] = self.boolean(t, "header", key, True)
        if not out["header"] and any(isinstance(v, str) for v in out.get("columns", {}).values()):
            name = next(k for k, v in out["columns"].items() if isinstance(v, str))
            self.fail(f"{key}.columns.{name}", "header = false: give the column's 0-based "
                      "position, not a name")
        if "rating_scale" in t:
            if fmt != "csv":
                self.fail(f"{key}.rating_scale", "implicit data has no rating scale (the "
                          "counts are confidences)")
            scale = t["rating_scale"]
            if (not isinstance(scale, list) or len(scale) != 2 or any(
                    isinstance(v, bool) or not isinstance(v, (int, float)) for v in scale)
                    or not scale[0] < scale[1]):
                self.fail(f"{key}.rating_scale", f"expected [lowest, highest], lowest < "
                          f"highest, got {_kind(scale)}")
            out["rating_scale"] = (float(scale[0]), float(scale[1]))
        elif fmt == "csv":
            self.fail(f"{key}.rating_scale", "missing (required for format 'csv'): the "
                      "lowest and highest rating, e.g. [1, 5]")
        if "rating_step" in t:
            if fmt != "csv":
                self.fail(f"{key}.rating_step", "only format 'csv' has ratings")
            step = self.number(t, "rating_step", key, 0.0)
            if not step > 0:
                self.fail(f"{key}.rating_step", f"expected a number > 0, got {step:g}")
            out["rating_step"] = step
        id_type = self.string(t, "id_type", key, default="int")
        if id_type not in ID_TYPES:
            self.fail(f"{key}.id_type", f"expected one of {list(ID_TYPES)}, got {id_type!r}")
        out["id_type"] = id_type
        if fmt == "implicit":
            threshold = self.table(doc.get("bench", {}), "bench").get("relevance_threshold",
                                                                       4.0)
            if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) \
                    and threshold > 1:
                self.fail(f"{key}.format", f"implicit data rates every interaction 1 or "
                          f"more (its count), so bench.relevance_threshold = {threshold:g} "
                          f"leaves little or nothing relevant: set relevance_threshold = 1")
        return out

    def _shuffle(self, t: dict, key: str) -> int | None:
        seed = t.get("shuffle_items")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or seed < 0):
            self.fail(f"{key}.shuffle_items", f"expected a seed (an integer >= 0), got "
                      f"{_kind(seed)}")
        return seed

    def splits(self, doc: dict, datasets: list[DatasetSpec]) -> list[SplitSpec]:
        splits = []
        harness_keys = ("name", "datasets", "candidates", "among", "sampled")
        for key, t in self.array_of_tables(doc, "splits", "split"):
            method = self.string(t, "method", key, required=True)
            name = self.string(t, "name", key, default=method)
            only = self.strings(t, "datasets", key)
            self._known_datasets(only, datasets, f"{key}.datasets")
            spec = {k: v for k, v in t.items() if k not in harness_keys}
            self._check_split(spec, key)
            candidates = self.string(t, "candidates", key, default="unrated")
            if candidates not in CANDIDATES:
                self.fail(f"{key}.candidates", f"unknown candidates {candidates!r}; valid: "
                          f"{list(CANDIDATES)}")
            among = self._among(t, key, method, only, datasets)
            sampled = self._sampled(t, key)
            splits.append(SplitSpec(name, spec, only, candidates, among, sampled))
        _unique([s.name for s in splits], "splits", "name", self)
        return splits

    def _sampled(self, t: dict, key: str) -> dict[str, Any] | None:
        """The split's ``sampled`` table, checked, with the defaults of :data:`SAMPLED_KEYS`;
        ``true`` takes every default."""
        if "sampled" not in t:
            return None
        where = f"{key}.sampled"
        value = t["sampled"]
        if value is False:
            return None
        table = {} if value is True else dict(self.table(value, where))
        self.unknown(table, set(SAMPLED_KEYS), where)
        out = {**SAMPLED_KEYS, **table}
        n = out["n_negatives"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            self.fail(f"{where}.n_negatives", f"expected an integer >= 1, got {_kind(n)}")
        if out["sampling"] not in ("uniform", "popularity"):
            self.fail(f"{where}.sampling", f"expected 'uniform' or 'popularity', got "
                      f"{_kind(out['sampling'])}")
        if not isinstance(out["replace"], bool):
            self.fail(f"{where}.replace", f"expected true or false, got {_kind(out['replace'])}")
        g = out["gamma"]
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g <= 1:
            self.fail(f"{where}.gamma", f"expected a number in [0, 1], got {_kind(g)}")
        seed = out["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            self.fail(f"{where}.seed", f"expected a seed (an integer >= 0), got {_kind(seed)}")
        return out

    def _among(self, t: dict, key: str, method: str, only, datasets) -> str | None:
        among = self.string(t, "among", key)
        if among is None:
            return None
        if method != "item_cold_start":
            self.fail(f"{key}.among", f"only the item_cold_start split takes among, not "
                      f"{method!r}")
        lacking = [d.name for d in datasets
                   if (only is None or d.name in only) and d.metadata != among]
        if lacking:
            self.fail(f"{key}.among", f"data set {lacking[0]!r} has no metadata = {among!r}: "
                      f"add it to its [[datasets]] table, or name the data sets that do in "
                      f"{key}.datasets")
        return among

    def models(self, doc: dict, datasets: list[DatasetSpec]) -> list[ModelSpec]:
        models = []
        for key, t in self.array_of_tables(doc, "models", None):
            self.unknown(t, {"name", "library", "label", "params", "params_from", "folds",
                             "datasets", "metrics", "counterpart"}, key)
            name = self.string(t, "name", key, required=True)
            library = self.string(t, "library", key, default="recsys")
            if library not in LIBRARIES:
                self.fail(f"{key}.library", f"unknown library {library!r}; valid: "
                          f"{list(LIBRARIES)}")
            label = self.string(t, "label", key,
                                default=name if library == "recsys" else f"{library}:{name}")
            params = dict(self.table(t.get("params", {}), f"{key}.params"))
            for p in params:
                if not p.isidentifier():
                    self.fail(f"{key}.params.{p}", "not a valid parameter name")
            params_from = None
            if "params_from" in t:
                params_from, tuned = self._params_from(t, key, name, library)
                params = {**tuned, **params}
            only = self.strings(t, "datasets", key)
            self._known_datasets(only, datasets, f"{key}.datasets")
            mm = self.metrics(t["metrics"], f"{key}.metrics") if "metrics" in t else None
            models.append(ModelSpec(name, library, label, params, self.strings(t, "folds", key),
                                    only, mm, self.string(t, "counterpart", key), params_from))
        _unique([m.label for m in models], "models", "label", self)
        labels = {m.label for m in models}
        for j, m in enumerate(models):
            if m.counterpart is not None and (m.counterpart not in labels
                                              or m.counterpart == m.label):
                self.fail(f"models[{j}].counterpart", f"{m.counterpart!r} is not the label of "
                          f"another model in this config; labels: {sorted(labels)}")
        return models

    def _params_from(self, t: dict, key: str, name: str, library: str) -> tuple[str, dict]:
        """(resolved path, parameters) of ``params_from``: a run record or ``[[models]]``
        snippet of ``name``, relative to the config file (to the working directory for
        config text without a file)."""
        from pathlib import Path

        from recsys.tuning import RunRecordError, read_run_record

        where = f"{key}.params_from"
        rel = self.string(t, "params_from", key)
        if library != "recsys":
            self.fail(where, f"only recsys models read tuned parameters, not {library!r}")
        source = Path(self.source)
        path = Path(rel).expanduser()
        if not path.is_absolute():
            path = (source.parent if source.is_file() else Path.cwd()) / path
        try:
            record = read_run_record(path, model=name)
        except RunRecordError as exc:
            self.fail(where, str(exc))
        return str(path), dict(record["params"])

    def compare(self, doc: dict, labels: set[str]) -> list[CompareSpec]:
        compare = []
        if "compare" not in doc:
            return compare
        items = doc["compare"]
        if not isinstance(items, list):
            self.fail("compare", f"expected [[compare]] tables, got {_kind(items)}")
        for j, t in enumerate(items):
            key = f"compare[{j}]"
            t = self.table(t, key)
            self.unknown(t, {"a", "b", "metric"}, key)
            pair = []
            for side in ("a", "b"):
                v = self.string(t, side, key, required=True)
                if v not in labels:
                    self.fail(f"{key}.{side}", f"{v!r} is not the label of a model in this "
                              f"config; labels: {sorted(labels)}")
                pair.append(v)
            metric = self.metrics(self.string(t, "metric", key, default="rmse"),
                                  f"{key}.metric")[0]
            compare.append(CompareSpec(pair[0], pair[1], metric))
        return compare

    def _known_datasets(self, only, datasets, key: str) -> None:
        if only is None:
            return
        names = {d.name for d in datasets}
        for j, n in enumerate(only):
            if n not in names:
                self.fail(f"{key}[{j}]", f"{n!r} is not a data set of this config; "
                          f"data sets: {sorted(names)}")

    def _check_split(self, spec: dict, key: str) -> None:
        # The splitter validates its own arguments when it runs; check the method name and
        # the argument names here so a typo fails before hours of fitting.
        from recsys.split import SPLIT_METHODS

        method = spec["method"]
        if method not in SPLIT_METHODS:
            self.fail(f"{key}.method", f"unknown split method {method!r}; valid: "
                      f"{sorted(SPLIT_METHODS)}")
        extra = sorted(set(spec) - {"method"} - set(SPLIT_METHODS[method]))
        if extra:
            self.fail(f"{key}.{extra[0]}", f"unknown key for split method {method!r}; valid: "
                      f"{sorted(SPLIT_METHODS[method]) + ['name', 'datasets', 'candidates']}"
                      + (" and among" if method == "item_cold_start" else "")
                      + "; any split also takes sampled = {...}")


def _generator_params() -> set[str]:
    """Argument names of the synthetic generator."""
    import inspect

    from recsys.data.synthetic import generate

    return set(inspect.signature(generate).parameters)


def _unique(values: list[str], plural: str, field_name: str, v: _Validator) -> None:
    seen = set()
    for j, value in enumerate(values):
        if value in seen:
            v.fail(f"{plural}[{j}].{field_name}", f"duplicate {field_name} {value!r}"
                   + ("; give the models distinct labels" if plural == "models" else ""))
        seen.add(value)


def _kind(value) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list {value!r}" if len(repr(value)) < 60 else "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"
