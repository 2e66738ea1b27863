"""``recsys tune``: grid or random search with inner CV on a split's training part."""

from __future__ import annotations

import argparse
import sys

from recsys.errors import RecsysError


class TuneArgumentError(RecsysError, ValueError):
    """A --grid/--param/--range/--split argument cannot be parsed."""


HELP = "grid or random hyperparameter search with cross-validation on the train part"
DESCRIPTION = (
    "Split the data set (--split), keep the training part of one fold (--fold), and "
    "search hyperparameters by cross-validation inside it: the outer test part is "
    "never used. Prints the best parameters and writes them, with every candidate's "
    "score, as a [[models]] TOML snippet that a benchmark config accepts (--out)."
)
EPILOG = (
    "example: recsys tune --dataset ml-100k --split method=official,folds=u1 "
    "--model FunkSVD --param n_epochs=20 --grid learning_rate=0.005,0.01 "
    "--grid reg_factors=0.02,0.05 --out funksvd.toml"
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("tune", help=HELP, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--dataset", default="ml-latest-small", metavar="NAME",
                        help="MovieLens release (default: %(default)s)")
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
                        help="random search only: KIND is uniform, log or int (repeatable)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a fixed hyperparameter for every candidate (repeatable)")
    parser.add_argument("--random", type=int, default=None, metavar="N",
                        help="random search with N candidates instead of the full grid")
    parser.add_argument("--folds", type=int, default=3, metavar="K",
                        help="inner cross-validation folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the inner split and the random draws (default: 0)")
    parser.add_argument("--metric", default="rmse",
                        help="rmse or mae (minimised), or a top-N metric such as ndcg@10 "
                             "(maximised); default: %(default)s")
    parser.add_argument("--relevance-threshold", type=float, default=4.0)
    parser.add_argument("--label", default=None, help="label of the model in the snippet")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="write the TOML snippet here (default: print it only)")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
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
    if ranges and args.random is None:
        raise TuneArgumentError("--range needs --random N (a range cannot be gridded)")
    if not grid and not ranges:
        raise TuneArgumentError("nothing to search: give --grid NAME=V1,V2 (and/or --range "
                                "with --random N)")
    split = parse_split(args.split)
    try:
        cls = model_class(args.model)
    except ValueError as exc:
        raise TuneArgumentError(f"--model: {exc}") from None
    check_param_types(cls, grid, "--grid")
    check_param_types(cls, {k: [v] for k, v in base.items()}, "--param")
    try:
        return _tune(args, cls, grid, ranges, base, split)
    except RecsysError:
        raise
    except ValueError as exc:  # a bad split, fold count, metric or name: the argument's fault
        raise TuneArgumentError(str(exc)) from exc


def _tune(args, cls, grid: dict, ranges: dict, base: dict, split: dict) -> int:
    from recsys.data import load_dataset
    from recsys.io import atomic_write_text
    from recsys.split import split_from_config
    from recsys.tuning import grid_search, random_search

    ds = load_dataset(args.dataset, args.data_dir)
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
    if args.random is not None:
        res = random_search(cls, fold.train, {**grid, **ranges}, n_iter=args.random, **common)
    else:
        res = grid_search(cls, fold.train, grid, **common)
    for s in res.scores:
        if s["error"]:
            desc = ", ".join(f"{k}={v}" for k, v in s["params"].items())
            print(f"recsys tune: warning: candidate {desc} failed: {s['error']}",
                  file=sys.stderr)
    comment = (f"recsys tune on {ds.name}, training part of fold {fold.name} of "
               f"{split} ({fold.train.n_ratings} ratings)")
    snippet = res.to_toml(label=args.label, comment=comment)
    sys.stdout.write(snippet)
    print(f"\nbest {res.metric}: {res.best_score:.4f} with {res.best_params}")
    if args.out:
        atomic_write_text(args.out, snippet)
        print(f"wrote {args.out}")
    return 0
