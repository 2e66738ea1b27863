"""``recsys train``: train a model with a distributed engine and write a recsys model file.

``recsys train --engine spark --master URL --ratings PATH --out MODEL.npz`` reads ratings
from Parquet (a file or a folder of part files, as ``recsys data export`` writes), trains
Spark MLlib's ALS on the cluster (:mod:`recsys.engines.spark_als`) and writes the factors
and id maps as a recsys ALS model file (``biases=False``), which ``recsys serve --model``,
``Recommender.load`` and the bench read like any other.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recsys.errors import RecsysError

HELP = "train ALS on a cluster (Spark MLlib) and write a recsys model file"
DESCRIPTION = (
    "Train Spark MLlib's ALS on ratings read from Parquet (columns user, item, rating; a file "
    "or a folder of part files, e.g. from `recsys data export`), on local[*] or the cluster "
    "named by --master, and write the factors and id maps as a recsys ALS model file "
    "(no biases; Spark fits the ratings minus their mean) that `recsys serve --model` and "
    "Recommender.load read. Spark's regParam is the same weighted-lambda penalty as "
    "recsys ALS's reg. Needs recsys[spark] (pyspark, pyarrow) and Java 17+."
)
ENGINES = ("spark",)


class TrainArgumentError(RecsysError, ValueError):
    """A ``recsys train`` option that cannot be used."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help=HELP, description=DESCRIPTION)
    parser.add_argument("--engine", choices=ENGINES, default="spark",
                        help="the training engine (default: %(default)s)")
    parser.add_argument("--master", default=None, metavar="URL",
                        help="Spark master (spark://HOST:7077, yarn, local[4], ...); "
                             "default: $RECSYS_SPARK_MASTER, else local[*]")
    parser.add_argument("--ratings", required=True, metavar="PATH",
                        help="Parquet file or folder of the ratings (any path Spark reads: "
                             "a local folder, hdfs://, s3a://)")
    parser.add_argument("--out", required=True, metavar="MODEL.npz",
                        help="the model file to write (atomically)")
    parser.add_argument("--rank", type=int, default=20, help="factors (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=15,
                        help="ALS iterations, Spark's maxIter (default: %(default)s)")
    parser.add_argument("--reg", type=float, default=0.1,
                        help="weighted-lambda penalty, Spark's regParam = recsys ALS reg "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="Spark's seed (default: 0)")
    parser.add_argument("--user-col", default="user", help="user id column (default: user)")
    parser.add_argument("--item-col", default="item", help="item id column (default: item)")
    parser.add_argument("--rating-col", default="rating",
                        help="rating column (default: rating)")
    parser.add_argument("--rating-scale", default=None, metavar="LO,HI",
                        help="the rating scale predictions are clipped to (default: from the "
                             "export's dataset.json beside the ratings folder, else the "
                             "lowest and highest rating)")
    parser.add_argument("--spark-param", action="append", default=[], metavar="KEY=VALUE",
                        help="another pyspark ALS parameter (numUserBlocks=40, "
                             "blockSize=8192, ...); repeatable")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys.engines import spark_als

    for name in ("rank", "iterations"):
        if getattr(args, name) < 1:
            raise TrainArgumentError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not args.reg > 0:
        raise TrainArgumentError(f"--reg must be > 0, got {args.reg}")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise TrainArgumentError(f"--out {out}: a recsys model file ends in .npz")
    if "://" not in args.ratings and not Path(args.ratings).exists():  # before Spark starts
        raise TrainArgumentError(f"--ratings {args.ratings}: no such file or folder")
    scale = _rating_scale(args.rating_scale, args.ratings)
    extra = _spark_params(args.spark_param)

    def say(line: str) -> None:
        print(f"recsys train: {line}", file=sys.stderr)

    model, info = spark_als.train_from_parquet(
        args.ratings, args.master, rank=args.rank, max_iter=args.iterations, reg=args.reg,
        seed=args.seed, user_col=args.user_col, item_col=args.item_col,
        rating_col=args.rating_col, rating_scale=scale, spark_params=extra, log=say)
    path = model.save(out)
    print(f"wrote {path}: ALS rank {args.rank} (no biases) trained by Spark "
          f"{info['spark_version']} on {info['master']}: {info['n_ratings']:,} ratings, "
          f"{info['n_users']:,} users, {info['n_items']:,} items; start-up "
          f"{info['startup_seconds']:.1f} s, read {info['prepare_seconds']:.1f} s, fit "
          f"{info['fit_seconds']:.1f} s, gather {info['gather_seconds']:.1f} s")
    return 0


def _rating_scale(text: str | None, ratings: str) -> tuple[float, float] | None:
    if text is not None:
        parts = text.split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise TrainArgumentError(f"--rating-scale {text!r}: expected LO,HI") from None
        if not lo < hi:
            raise TrainArgumentError(f"--rating-scale {text!r}: LO must be below HI")
        return lo, hi
    from recsys.data.export import DATASET_FILE

    sidecar = Path(ratings).parent / DATASET_FILE
    if "://" in ratings or not sidecar.is_file():
        return None
    try:
        doc = json.loads(sidecar.read_text())
        if doc.get("format") != "recsys-parquet-export":
            return None
        lo, hi = (float(v) for v in doc["rating_scale"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TrainArgumentError(f"{sidecar}: unreadable rating_scale; give --rating-scale "
                                 "LO,HI") from None
    return lo, hi


def _spark_params(options: list[str]) -> dict:
    import inspect

    from recsys.engines.spark_als import SparkEngineError, import_pyspark

    ALS = import_pyspark()
    valid = [p for p in inspect.signature(ALS).parameters
             if p not in ("userCol", "itemCol", "ratingCol", "coldStartStrategy",
                          "implicitPrefs", "alpha", "rank", "maxIter", "regParam", "seed")]
    out: dict = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in valid:
            raise SparkEngineError(f"--spark-param {option!r}: expected KEY=VALUE with KEY one "
                                   f"of {', '.join(valid)} (rank, iterations, reg and seed "
                                   "have their own options)")
        for kind in (int, float):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(value.lower(), value)
    return out
