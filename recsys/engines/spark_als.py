"""Spark MLlib ALS as a training engine: the session, data in and out of Spark, and training
from Parquet into a recsys :class:`~recsys.models.als.ALS` model file.

How Spark's ALS maps to ours
----------------------------
Spark's explicit ALS (``pyspark.ml.recommendation.ALS``, ``implicitPrefs=False``) minimises

    sum_(u,i) (r_ui - x_u . y_i)^2 + regParam * (sum_u n_u |x_u|^2 + sum_i n_i |y_i|^2)

with n_u, n_i the rows' numbers of ratings: the weighted-lambda regularisation of Zhou et al.
(2008), which Spark applies by solving each row's normal equations with ``regParam * n``
added to the diagonal. That is exactly the penalty of recsys ALS (``reg * n_u * |p_u|^2``), so
``regParam`` = our ``reg``, ``rank`` = ``n_factors``, ``maxIter`` = ``n_iterations``. Spark's
model has no biases and no global mean; ours with ``biases=False`` keeps the mean ``mu`` as an
offset, so Spark is given the centred ratings ``r - mu`` (``center=True``, the default
here) and the two models are the same function ``mu + p_u . q_i``. What still differs: the
initial factors (Spark draws both sides per block and normalises them; ours draws the item
side) and the order (Spark solves the items first).

Users and items Spark never saw (not in the training data) come back as NaN from
``transform`` with ``coldStartStrategy="nan"``; like recsys ALS without biases (an unknown
side's terms are left out) they are scored ``mu``.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from recsys.errors import DataFormatError, RecsysError

__all__ = ["DEFAULT_MASTER", "MASTER_ENV", "SparkEngineError", "resolve_master",
           "spark_session", "ratings_frame", "factor_table", "als_estimator",
           "train_from_parquet", "to_recsys_als"]

#: The master used when neither the caller, nor the config, nor the environment names one.
DEFAULT_MASTER = "local[*]"
#: Environment variable read for the master (``recsys bench --spark-master`` sets it).
MASTER_ENV = "RECSYS_SPARK_MASTER"


class SparkEngineError(RecsysError, RuntimeError):
    """Spark cannot run what was asked (a second master in one process, bad input data)."""


def resolve_master(master: str | None = None) -> str:
    """``master`` if given, else ``$RECSYS_SPARK_MASTER``, else ``local[*]``."""
    if master:
        return str(master)
    return os.environ.get(MASTER_ENV) or DEFAULT_MASTER


def import_pyspark():
    """Import the pyspark modules recsys uses (ImportError if pyspark is missing) and return
    ``pyspark.ml.recommendation.ALS``. pyspark 4.3 warns at import that it "does not yet
    fully support pandas >= 3"; recsys hands Spark Arrow tables, never pandas frames, so
    that warning is silenced here (and only that one)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        import pyspark.errors  # noqa: F401
        import pyspark.sql  # noqa: F401
        from pyspark.ml.recommendation import ALS
    return ALS


def spark_session(master: str | None = None, app_name: str = "recsys"):
    """The process's SparkSession on ``master`` (see :func:`resolve_master`), started if none
    runs: ``(session, startup_seconds)``, 0.0 seconds when a session was already running.

    Spark allows one SparkContext per process: a running session on another master is an
    error (SparkEngineError naming both), never silently reused. On a ``local`` master the
    web UI is off and SQL shuffles use a few partitions per core (Spark's 200 are meant for
    clusters and make small jobs slow); on a cluster Spark's own settings stand.
    """
    try:
        import_pyspark()
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkEngineError(f"pyspark cannot be imported ({exc}); install recsys[spark] "
                               "(pyspark, pyarrow) and a Java 17+ runtime") from None
    master = resolve_master(master)
    running = SparkContext._active_spark_context
    if running is not None:
        if running.master != master:
            raise SparkEngineError(f"a Spark session on {running.master!r} is already running "
                                   f"in this process; cannot start one on {master!r} "
                                   "(Spark allows one per process)")
        return SparkSession.builder.getOrCreate(), 0.0
    t0 = time.perf_counter()
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if master.startswith("local"):
        cores = os.cpu_count() or 2
        builder = (builder.config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", str(max(4, 2 * cores))))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SparkEngineError(f"cannot start Spark on {master!r} ({type(exc).__name__}: "
                               f"{first}); Spark 4 needs a Java 17+ runtime on PATH or in "
                               "JAVA_HOME (Debian: openjdk-17-jre-headless)") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session, time.perf_counter() - t0


def ratings_frame(session, users: np.ndarray, items: np.ndarray, ratings: np.ndarray | None,
                  extra: dict[str, np.ndarray] | None = None):
    """A Spark DataFrame ``(user int, item int[, rating float][, extra...])`` from arrays,
    through Arrow (no pandas, no per-row Python objects)."""
    import pyarrow as pa

    cols = {"user": pa.array(np.asarray(users, dtype=np.int32)),
            "item": pa.array(np.asarray(items, dtype=np.int32))}
    if ratings is not None:
        cols["rating"] = pa.array(np.asarray(ratings, dtype=np.float32))
    for name, values in (extra or {}).items():
        cols[name] = pa.array(np.asarray(values))
    return session.createDataFrame(pa.table(cols))


def factor_table(frame, n: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Spark's ``userFactors`` / ``itemFactors`` (``id int, features array<float>``) as
    ``(factors float32 (n, rank), known bool (n,))``: row ``id`` holds that id's factors; ids
    Spark has no factors for get zeros and ``known = False``."""
    table = frame.select("id", "features").toArrow()
    ids = table.column("id").to_numpy().astype(np.int64)
    flat = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    values = np.asarray(flat, dtype=np.float32).reshape(len(ids), rank)
    if len(ids) and (ids.min() < 0 or ids.max() >= n):
        raise SparkEngineError(f"Spark returned factors for id {int(ids.max())}, outside "
                               f"0..{n - 1}")
    out = np.zeros((n, rank), dtype=np.float32)
    known = np.zeros(n, dtype=bool)
    out[ids] = values
    known[ids] = True
    return out, known


def als_estimator(params: dict[str, Any]):
    """``pyspark.ml.recommendation.ALS(**params)`` on the columns user, item, rating, with
    ``coldStartStrategy="nan"`` (unknown ids must come back, to be counted and scored)."""
    ALS = import_pyspark()
    params = dict(params)
    strategy = params.pop("coldStartStrategy", "nan")
    if strategy != "nan":
        raise SparkEngineError(f"coldStartStrategy={strategy!r}: only 'nan' is supported "
                               "(rows must not be dropped; unknown ids fall back to the mean)")
    return ALS(userCol="user", itemCol="item", ratingCol="rating", coldStartStrategy="nan",
               **params)


# ---------------------------------------------------------------------- training at scale
def _read_ratings(session, path: str, columns: dict[str, str]):
    from pyspark.errors import AnalysisException

    try:
        df = session.read.parquet(str(path))
    except AnalysisException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SparkEngineError(f"{path}: cannot read Parquet ratings ({first})") from None
    missing = [f"{role} column {name!r}" for role, name in columns.items()
               if name not in df.columns]
    if missing:
        raise DataFormatError(str(path), f"no {', '.join(missing)}; the columns are "
                              f"{', '.join(df.columns)} (name them with --user-col, "
                              "--item-col, --rating-col)")
    return df.select(*(df[columns[r]].alias(r) for r in ("user", "item", "rating")))


def _check_ratings(df, path: str) -> dict[str, Any]:
    """Counts, mean and range of the ratings; DataFormatError for a null id, a rating that
    is null or not finite, or a (user, item) pair rated twice (naming one example)."""
    from pyspark.sql import functions as F

    bad_rating = F.col("rating").isNull() | F.isnan("rating") | \
        (F.abs(F.col("rating")) == float("inf"))
    stats = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(F.col("user").isNull() | F.col("item").isNull(), 1).otherwise(0))
         .alias("null_ids"),
        F.sum(F.when(bad_rating, 1).otherwise(0)).alias("bad"),
        F.avg(F.when(~bad_rating, F.col("rating").cast("double"))).alias("mean"),
        F.min("rating").alias("lo"), F.max("rating").alias("hi"),
    ).first().asDict()
    if not stats["n"]:
        raise DataFormatError(str(path), "no ratings")
    if stats["null_ids"]:
        row = df.where(F.col("user").isNull() | F.col("item").isNull()).first()
        raise DataFormatError(str(path), f"{stats['null_ids']} rating(s) without a user or "
                              f"item id, e.g. {row.asDict()}", field="user/item")
    if stats["bad"]:
        row = df.where(bad_rating).first()
        raise DataFormatError(str(path), f"{stats['bad']} rating(s) null or not finite, "
                              f"e.g. {row.asDict()}", field="rating")
    dup = (df.groupBy("user", "item").count().where(F.col("count") > 1).first())
    if dup is not None:
        raise DataFormatError(str(path), f"user {dup['user']!r} rated item {dup['item']!r} "
                              f"{dup['count']} times; keep one rating per pair")
    return stats


def _id_map(session, df, column: str) -> tuple[np.ndarray, Any]:
    """The sorted distinct raw ids of ``column`` (on the driver) and a DataFrame
    ``(raw, index)`` mapping each to its contiguous index (the order recsys uses)."""
    import pyarrow as pa

    raw = df.select(column).distinct().orderBy(column).toArrow().column(column)
    raw = raw.combine_chunks()
    ids = raw.to_numpy(zero_copy_only=False)
    if ids.dtype == object:
        ids = ids.astype(str)
    table = pa.table({"raw": raw, "index": pa.array(np.arange(len(ids), dtype=np.int32))})
    return ids, session.createDataFrame(table)


def train_from_parquet(path: str | os.PathLike, master: str | None = None, *,
                       rank: int = 20, max_iter: int = 15, reg: float = 0.1, seed: int = 0,
                       center: bool = True, user_col: str = "user", item_col: str = "item",
                       rating_col: str = "rating",
                       rating_scale: tuple[float, float] | None = None,
                       spark_params: dict[str, Any] | None = None,
                       log=None):
    """Train Spark ALS on the ratings in a Parquet file or folder; a fitted recsys ALS.

    The ids are mapped to contiguous indices in sorted raw-id order (as
    :class:`~recsys.dataset.Dataset` does) on the cluster, ALS trains there on ``r - mu``
    (``center=True``; see the module docstring), and the driver gathers the factors, the id
    maps and the training matrix (for ``exclude_seen``: 12 bytes per rating) into a
    :class:`~recsys.models.als.ALS` with ``biases=False``. ``rating_scale`` defaults to the
    lowest and highest rating. Returns ``(model, info)`` with counts and timings.
    """
    from pyspark.sql import functions as F

    say = log or (lambda msg: None)
    path = str(path)
    session, startup = spark_session(master)
    say(f"spark {session.version} on {session.sparkContext.master} "
        f"(started in {startup:.1f} s)")
    t0 = time.perf_counter()
    df = _read_ratings(session, path, {"user": user_col, "item": item_col,
                                       "rating": rating_col})
    stats = _check_ratings(df, path)
    user_ids, user_map = _id_map(session, df, "user")
    item_ids, item_map = _id_map(session, df, "item")
    mu = float(stats["mean"]) if center else 0.0
    indexed = (df.join(F.broadcast(user_map.withColumnRenamed("index", "u")),
                       df["user"] == user_map["raw"]).drop("raw")
               .join(F.broadcast(item_map.withColumnRenamed("index", "i")),
                     F.col("item") == item_map["raw"]).drop("raw")
               .select(F.col("u").alias("user"), F.col("i").alias("item"),
                       (F.col("rating").cast("double") - F.lit(mu)).cast("float")
                       .alias("rating"))).persist()
    n = indexed.count()
    prepare = time.perf_counter() - t0
    say(f"{n:,} ratings, {len(user_ids):,} users, {len(item_ids):,} items "
        f"(read and indexed in {prepare:.1f} s)")
    params = {"rank": int(rank), "maxIter": int(max_iter), "regParam": float(reg),
              "seed": int(seed), **(spark_params or {})}
    t1 = time.perf_counter()
    spark_model = als_estimator(params).fit(indexed)
    user_factors, _ = factor_table(spark_model.userFactors, len(user_ids), int(params["rank"]))
    item_factors, _ = factor_table(spark_model.itemFactors, len(item_ids), int(params["rank"]))
    fit_seconds = time.perf_counter() - t1
    say(f"ALS rank {params['rank']}, {params['maxIter']} iterations: {fit_seconds:.1f} s")
    t2 = time.perf_counter()
    table = indexed.select("user", "item", "rating").toArrow()
    users = table.column("user").to_numpy().astype(np.int32)
    items = table.column("item").to_numpy().astype(np.int32)
    ratings = (table.column("rating").to_numpy().astype(np.float64) + mu).astype(np.float32)
    del table
    indexed.unpersist()
    scale = rating_scale or (float(stats["lo"]), float(stats["hi"]))
    model = to_recsys_als(users, items, ratings, user_ids, item_ids, user_factors,
                          item_factors, mu, params, scale, center)
    gather = time.perf_counter() - t2
    info = {"master": session.sparkContext.master, "spark_version": session.version,
            "n_ratings": int(n), "n_users": len(user_ids), "n_items": len(item_ids),
            "global_mean": mu, "startup_seconds": startup, "prepare_seconds": prepare,
            "fit_seconds": fit_seconds, "gather_seconds": gather, "spark_params": params}
    return model, info


def to_recsys_als(users, items, ratings, user_ids, item_ids, user_factors, item_factors,
                  mu: float, params: dict[str, Any], rating_scale, center: bool = True):
    """A fitted :class:`~recsys.models.als.ALS` (``biases=False``) holding Spark's factors:
    it scores ``mu + p_u . q_i`` as Spark's model on ``r - mu`` does. ``center=False``
    (Spark trained on the raw ratings) cannot be written: recsys ALS always adds its mean."""
    from recsys.dataset import Dataset
    from recsys.models.als import ALS

    if not center:
        raise SparkEngineError("a model trained on uncentred ratings has no recsys ALS "
                               "equivalent (recsys ALS adds the global mean); use center=True")
    train = Dataset(users, items, ratings, None, user_ids, item_ids, rating_scale)
    model = ALS(n_factors=int(params.get("rank", 10)),
                n_iterations=int(params.get("maxIter", 10)),
                reg=float(params.get("regParam", 0.1)), biases=False,
                seed=params.get("seed"))
    model._remember(train)
    model.global_mean_ = float(mu)
    model.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
    model.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
    model.user_bias_ = np.zeros(len(user_ids), dtype=np.float32)
    model.item_bias_ = np.zeros(len(item_ids), dtype=np.float32)
    return model


def save_model(model, out: str | os.PathLike) -> Path:
    """Write the model atomically (``Recommender.save``)."""
    return model.save(out)
