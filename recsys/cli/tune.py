"""``recsys tune``: grid, random or Optuna search with inner CV on a split's training part."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recsys.errors import RecsysError


class TuneArgumentError(RecsysError, ValueError):
    """A --grid/--param/--range/--split argument cannot be parsed."""


DEFAULT_DATASET = "ml-latest-small"
HELP = "grid, random or Optuna hyperparameter search with cross-validation on the train part"
DESCRIPTION = (
    "Split the data set (--split), keep the training part of one fold (--fold), and "
    "search hyperparameters by cross-validation inside it: the outer test part is "
    "never used. --search grid tries every combination of the --grid values; random "
    "draws --trials candidates from --grid lists and --range distributions; optuna "
    "(pip install 'recsys[tune]') samples them with TPE, prunes epoch-based models on "
    "their per-epoch validation RMSE (others after each inner fold), and keeps the study "
    "in an SQLite file (--storage) that a rerun resumes. Prints the best parameters; "
    "--out DIR writes them as a [[models]] TOML block and a JSON run record (data set, "
    "split, seed, search space, trials, best value, commit) that a benchmark config "
    "reads with params_from = \"PATH\"."
)
EPILOG = (
    "example: recsys tune --dataset ml-100k --split method=official,folds=u1 "
    "--model FunkSVD --param n_epochs=20 --grid learning_rate=0.005,0.01 "
    "--grid reg_factors=0.02,0.05 --out funksvd.toml"
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("tune", help=HELP, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="MovieLens release (default: ml-latest-small); with --config, "
                             "the label of one of its [[datasets]]")
    parser.add_argument("--config", default=None, metavar="NAME|FILE",
                        help="take the data set from a benchmark config's [[datasets]] "
                             "entry (a path and format, a release, synthetic data; its "
                             "metadata joined): your own data, as recsys bench reads it")
    parser.add_argument("--data-dir", default=None, metavar="DIR")
    parser.add_argument("--split", default="method=holdout,test_fraction=0.1,seed=42",
                        metavar="KEY=VALUE,...",
                        help="the outer split, as recsys.split.split_from_config keys, "
                             "lists with ';' (folds=u1;u2) (default: %(default)s)")
    parser.add_argument("--fold", default=None, metavar="NAME",
                        help="which fold's train part to tune on (default: the first)")
    parser.add_argument("--model", required=True, metavar="CLASS",
                        help="a model class name registered in recsys.models.registry")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="candidate values of one hyperparameter (repeatable)")
    parser.add_argument("--range", action="append", default=[], dest="ranges",
                        metavar="NAME=KIND:LOW:HIGH",
                        help="random and optuna searches: KIND is uniform, log or int "
                             "(repeatable)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a fixed hyperparameter for every candidate (repeatable)")
    parser.add_argument("--search", choices=("grid", "random", "optuna"), default=None,
                        help="grid (default), random, or optuna (TPE with pruning)")
    parser.add_argument("--trials", type=int, default=None, metavar="N",
                        help="candidates for --search random / optuna (optuna default: 30; "
                             "with --storage, the total the study should hold)")
    parser.add_argument("--random", type=int, default=None, metavar="N",
                        help="the same as --search random --trials N")
    parser.add_argument("--storage", default=None, metavar="PATH",
                        help="optuna: keep the study in this SQLite file (or SQLAlchemy URL); "
                             "a rerun with the same arguments resumes it")
    parser.add_argument("--study-name", default=None, metavar="NAME",
                        help="optuna: the study's name in --storage (default: "
                             "MODEL-DATASET-FOLD-METRIC)")
    parser.add_argument("--no-prune", dest="prune", action="store_false",
                        help="optuna: run every trial to the end")
    parser.add_argument("--folds", type=int, default=3, metavar="K",
                        help="inner cross-validation folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the inner split and the random draws (default: 0)")
    parser.add_argument("--metric", default="rmse",
                        help="rmse or mae (minimised), or a top-N metric such as ndcg@10 "
                             "(maximised); default: %(default)s")
    parser.add_argument("--relevance-threshold", type=float, default=4.0)
    parser.add_argument("--label", default=None, help="label of the model in the snippet")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="write NAME.toml (a [[models]] block) and NAME.json (the run "
                             "record) into DIR; a path ending in .toml is the TOML file, "
                             "the record goes beside it (default: print the block only)")
    parser.add_argument("--name", default=None, metavar="STEM",
                        help="file name stem in --out DIR (default: "
                             "MODEL-DATASET-FOLD-METRIC)")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    from recsys.cli.cluster_options import add_dask_arguments

    add_dask_arguments(parser, "(candidate, inner fold) fit of a grid or random search")
    parser.set_defaults(func=run)


def parse_value(text: str):
    """``"true"``/``"false"`` -> bool, then int, then float, else the string itself."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def _split_pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise TuneArgumentError(f"{option} {text!r}: expected NAME=VALUE")
    if not name.strip().isidentifier():
        raise TuneArgumentError(f"{option} {text!r}: {name.strip()!r} is not a parameter name")
    return name.strip(), value.strip()


def parse_grid(items: list[str]) -> dict[str, list]:
    grid = {}
    for text in items:
        name, values = _split_pair(text, "--grid")
        grid[name] = [parse_value(v) for v in values.split(",") if v.strip()]
    return grid


def parse_params(items: list[str]) -> dict:
    return {name: parse_value(v) for name, v in (_split_pair(t, "--param") for t in items)}


def parse_ranges(items: list[str]) -> dict:
    from recsys.tuning import IntUniform, LogUniform, Uniform

    kinds = {"uniform": Uniform, "log": LogUniform, "int": IntUniform}
    out = {}
    for text in items:
        name, spec = _split_pair(text, "--range")
        parts = spec.split(":")
        if len(parts) != 3 or parts[0] not in kinds:
            raise TuneArgumentError(f"--range {text!r}: expected NAME=KIND:LOW:HIGH with KIND "
                                    f"in {sorted(kinds)}")
        conv = int if parts[0] == "int" else float
        try:
            out[name] = kinds[parts[0]](conv(parts[1]), conv(parts[2]))
        except ValueError as exc:
            raise TuneArgumentError(f"--range {text!r}: {exc}") from exc
    return out


def parse_split(text: str) -> dict:
    spec = {}
    for item in text.split(","):
        if item.strip():
            name, value = _split_pair(item, "--split")
            # a list inside the comma-separated spec: folds=u1;u2
            spec[name] = ([parse_value(v) for v in value.split(";") if v.strip()]
                          if ";" in value else parse_value(value))
    if "folds" in spec and not isinstance(spec["folds"], list):
        spec["folds"] = [str(spec["folds"])]
    return spec


def check_param_types(cls, values: dict[str, list], option: str) -> None:
    """TuneArgumentError for a name that is not a hyperparameter of ``cls``, and for a value
    whose type the parameter cannot take: text where the default is a number
    (``learning_rate=abc``), a number where it is true/false. The model checks ranges
    itself; this catches, before the data is loaded, what would fail every candidate."""
    import inspect

    valid = list(cls._param_names())
    defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                if p.default is not inspect.Parameter.empty}
    for name, candidates in values.items():
        if name not in valid:
            raise TuneArgumentError(f"{option} {name}=...: {cls.__name__} has no "
                                    f"hyperparameter {name!r}; valid: {', '.join(valid)}")
        if name not in defaults:
            continue
        default = defaults[name]
        for v in candidates:
            if isinstance(default, bool):
                bad = not isinstance(v, bool)
                want = "true or false"
            elif isinstance(default, (int, float)):
                bad = isinstance(v, (bool, str))
                want = "a number"
            else:
                continue
            if bad:
                raise TuneArgumentError(f"{option} {name}={v}: {cls.__name__}'s {name} takes "
                                        f"{want} (default {default!r}), got {v!r}")


def run(args: argparse.Namespace) -> int:
    from recsys.models.registry import model_class

    grid = parse_grid(args.grid)
    ranges = parse_ranges(args.ranges)
    base = parse_params(args.param)
    search = _search_method(args)
    if search == "optuna" and (args.dask_workers is not None or args.scheduler is not None):
        raise TuneArgumentError("--dask-workers/--scheduler run grid and random searches "
                                "(TPE picks each trial from the results before it)")
    if ranges and search == "grid":
        raise TuneArgumentError("--range needs --search random or optuna (a range cannot be "
                                "gridded)")
    if not grid and not ranges:
        raise TuneArgumentError("nothing to search: give --grid NAME=V1,V2 (and/or --range "
                                "with --search random or optuna)")
    split = parse_split(args.split)
    try:
        cls = model_class(args.model)
    except ValueError as exc:
        raise TuneArgumentError(f"--model: {exc}") from None
    check_param_types(cls, grid, "--grid")
    check_param_types(cls, {k: [v] for k, v in base.items()}, "--param")
    try:
        return _tune(args, cls, grid, ranges, base, split, search)
    except RecsysError:
        raise
    except ValueError as exc:  # a bad split, fold count, metric or name: the argument's fault
        raise TuneArgumentError(str(exc)) from exc


def _search_method(args) -> str:
    """grid, random or optuna from --search/--random/--trials; sets ``args.trials``."""
    search = args.search
    if args.random is not None:
        if search not in (None, "random"):
            raise TuneArgumentError(f"--random N is a random search; it cannot go with "
                                    f"--search {search} (use --trials N)")
        if args.trials is not None and args.trials != args.random:
            raise TuneArgumentError("give --random N or --trials N, not both")
        search, args.trials = "random", args.random
    search = search or "grid"
    if search == "grid" and args.trials is not None:
        raise TuneArgumentError("--trials is for --search random or optuna (a grid tries "
                                "every combination)")
    if search == "random" and args.trials is None:
        raise TuneArgumentError("--search random needs --trials N")
    if search == "optuna" and args.trials is None:
        args.trials = 30
    if args.trials is not None and args.trials < 1:
        raise TuneArgumentError(f"--trials must be >= 1, got {args.trials}")
    if search != "optuna":
        for option, value in (("--storage", args.storage), ("--study-name", args.study_name)):
            if value is not None:
                raise TuneArgumentError(f"{option} is for --search optuna")
    return search


def _tune(args, cls, grid: dict, ranges: dict, base: dict, split: dict, search: str) -> int:
    from recsys.data import load_dataset
    from recsys.io import atomic_write_text
    from recsys.split import split_from_config
    from recsys.tuning import grid_search, random_search

    ds = (config_dataset(args.config, args.dataset, args.data_dir) if args.config
          else load_dataset(args.dataset or DEFAULT_DATASET, args.data_dir))
    data_name = ds.name or args.dataset or DEFAULT_DATASET
    folds = split_from_config(ds, split, data_dir=args.data_dir)
    if args.fold is None:
        fold = folds[0]
    else:
        named = {f.name: f for f in folds}
        if args.fold not in named:
            raise TuneArgumentError(f"--fold {args.fold!r}: the split has folds {list(named)}")
        fold = named[args.fold]
    common = dict(n_folds=args.folds, seed=args.seed, metric=args.metric, base_params=base,
                  relevance_threshold=args.relevance_threshold, progress=args.progress)
    stem = args.name or _stem(f"{cls.__name__}-{data_name}-{fold.name}-"
                              f"{args.metric}")
    if search == "optuna":
        from recsys.tuning_optuna import optuna_search

        res = optuna_search(cls, fold.train, {**grid, **ranges}, n_trials=args.trials,
                            storage=args.storage, study_name=args.study_name or stem,
                            prune=args.prune, **common)
    else:
        from recsys.cli.cluster_options import dask_cluster
        from recsys.distributed import DaskSearch

        with dask_cluster(args, "recsys tune") as cluster:
            common["executor"] = None if cluster is None else DaskSearch(cluster)
            if search == "random":
                res = random_search(cls, fold.train, {**grid, **ranges}, n_iter=args.trials,
                                    **common)
            else:
                res = grid_search(cls, fold.train, grid, **common)
            if cluster is not None:  # the run record says where it ran
                res.info = {**res.info, "cluster": cluster.describe()}
    for s in res.scores:
        if s["error"] and s.get("state") != "pruned":
            desc = ", ".join(f"{k}={v}" for k, v in s["params"].items())
            print(f"recsys tune: warning: candidate {desc} failed: {s['error']}",
                  file=sys.stderr)
    comment = (f"recsys tune on {ds.name}, training part of fold {fold.name} of "
               f"{split} ({fold.train.n_ratings} ratings)")
    toml_path = json_path = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".toml":
            toml_path, json_path = out, out.with_suffix(".json")
        else:
            toml_path, json_path = out / f"{stem}.toml", out / f"{stem}.json"
        comment += (f"\nrun record: {json_path.name} (a config can use "
                    f"params_from = \"{json_path.name}\" instead of params)")
    snippet = res.to_toml(label=args.label, comment=comment)
    sys.stdout.write(snippet)
    print(f"\nbest {res.metric}: {res.best_score:.4f} with {res.best_params}")
    if res.method == "optuna":
        info = res.info
        print(f"optuna: {len(res.scores)} trials in study {info['study_name']!r}"
              f"{' (' + str(info['storage']) + ')' if info['storage'] else ''}, "
              f"{info['n_pruned']} pruned ({info['pruning']} pruning), "
              f"{info['n_failed']} failed")
    if args.out:
        from recsys.bench.environment import git_commit
        from recsys.io import atomic_write_json

        record = res.to_record(
            dataset=data_name, split=split, fold=fold.name, commit=git_commit(),
            train_ratings=int(fold.train.n_ratings), relevance_threshold=args.relevance_threshold,
            label=args.label or f"{res.model} (tuned)")
        atomic_write_json(json_path, record, indent=1)
        atomic_write_text(toml_path, snippet)
        print(f"wrote {toml_path} and {json_path}")
    return 0


def config_dataset(config: str, label: str | None, data_dir: str | None):
    """The Dataset of the ``[[datasets]]`` entry of benchmark config ``config`` (a shipped
    name or a file) labelled ``label`` (any, if the config has one), loaded as the bench
    loads it (:func:`recsys.bench.data.load_with_metadata`)."""
    from recsys.bench import load_config, shipped_config
    from recsys.bench.data import load_with_metadata

    specs = load_config(shipped_config(config)).datasets
    names = [s.name for s in specs]
    if label is None and len(specs) > 1:
        raise TuneArgumentError(f"--config {config}: it has {len(specs)} data sets "
                                f"({', '.join(names)}); name one with --dataset LABEL")
    chosen = [s for s in specs if label is None or s.name == label]
    if not chosen:
        raise TuneArgumentError(f"--dataset {label!r}: config {config} has the data sets "
                                f"{', '.join(names)}")
    return load_with_metadata(chosen[0], data_dir)[0]


def _stem(text: str) -> str:
    """A file-name-safe version of ``text`` (``ndcg@10`` -> ``ndcg10``)."""
    return "".join(c for c in text if c.isalnum() or c in "-_.") or "tuned"
