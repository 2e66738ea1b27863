"""``recsys serve``: the REST API and web page over a saved model (FastAPI + uvicorn).

Two ways to start it::

    recsys serve --model funksvd.npz [--catalogue funksvd.catalogue.json | --dataset NAME]
    recsys serve --dataset ml-latest-small --algo funksvd [--param n_epochs=30]

The second trains the model on the whole data set (once), saves it to the cache
(``<cache>/models/<dataset>-<algo>-<hash>-<hash>.npz``, see :func:`recsys.data.cache_dir`)
with the catalogue sidecar next to it, and serves it; a later run with the same arguments
on the same data (the same folder and the same file contents: :func:`cached_model_path`)
reuses the file (``--retrain`` forces a new fit).

``--metadata tmdb`` (with ``--dataset``) joins TMDB into the catalogue: items show their
overview, TMDB genres and keywords. With ``--algo`` the model trains on the data set with
TMDB joined too (``ContentKNN --param features=tmdb`` learns from it), and the TMDB files
are part of the cached model's key.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import sys
import textwrap
from pathlib import Path

from recsys.cli.data import add_metadata_arguments, metadata_dir
from recsys.errors import RecsysError


class ServeArgumentError(RecsysError, ValueError):
    """Inconsistent or unknown ``recsys serve`` arguments."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model: REST API and a web page for looking at recommendations",
        description=textwrap.fill(
            "Start an HTTP server (uvicorn) with the JSON API (/docs, /openapi.json) and a web "
            "page (/) over a saved model, loaded once at start; requests never retrain. "
            "Either --model PATH, or --dataset NAME --algo NAME to train, cache and serve in "
            "one step. Item titles come from the catalogue sidecar next to the model file "
            "(<model>.catalogue.json), from --catalogue, or from the --dataset release.",
            width=88),
        epilog=(
            "examples:\n"
            "  recsys serve --dataset ml-latest-small --algo funksvd\n"
            "  recsys serve --dataset ml-latest-small --metadata tmdb --algo contentknn "
            "--param features=tmdb\n"
            "  recsys serve --model funksvd.npz --dataset ml-latest-small --port 8080\n"
            "  recsys serve --model knn.npz --workers 2 --no-access-log"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = parser.add_argument_group("model")
    src.add_argument("--model", metavar="PATH", default=None,
                     help="a model file written by Recommender.save (.npz)")
    src.add_argument("--dataset", metavar="NAME", default=None,
                     help="MovieLens release: item titles for --model, or the training data "
                          "with --algo (e.g. ml-latest-small, ml-100k)")
    src.add_argument("--data-dir", metavar="DIR", default=None,
                     help="where the release lives (default: the usual search path)")
    src.add_argument("--catalogue", metavar="PATH", default=None,
                     help="item catalogue JSON (default: the sidecar next to the model)")
    src.add_argument("--algo", metavar="NAME", default=None,
                     help="train this model class on --dataset first (case-insensitive: "
                          "funksvd, itemknn, als, ...)")
    src.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a hyperparameter for --algo (repeatable)")
    src.add_argument("--cache-dir", metavar="DIR", default=None,
                     help="where --algo saves the trained model (default: the recsys cache)")
    src.add_argument("--retrain", action="store_true",
                     help="with --algo: train again even if a cached model exists")
    add_metadata_arguments(src, "show each movie's overview, TMDB genres and keywords (needs "
                                "--dataset; with --algo the model trains on it too)")
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1",
                     help="interface to bind (default: %(default)s, loopback only; the API has "
                          "no authentication, so another interface warns)")
    net.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    net.add_argument("--workers", type=int, default=1,
                     help="worker processes, each with its own copy of the model "
                          "(default: %(default)s)")
    net.add_argument("--cache-mb", type=float, default=0.0, metavar="MIB",
                     help="cache user recommendations, up to MIB per worker (exact: the "
                          "model does not change while served; default: 0, off)")
    net.add_argument("--no-access-log", dest="access_log", action="store_false",
                     help="do not log every request (faster under load)")
    net.add_argument("--log-level", default="info",
                     choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(func=run)


def _model_class(name: str):
    from recsys.models.registry import model_class

    try:
        return model_class(name, ignore_case=True)
    except ValueError as exc:
        raise ServeArgumentError(f"--algo {name!r} is not a model ({exc})") from None


def _params(items: list[str]) -> dict:
    from recsys.cli.tune import parse_value

    out = {}
    for text in items:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ServeArgumentError(f"--param {text!r}: expected NAME=VALUE")
        out[name.strip()] = parse_value(value)
    return out


#: The files of a release that the loader reads (recsys.data.movielens), by format: what
#: a cached model was trained on, so what its cache key digests.
DATA_FILES = {
    "100k": ("u.data", "u.item", "u.genre", "u.user"),
    "dat": ("ratings.dat", "movies.dat", "users.dat", "tags.dat"),
    "csv": ("ratings.csv", "movies.csv", "tags.csv", "links.csv"),
}


def data_identity(dataset: str, folder: Path) -> dict:
    """Which data the release ``dataset`` in ``folder`` (as found by
    :func:`recsys.data.find_release`) is: the folder, resolved, and the SHA-256 of each file
    the loader reads there, ``{"folder": str, "files": {name: hex digest}}``."""
    from recsys.data import get_release

    files = {}
    for name in DATA_FILES[get_release(dataset).format]:
        if (folder / name).is_file():
            with open(folder / name, "rb") as fh:
                files[name] = hashlib.file_digest(fh, "sha256").hexdigest()
    return {"folder": str(folder.resolve()), "files": files}


def metadata_identity(identity: dict, name: str, folder: Path) -> dict:
    """``identity`` (:func:`data_identity`) with the metadata ``name`` found in ``folder``
    added: the folder under ``"metadata"``, and the SHA-256 of each file the TMDB loaders
    read there (each JSON file of ``api/``) among the files, named ``"<name>/<file>"``."""
    from recsys.data import TMDB_SOURCES

    paths = [folder / "links.csv"] + [folder / f for files in TMDB_SOURCES.values()
                                      for f in files]
    if (folder / "api").is_dir():
        paths += sorted((folder / "api").glob("*.json"))
    files = dict(identity["files"])
    for path in paths:
        if path.is_file():
            with open(path, "rb") as fh:
                files[f"{name}/{path.relative_to(folder)}"] = hashlib.file_digest(
                    fh, "sha256").hexdigest()
    return {**identity, "metadata": f"{name}:{folder.resolve()}", "files": files}


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def cached_model_path(dataset: str, algo: str, params: dict, identity: dict,
                      cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``--dataset D --algo A --param ...`` keeps its model trained on the data of
    ``identity`` (:func:`data_identity`):
    ``<cache>/models/<dataset>-<algo>-<folder, algo and params>-<file digests>.npz``. The
    data's folder and content are part of the name, so a model is reused only for the very
    files it was trained on; the same folder with other contents gives the same name up to
    the last part (see :func:`train_and_save`), and so does another recsys version
    (:func:`model_file_version`)."""
    from recsys.data import cache_dir as default_cache

    root = Path(cache_dir) if cache_dir is not None else default_cache() / "models"
    setup = {"folder": identity["folder"], "algo": algo, "params": params}
    label = dataset
    if "metadata" in identity:  # metadata_identity: its folder is part of the setup
        setup["metadata"] = identity["metadata"]
        label += "+" + identity["metadata"].split(":", 1)[0]
    contents = {"files": identity["files"], **model_file_version(algo)}
    return root / f"{label}-{algo.lower()}-{_digest(setup)}-{_digest(contents)}.npz"


def model_file_version(algo: str) -> dict:
    """What a cached model file of class ``algo`` depends on besides the data: the recsys
    version, the model-file format version and the arrays the class saves (which change
    when a class learns something new, e.g. ContentKNN's term arrays). Part of the last
    piece of :func:`cached_model_path`, so a model cached by another recsys is trained
    again (and replaced, as a model of other data is) instead of being refused at load."""
    from recsys import __version__
    from recsys.models.persistence import FORMAT_VERSION
    from recsys.models.registry import registered_models

    cls = registered_models().get(algo)
    arrays = sorted(getattr(cls, "_fitted_arrays", ()))
    return {"recsys": __version__, "format_version": FORMAT_VERSION, "arrays": arrays}


def _older_versions(path: Path) -> list[Path]:
    """Models cached for the same folder, algo and params as ``path`` but other contents of
    the data, or by another recsys version (the last part of the name differs)."""
    stem = path.stem.rsplit("-", 1)[0]
    return sorted(p for p in path.parent.glob(f"{stem}-*.npz") if p != path)


def train_and_save(dataset: str, algo: str, params: dict | None = None,
                   cache_dir: str | os.PathLike | None = None, data_dir=None,
                   retrain: bool = False, log=print, metadata: str | None = None,
                   metadata_dir=None) -> Path:
    """Train ``algo`` on the whole ``dataset``, save it and its catalogue sidecar; return
    the model path. Reuses a cached model trained with the same algo and params on the same
    files (same folder, same contents: :func:`cached_model_path`); a model of an older
    version of those files is replaced.

    ``metadata="tmdb"``: the TMDB files (found in ``metadata_dir``, default ``data_dir``,
    alone where given, else in ``$RECSYS_DATA/tmdb`` and the cache) are joined into the
    data set the model trains on and into the catalogue, and are part of the cache key
    (:func:`metadata_identity`)."""
    from recsys.data import find_release, load_dataset
    from recsys.models.registry import build_model
    from recsys.serve.catalogue import Catalogue, sidecar_path

    params = dict(params or {})
    cls = _model_class(algo)
    try:
        model = build_model({"class": cls.__name__, "params": params})
    except (TypeError, ValueError) as exc:
        raise ServeArgumentError(f"--param: {exc}") from None
    folder = find_release(dataset, data_dir)
    identity = data_identity(dataset, folder)
    if metadata is not None:
        from recsys.data import find_tmdb

        tmdb_folder = find_tmdb(metadata_dir if metadata_dir is not None else data_dir)
        identity = metadata_identity(identity, metadata, tmdb_folder)
    path = cached_model_path(dataset, cls.__name__, params, identity, cache_dir)
    side = sidecar_path(path)
    if path.is_file() and side.is_file() and not retrain:
        log(f"using the cached model {path}")
        return path
    older = _older_versions(path)
    if older and not retrain:
        log(f"the data in {identity['folder']} or the recsys version changed since "
            f"{older[-1].name} was trained: training again")
    ds = load_dataset(dataset, folder)  # the folder digested, not another search
    joined = None
    if metadata is not None:
        ds, joined = _with_metadata(ds, metadata, tmdb_folder, log)
    log(f"training {model!r} on {ds.name} ({ds.n_ratings:,} ratings)...")
    try:
        model.fit(ds)
    except ValueError as exc:
        if isinstance(exc, RecsysError):
            raise
        # The models check their hyperparameters' values in fit: e.g. n_factors='ten'.
        raise ServeArgumentError(f"training {model!r}: {exc}") from None
    model.save(path)
    if ds.item_info is not None:
        Catalogue.from_frame(ds.item_info, dataset=ds.name, metadata=joined).save(side)
    else:
        Catalogue([], [], [], [], dataset=ds.name).save(side)
    for old in older:
        old.unlink(missing_ok=True)
        sidecar_path(old).unlink(missing_ok=True)
    log(f"saved {path} and {side.name}")
    return path


def _with_metadata(ds, metadata: str, folder: Path, log):
    """``ds`` with the metadata of ``folder`` joined into its ``item_info`` (what
    ``ContentKNN(features="tmdb")`` reads), and the join (for the catalogue)."""
    from recsys.metadata import load_metadata
    from recsys.models.content_features import with_tmdb

    meta = load_metadata(metadata, ds, folder)
    log(f"{metadata} metadata from {meta.folder}: "
        + meta.joined.coverage.describe().splitlines()[1].strip())
    return with_tmdb(ds, meta.data), meta.joined


def exposed(host: str) -> bool:
    """Whether binding ``host`` may make the server reachable from other machines: anything
    but a loopback address or ``localhost`` (a host name may resolve to any interface)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def run(args: argparse.Namespace) -> int:
    if args.algo is None and args.model is None:
        raise ServeArgumentError("give --model PATH, or --dataset NAME --algo NAME")
    if args.algo is not None and args.model is not None:
        raise ServeArgumentError("give either --model or --algo, not both")
    if args.algo is not None and args.dataset is None:
        raise ServeArgumentError("--algo needs --dataset (the data to train on)")
    if args.param and args.algo is None:
        raise ServeArgumentError("--param only applies with --algo")
    if args.catalogue is not None and args.dataset is not None and args.model is not None:
        raise ServeArgumentError("give either --catalogue or --dataset for the titles")
    tmdb_dir = metadata_dir(args)  # --metadata-dir without --metadata is an error
    if args.metadata is not None and args.dataset is None:
        raise ServeArgumentError("--metadata needs --dataset (TMDB joins through its links)")
    if not 0 <= args.port <= 65535:
        raise ServeArgumentError(f"--port {args.port} is not a TCP port")
    if args.workers < 1:
        raise ServeArgumentError("--workers must be >= 1")
    if not args.cache_mb >= 0:
        raise ServeArgumentError("--cache-mb must be >= 0")
    try:
        import fastapi  # noqa: F401
        import fastapi_offline  # noqa: F401  (the assets of /docs)
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ServeArgumentError(f"recsys serve needs the serve extra: pip install "
                                 f"'recsys[serve]' ({exc})") from None
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731

    if args.algo is not None:
        model_path = train_and_save(args.dataset, args.algo, _params(args.param),
                                    args.cache_dir, args.data_dir, args.retrain, log,
                                    args.metadata, tmdb_dir)
        catalogue = None  # the sidecar just written
    else:
        model_path = Path(args.model)
        if not model_path.is_file():
            raise ServeArgumentError(f"--model {model_path}: no such file")
        catalogue = Path(args.catalogue) if args.catalogue else None
        if args.dataset is not None:
            from recsys.serve.catalogue import Catalogue

            catalogue = Catalogue.from_dataset(args.dataset, args.data_dir, args.metadata,
                                               tmdb_dir)
    return _serve(model_path, catalogue, args, log)


def _serve(model_path: Path, catalogue, args, log) -> int:
    import uvicorn

    from recsys.serve.app import create_app
    from recsys.serve.catalogue import Catalogue

    if exposed(args.host):
        log(f"warning: --host {args.host} makes the API reachable from other machines, and it "
            f"has no authentication: anyone who can reach port {args.port} can read every "
            "user's ratings and recommendations. Keep the default 127.0.0.1, or put an "
            "authenticating proxy in front.")
    options = dict(host=args.host, port=args.port, access_log=args.access_log,
                   log_level=args.log_level, loop="auto", http="auto")
    if args.workers == 1:
        app = create_app(model_path, catalogue, cache_mb=args.cache_mb)
        log(f"serving {model_path.name} on http://{args.host}:{args.port}/ (docs: /docs)")
        uvicorn.run(app, **options)
        return 0
    # Several workers: uvicorn imports the app in each process through the factory, which
    # reads the paths from the environment. Build it once here first so that a bad model
    # file fails now, with a clear message, rather than in every worker.
    create_app(model_path, catalogue, warmup=False)
    if isinstance(catalogue, Catalogue):  # titles from --dataset: hand the workers a file
        from recsys.data import cache_dir

        name = catalogue.dataset + ("+tmdb" if catalogue.has_details else "")
        catalogue = catalogue.save(cache_dir() / "catalogues" / f"{name}.catalogue.json")
    os.environ["RECSYS_SERVE_MODEL"] = str(model_path.resolve())
    os.environ["RECSYS_SERVE_CATALOGUE"] = str(Path(catalogue).resolve()) if catalogue else ""
    os.environ["RECSYS_SERVE_CACHE_MB"] = repr(args.cache_mb)
    log(f"serving {model_path.name} on http://{args.host}:{args.port}/ with {args.workers} "
        "workers (docs: /docs)")
    uvicorn.run("recsys.serve.app:create_app_from_env", factory=True, workers=args.workers,
                **options)
    return 0
