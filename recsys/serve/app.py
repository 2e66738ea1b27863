"""The HTTP API and the web page over one saved model: :func:`create_app`.

Nothing happens at import time. ``create_app(model_path)`` loads the model file named by
the operator (never a path from a request) into a :class:`~recsys.serve.service.Service`
(item titles from a :class:`~recsys.serve.catalogue.Catalogue`, id maps, item metadata as
ready-to-serialise dicts, rating counts, the optional cache), registers the error answers
(:mod:`recsys.serve.errors`), the endpoints (:mod:`recsys.serve.routes`, schemas in
:mod:`recsys.serve.schemas`) and the offline API docs (:mod:`recsys.serve.docs`) and
returns a FastAPI app.

Model calls run on the event loop thread (``async def`` handlers), one at a time per worker
process: the models are not documented as thread-safe, and a request costs well under a
millisecond on MovieLens-sized models. While the app runs (its lifespan), Numba and BLAS
use ``threads`` threads (default 1) on that thread, restored at shutdown: a request scores
one user, far too little work to split, and a parallel region that must wait for a busy
core to join turns a 0.5 ms request into tens of milliseconds. Scale out with worker
processes (``recsys serve --workers N``) instead.

Caching is opt-in: ``create_app(..., cache_mb=M)`` keeps the serialised answers of
``GET /users/{id}/recommendations`` in a least-recently-used cache of at most M MiB per
worker (exact: the model never changes while it is served). Off (0) by default; ``/health``
reports the setting.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI

from recsys import __version__
from recsys.serve.catalogue import Catalogue
from recsys.serve.docs import add_docs
from recsys.serve.errors import MAX_BODY, BodyLimit, ServeError, add_error_handlers
from recsys.serve.routes import add_routes
from recsys.serve.schemas import request_models
from recsys.serve.service import Service
from recsys.threads import numba_threads

__all__ = ["create_app", "create_app_from_env", "ServeError", "thread_limits"]

log = logging.getLogger("recsys.serve")


def create_app(model_path: str | os.PathLike, catalogue: Catalogue | str | os.PathLike |
               None = None, *, warmup: bool = True, threads: int | None = 1,
               cache_mb: float = 0) -> FastAPI:
    """Build the API and web page over the model saved at ``model_path``.

    Parameters
    ----------
    model_path : path
        A model file written by :meth:`Recommender.save`, loaded once here.
    catalogue : Catalogue or path, optional
        Item titles/years/genres: a :class:`Catalogue`, or the path of a catalogue JSON
        file. Default: the sidecar next to the model (:func:`sidecar_path`) if it exists,
        else placeholder titles ("Item 123").
    warmup : bool
        Answer one request of each kind before returning, so that JIT compilation does not
        land on the first client.
    threads : int or None, default 1
        Numba/BLAS threads for model calls while the app runs (see the module notes);
        None leaves the process settings alone.
    cache_mb : float, default 0
        Budget (MiB) of the cache of user recommendations (module notes); 0 disables it.
    """
    svc = Service.load(model_path, catalogue, cache_mb=cache_mb)
    _, new_user_in = request_models(svc.lo, svc.hi)
    if warmup:
        with thread_limits(threads):
            svc.warm_up()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Runs on the event loop thread, where the handlers call the model.
        with thread_limits(threads):
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="recsys",
        version=__version__,
        summary=f"Recommendations from a {type(svc.model).__name__} model",
        description="Look at what a trained model recommends. Ids are the data set's raw ids.",
        docs_url=None, redoc_url=None,  # served offline by add_docs
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    app.state.service = svc
    app.state.cache = svc.cache
    add_error_handlers(app)
    add_routes(app, svc, new_user_in)
    add_docs(app)
    return app


@contextmanager
def thread_limits(threads: int | None):
    """Numba (this thread) and BLAS (process) limited to ``threads`` inside the block, the
    previous settings restored after it. ``None`` leaves both alone. BLAS is limited only
    where threadpoolctl is installed."""
    if threads is None:
        yield
        return
    with numba_threads(threads):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - depends on the environment
            log.warning("threadpoolctl is not installed: BLAS may use every core per request")
            yield
            return
        with threadpool_limits(limits=int(threads)):
            yield


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` with several workers: reads the model path from
    ``RECSYS_SERVE_MODEL``, the catalogue path (optional) from ``RECSYS_SERVE_CATALOGUE`` and
    the cache budget from ``RECSYS_SERVE_CACHE_MB``, which ``recsys serve`` sets for its
    worker processes."""
    model = os.environ.get("RECSYS_SERVE_MODEL")
    if not model:
        raise ServeError("RECSYS_SERVE_MODEL is not set")
    cache_mb = float(os.environ.get("RECSYS_SERVE_CACHE_MB") or 0)
    return create_app(model, os.environ.get("RECSYS_SERVE_CATALOGUE") or None,
                      cache_mb=cache_mb)
