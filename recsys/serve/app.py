"""The HTTP API and the web page over one saved model: :func:`create_app`.

Nothing happens at import time. ``create_app(model_path)`` loads the model file named by
the operator (never a path from a request), attaches item titles from a
:class:`~recsys.serve.catalogue.Catalogue`, precomputes what every response needs (id maps,
item metadata as ready-to-serialise dicts, rating counts) and returns a FastAPI app.

Endpoints (JSON; user and item ids are the data set's own raw ids, integers as in the
MovieLens files)::

    GET  /health                               model, data set, counts, version
    GET  /users?page=&page_size=               user ids with their rating counts
    GET  /users/{user_id}?top=10               a user's ratings count, mean, top-rated items
    GET  /users/{user_id}/recommendations?k=10&exclude_seen=true
    GET  /items?query=&page=&page_size=        title search (case/accent-insensitive)
    GET  /items/{item_id}
    GET  /items/{item_id}/similar?k=10
    POST /predict            {"pairs": [{"user_id": 1, "item_id": 1}, ...]}
    POST /recommendations    {"ratings": [{"item_id": 1, "rating": 5}, ...], "k": 10}
    GET  /                   the web page;  /docs, /openapi.json: the schema

Errors: an unknown user or item is a 404 ``{"detail": "unknown user id 7", "kind": "user",
"id": 7}``; invalid input is a 422 ``{"detail": "k: ...", "errors": [{"location": "query",
"field": "k", "message": "..."}]}``; a capability the model lacks (e.g. similar items of a
UserKNN) is a 501; anything unexpected is a 500 ``{"detail": "internal server error"}``
with no internals (the traceback goes to the server log only).

``POST /predict`` does not 404 on unknown ids: it returns the model's documented fallback
estimate for that pair (e.g. ``mu + b_i`` for an unknown user of FunkSVD) and flags the
pair with ``user_known``/``item_known`` false, so that one bad pair does not void a batch.

Model calls run on the event loop thread (``async def`` handlers), one at a time per worker
process: the models are not documented as thread-safe, and a request costs well under a
millisecond on MovieLens-sized models. While the app runs (its lifespan), Numba and BLAS
use ``threads`` threads (default 1) on that thread, restored at shutdown: a request scores
one user, far too little work to split, and a parallel region that must wait for a busy
core to join turns a 0.5 ms request into tens of milliseconds. Scale out with worker
processes (``recsys serve --workers N``) instead.

Caching is opt-in: ``create_app(..., cache_mb=M)`` keeps the serialised answers of
``GET /users/{id}/recommendations`` in a least-recently-used cache of at most M MiB per
worker, keyed by (user, k, exclude_seen). The model never changes while it is served, so a
cached answer is exactly what recomputing would give. Off (0) by default; ``/health``
reports the setting.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
# handlers at runtime, and the request models are local to create_app.

import json
import logging
import os
from collections import OrderedDict
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys import __version__
from recsys.errors import RecsysError
from recsys.models.base import Recommender
from recsys.serve.catalogue import Catalogue, sidecar_path

__all__ = ["create_app", "create_app_from_env", "ServeError", "thread_limits"]

log = logging.getLogger("recsys.serve")

HERE = Path(__file__).resolve().parent
MAX_K = 1000
MAX_RATINGS = 1000
MAX_PAIRS = 1000
MAX_PAGE_SIZE = 100
MAX_QUERY = 200
#: Largest request body accepted (1000 ratings take about 40 KB).
MAX_BODY = 1 << 20
#: Contributions shown in an explanation.
EXPLAIN_N = 3

try:  # orjson is ~5x faster than json on the response dicts; optional
    import orjson

    def _dumps(obj) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - depends on the environment
    def _dumps(obj) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")


class ServeError(RecsysError, ValueError):
    """The model or catalogue cannot be served (e.g. non-integer raw ids)."""


class NotFound(Exception):
    """An unknown user or item id (answered with 404 naming the id)."""

    def __init__(self, kind: str, raw_id: int, detail: str | None = None):
        self.kind, self.raw_id = kind, raw_id
        self.detail = detail or f"unknown {kind} id {raw_id}"
        super().__init__(self.detail)


class Unsupported(Exception):
    """The loaded model lacks a capability (answered with 501)."""


# ---------------------------------------------------------------------- response models
class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in words.")


class NotFoundOut(BaseModel):
    detail: str = Field(examples=["unknown user id 99999"])
    kind: Literal["user", "item"]
    id: int = Field(description="The id that was not found.")


class FieldErrorOut(BaseModel):
    location: str = Field(description="body, query or path")
    field: str = Field(description="The offending field, e.g. ratings[2].rating", examples=["k"])
    message: str


class ValidationErrorOut(BaseModel):
    detail: str = Field(examples=["k: Input should be less than or equal to 1000"])
    errors: list[FieldErrorOut]


class Capabilities(BaseModel):
    explain: bool = Field(description="Recommendations carry explanations.")
    similar_items: bool
    new_user: bool = Field(description="POST /recommendations (fold-in) is available.")


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    model: str = Field(description="Model class, e.g. FunkSVD.")
    params: dict[str, Any] = Field(description="The model's hyperparameters.")
    model_file: str = Field(description="File name of the loaded model.")
    dataset: str | None = Field(description="Data set the catalogue came from, if known.")
    n_users: int
    n_items: int = Field(description="Items the model knows.")
    n_catalogue_items: int = Field(description="Items with metadata (may include unrated ones).")
    rating_scale: tuple[float, float]
    predicts_ratings: bool = Field(description="Scores are ratings (else a ranking signal).")
    capabilities: Capabilities
    cache_mb: float = Field(description="Per-worker cache of user recommendations, MiB "
                                        "(0: off).")
    version: str = Field(description="recsys version.")


class ItemOut(BaseModel):
    item_id: int
    title: str
    year: int | None
    genres: list[str]
    n_ratings: int = Field(description="Ratings of the item in the training data.")
    in_model: bool = Field(description="False for catalogue items no one rated in training.")


class RatedItemOut(ItemOut):
    rating: float


class ContributionOut(BaseModel):
    item_id: int
    title: str
    rating: float | None = Field(description="The user's rating of this item, if any.")
    contribution: float = Field(description="Its share of the score (model-specific units).")


class RecommendationOut(ItemOut):
    rank: int = Field(description="1 for the best item.")
    score: float = Field(description="The model's ranking score, unclipped (for rating "
                                     "models the predicted rating before clipping).")
    predicted_rating: float | None = Field(description="The score clipped to the rating "
                                                      "scale; null for top-N models.")
    explanation: str | None = Field(description="A short reason, where the model gives one.")
    because: list[ContributionOut] = Field(description="The user's items behind the score.")


class UserOut(BaseModel):
    user_id: int
    n_ratings: int
    mean_rating: float | None
    top_rated: list[RatedItemOut] = Field(description="Highest rated first; ties: most rated.")


class UserSummaryOut(BaseModel):
    user_id: int
    n_ratings: int


class UserPageOut(BaseModel):
    total: int
    page: int
    page_size: int
    users: list[UserSummaryOut]


class UserRecommendationsOut(BaseModel):
    user_id: int
    k: int
    exclude_seen: bool
    items: list[RecommendationOut]


class ItemPageOut(BaseModel):
    query: str
    total: int = Field(description="Matches over all pages.")
    page: int
    page_size: int
    items: list[ItemOut]


class SimilarItemOut(ItemOut):
    similarity: float


class SimilarOut(BaseModel):
    item: ItemOut
    k: int
    items: list[SimilarItemOut]


class PredictionOut(BaseModel):
    user_id: int
    item_id: int
    rating: float = Field(description="Predicted rating, clipped to the scale (a ranking "
                                      "score for top-N models).")
    user_known: bool
    item_known: bool = Field(description="False: the value is the model's fallback estimate.")


class PredictOut(BaseModel):
    predictions: list[PredictionOut]


class NewUserRecommendationsOut(BaseModel):
    k: int
    n_ratings: int
    items: list[RecommendationOut]


# ---------------------------------------------------------------------- request models
class _Strict(BaseModel):
    # Strict: "5" is not an int; extra keys are errors (a typo must not pass silently).
    model_config = ConfigDict(strict=True, extra="forbid")


class PredictPair(_Strict):
    user_id: int
    item_id: int


class PredictIn(_Strict):
    pairs: list[PredictPair] = Field(min_length=1, max_length=MAX_PAIRS)


def _request_models(lo: float, hi: float):
    """Request models whose rating bounds are the loaded model's scale."""

    class RatingIn(_Strict):
        item_id: int
        rating: float = Field(ge=lo, le=hi, allow_inf_nan=False,
                              description=f"On the model's scale [{lo:g}, {hi:g}].")

    class NewUserIn(_Strict):
        ratings: list[RatingIn] = Field(min_length=1, max_length=MAX_RATINGS)
        k: int = Field(10, ge=1, le=MAX_K)
        exclude_rated: bool = Field(True, description="Leave the rated items out.")

        @field_validator("ratings")
        @classmethod
        def _distinct(cls, ratings):
            seen: set[int] = set()
            for r in ratings:
                if r.item_id in seen:
                    raise ValueError(f"item {r.item_id} is rated more than once")
                seen.add(r.item_id)
            return ratings

    return RatingIn, NewUserIn


# ---------------------------------------------------------------------- the model side
def _overrides(model: Recommender, name: str) -> bool:
    return getattr(type(model), name) is not getattr(Recommender, name)


class _Service:
    """The loaded model with everything a response needs precomputed."""

    def __init__(self, model: Recommender, catalogue: Catalogue | None, model_path: Path):
        self.model = model
        self.model_path = model_path
        for kind, ids in (("user", model.user_ids_), ("item", model.item_ids_)):
            if not np.issubdtype(np.asarray(ids).dtype, np.integer):
                raise ServeError(f"{model_path}: the server needs integer raw {kind} ids, "
                                 f"this model has {np.asarray(ids).dtype}")
        self.user_ids = [int(u) for u in model.user_ids_]
        self.item_ids = [int(i) for i in model.item_ids_]
        self.user_row = {u: r for r, u in enumerate(self.user_ids)}
        self.item_row = {i: r for r, i in enumerate(self.item_ids)}
        indptr = np.asarray(model.seen_indptr_, dtype=np.int64)
        self.indptr = indptr
        self.seen_items = np.asarray(model.seen_indices_, dtype=np.int64)
        self.seen_ratings = np.asarray(model.seen_ratings_, dtype=np.float64)
        self.user_counts = np.diff(indptr).tolist()
        self.item_counts_arr = np.bincount(self.seen_items, minlength=len(self.item_ids))
        self.item_counts = self.item_counts_arr.tolist()
        self.catalogue = _complete(catalogue, self.item_ids)
        self.catalogue.rank_by(dict(zip(self.item_ids, self.item_counts)))
        self.lo, self.hi = (float(x) for x in model.rating_scale_)
        # One ready-to-serialise dict per model item; responses copy and extend them.
        self.meta: list[dict] = []
        for row, item in enumerate(self.item_ids):
            title, year, genres = self.catalogue.get(item)
            self.meta.append({"item_id": item, "title": title, "year": year, "genres": genres,
                              "n_ratings": self.item_counts[row], "in_model": True})
        self.cache_mb = 0.0
        self.predicts_ratings = bool(model.predicts_ratings)
        self.can_explain = _overrides(model, "_explain")
        self.can_similar = _overrides(model, "_similar_items")
        self.can_new_user = _overrides(model, "_score_new_user")

    # -------------------------------------------------------------- lookups
    def user(self, user_id: int) -> int:
        row = self.user_row.get(user_id)
        if row is None:
            raise NotFound("user", user_id)
        return row

    def item(self, item_id: int) -> int:
        row = self.item_row.get(item_id)
        if row is None:
            if item_id in self.catalogue:
                raise NotFound("item", item_id, f"item id {item_id} is in the catalogue but "
                                                "not in the model (no training ratings)")
            raise NotFound("item", item_id)
        return row

    def item_info(self, item_id: int) -> dict:
        row = self.item_row.get(item_id)
        if row is not None:
            return dict(self.meta[row])
        found = self.catalogue.get(item_id)
        if found is None:
            raise NotFound("item", item_id)
        title, year, genres = found
        return {"item_id": item_id, "title": title, "year": year, "genres": genres,
                "n_ratings": 0, "in_model": False}

    # -------------------------------------------------------------- answers
    def health(self) -> dict:
        m = self.model
        return {
            "status": "ok", "model": type(m).__name__, "params": _plain(m.get_params()),
            "model_file": self.model_path.name, "dataset": self.catalogue.dataset,
            "n_users": len(self.user_ids), "n_items": len(self.item_ids),
            "n_catalogue_items": len(self.catalogue), "rating_scale": [self.lo, self.hi],
            "predicts_ratings": bool(m.predicts_ratings),
            "capabilities": {"explain": self.can_explain, "similar_items": self.can_similar,
                             "new_user": self.can_new_user},
            "cache_mb": self.cache_mb,
            "version": __version__,
        }

    def user_profile(self, user_id: int, top: int) -> dict:
        u = self.user(user_id)
        lo, hi = self.indptr[u], self.indptr[u + 1]
        items, ratings = self.seen_items[lo:hi], self.seen_ratings[lo:hi]
        counts = self.item_counts_arr[items]
        order = np.lexsort((-counts, -ratings))[:top]  # rating desc, then most rated
        top_rated = [dict(self.meta[i], rating=float(r))
                     for i, r in zip(items[order].tolist(), ratings[order].tolist())]
        return {"user_id": user_id, "n_ratings": int(hi - lo),
                "mean_rating": float(ratings.mean()) if len(ratings) else None,
                "top_rated": top_rated}

    def users_page(self, page: int, page_size: int) -> dict:
        start = (page - 1) * page_size
        rows = range(start, min(start + page_size, len(self.user_ids)))
        return {"total": len(self.user_ids), "page": page, "page_size": page_size,
                "users": [{"user_id": self.user_ids[r], "n_ratings": self.user_counts[r]}
                          for r in rows]}

    def recommend_user(self, user_id: int, k: int, exclude_seen: bool) -> dict:
        u = self.user(user_id)
        items, scores = self.model.recommend(u, k, exclude_seen=exclude_seen)
        out = self._ranked(items, scores, "score", user=u)
        return {"user_id": user_id, "k": k, "exclude_seen": exclude_seen, "items": out}

    def recommend_new(self, ratings: list, k: int, exclude_rated: bool) -> dict:
        if not self.can_new_user:
            raise Unsupported(f"{type(self.model).__name__} cannot recommend for a new user")
        rows = np.array([self.item(r.item_id) for r in ratings], dtype=np.int64)
        values = np.array([r.rating for r in ratings], dtype=np.float64)
        try:
            items, scores = self.model.recommend_new_user(rows, values, k,
                                                          exclude_rated=exclude_rated)
        except NotImplementedError as exc:
            raise Unsupported(str(exc)) from None
        return {"k": k, "n_ratings": len(ratings), "items": self._ranked(items, scores, "score")}

    def similar(self, item_id: int, k: int) -> dict:
        i = self.item(item_id)
        if not self.can_similar:
            raise Unsupported(f"{type(self.model).__name__} has no item-item similarity")
        try:
            items, sims = self.model.similar_items(i, k)
        except NotImplementedError as exc:
            raise Unsupported(str(exc)) from None
        return {"item": dict(self.meta[i]), "k": k,
                "items": self._ranked(items, sims, "similarity")}

    def predict(self, pairs: list) -> dict:
        users = np.array([self.user_row.get(p.user_id, -1) for p in pairs], dtype=np.int64)
        items = np.array([self.item_row.get(p.item_id, -1) for p in pairs], dtype=np.int64)
        values = self.model.predict(users, items).tolist()
        return {"predictions": [
            {"user_id": p.user_id, "item_id": p.item_id,
             "rating": v if np.isfinite(v) else float(self.model.global_mean_),
             "user_known": bool(u >= 0), "item_known": bool(i >= 0)}
            for p, v, u, i in zip(pairs, values, users.tolist(), items.tolist())]}

    def search(self, query: str, page: int, page_size: int) -> dict:
        hits = self.catalogue.search(query)
        start = (page - 1) * page_size
        return {"query": query, "total": len(hits), "page": page, "page_size": page_size,
                "items": [self.item_info(i) for i in hits[start:start + page_size]]}

    # -------------------------------------------------------------- helpers
    def _ranked(self, items: np.ndarray, values: np.ndarray, key: str,
                user: int | None = None) -> list[dict]:
        """Item dicts for a top-k answer, padding (-1 / -inf) dropped. ``key="score"``
        adds rank and explanation; ``key="similarity"`` only the value."""
        keep = (items >= 0) & np.isfinite(values)
        out = []
        for rank, (i, v) in enumerate(zip(items[keep].tolist(), values[keep].tolist()), 1):
            entry = dict(self.meta[i])
            entry[key] = v
            if key == "score":
                entry["rank"] = rank
                entry["predicted_rating"] = (min(max(v, self.lo), self.hi)
                                             if self.predicts_ratings else None)
                entry["explanation"], entry["because"] = self._explain(user, i)
            out.append(entry)
        return out

    def _explain(self, user: int | None, item: int) -> tuple[str | None, list]:
        if user is None or not self.can_explain:
            return None, []
        try:
            idx, contrib = self.model.explain(user, item, EXPLAIN_N)
        except NotImplementedError:
            return None, []
        lo, hi = self.indptr[user], self.indptr[user + 1]
        mine = dict(zip(self.seen_items[lo:hi].tolist(), self.seen_ratings[lo:hi].tolist()))
        because = []
        for j, c in zip(idx.tolist(), contrib.tolist()):
            if 0 <= j < len(self.meta) and np.isfinite(c):
                because.append({"item_id": self.item_ids[j], "title": self.meta[j]["title"],
                                "rating": mine.get(j), "contribution": c})
        shown = [b for b in because if b["contribution"] > 0]
        if not shown:
            return None, because
        parts = [b["title"] + (f" (rated {b['rating']:g})" if b["rating"] is not None else "")
                 for b in shown]
        return "Because of " + "; ".join(parts), because


class ByteLRU:
    """Least-recently-used cache of ``bytes`` values with a budget in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.size = 0
        self._data: OrderedDict = OrderedDict()

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.size -= len(old)
        self._data[key] = value
        self.size += len(value)
        while self.size > self.max_bytes:
            _, dropped = self._data.popitem(last=False)
            self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._data)


@contextmanager
def thread_limits(threads: int | None):
    """Numba (this thread) and BLAS (process) limited to ``threads`` inside the block, the
    previous settings restored after it. ``None`` leaves both alone. BLAS is limited only
    where threadpoolctl is installed."""
    if threads is None:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    blas = None
    try:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - depends on the environment
            log.warning("threadpoolctl is not installed: BLAS may use every core per request")
        else:
            blas = threadpool_limits(limits=int(threads))
        yield
    finally:
        if blas is not None:
            blas.restore_original_limits()
        numba.set_num_threads(previous)


class _BodyLimit:
    """ASGI middleware: a request that declares a body over ``max_bytes`` gets a 413 before
    anything reads it. (A chunked body without Content-Length is read by the JSON parser as
    usual; uvicorn's own limits apply.)"""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        too_big = int(value) > self.max_bytes
                    except ValueError:
                        too_big = False  # the server rejects a malformed length itself
                    if too_big:
                        response = JSONResponse(
                            {"detail": f"request body over {self.max_bytes} bytes"}, 413)
                        await response(scope, receive, send)
                        return
        await self.app(scope, receive, send)


def _complete(catalogue: Catalogue | None, item_ids: list[int]) -> Catalogue:
    """The catalogue with a placeholder entry ("Item 123") for each model item it lacks."""
    if catalogue is None:
        return Catalogue(item_ids, [f"Item {i}" for i in item_ids], [None] * len(item_ids),
                         [[]] * len(item_ids))
    missing = [i for i in item_ids if i not in catalogue]
    if not missing:
        return catalogue
    return Catalogue(catalogue.ids + missing,
                     catalogue.titles + [f"Item {i}" for i in missing],
                     catalogue.years + [None] * len(missing),
                     catalogue.genres + [[]] * len(missing), catalogue.dataset)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _json(payload) -> Response:
    return Response(_dumps(payload), media_type="application/json")


def _field(loc: tuple) -> tuple[str, str]:
    """``("body", "ratings", 2, "rating") -> ("body", "ratings[2].rating")``."""
    where = str(loc[0]) if loc else "body"
    name = ""
    for part in loc[1:]:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + str(part)
    return where, name or where


# ---------------------------------------------------------------------- the factory
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
    model_path = Path(model_path)
    model = Recommender.load(model_path)
    if catalogue is None:
        side = sidecar_path(model_path)
        catalogue = Catalogue.load(side) if side.is_file() else None
    elif not isinstance(catalogue, Catalogue):
        catalogue = Catalogue.load(catalogue)
    svc = _Service(model, catalogue, model_path)
    if not cache_mb >= 0:
        raise ServeError(f"cache_mb must be >= 0, got {cache_mb}")
    svc.cache_mb = float(cache_mb)
    cache = ByteLRU(int(cache_mb * 2**20)) if cache_mb > 0 else None
    RatingIn, NewUserIn = _request_models(svc.lo, svc.hi)
    if warmup:
        with thread_limits(threads):
            _warm_up(svc, RatingIn)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Runs on the event loop thread, where the handlers call the model.
        with thread_limits(threads):
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="recsys",
        version=__version__,
        summary=f"Recommendations from a {type(model).__name__} model",
        description="Look at what a trained model recommends. Ids are the data set's raw ids.",
    )
    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY)
    app.state.service = svc
    app.state.cache = cache
    app.state.internal_errors = 0
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ---------------------------------------------------------------- error handlers
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return JSONResponse({"detail": exc.detail, "kind": exc.kind, "id": exc.raw_id}, 404)

    @app.exception_handler(Unsupported)
    async def _unsupported(request: Request, exc: Unsupported):
        return JSONResponse({"detail": str(exc)}, 501)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            where, field = _field(tuple(err.get("loc", ())))
            msg = str(err.get("msg", "invalid value"))
            if err.get("type") == "json_invalid":
                loc = err.get("loc", ())
                at = f" at character {loc[1]}" if len(loc) > 1 else ""
                where, field = "body", "body"
                msg = ("malformed JSON" + at + ": "
                       + str((err.get("ctx") or {}).get("error", msg)))
            errors.append({"location": where, "field": field, "message": msg})
        if not errors:
            errors.append({"location": "body", "field": "body", "message": "invalid request"})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse({"detail": detail, "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
            # FastAPI's answer to a body it cannot even decode (e.g. not UTF-8): for the
            # client this is malformed JSON like any other, so 422 naming the body.
            msg = "malformed JSON: the body cannot be decoded as JSON text"
            return JSONResponse({"detail": f"body: {msg}", "errors": [
                {"location": "body", "field": "body", "message": msg}]}, 422)
        return JSONResponse({"detail": exc.detail}, exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        # Reached only by a bug: count it (the fuzz test asserts it stays 0), log the
        # traceback on the server, tell the client nothing about internals.
        app.state.internal_errors += 1
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, 500)

    not_found = {404: {"model": NotFoundOut, "description": "Unknown user or item id"}}
    invalid = {422: {"model": ValidationErrorOut, "description": "Invalid input"}}
    unsupported = {501: {"model": ErrorOut, "description": "The model lacks this capability"}}
    K = Query(10, ge=1, le=MAX_K, description="How many items.")
    UserId = PathParam(description="Raw user id, as in the data set.")
    ItemId = PathParam(description="Raw item id, as in the data set.")

    # ---------------------------------------------------------------- routes
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request):
        h = svc.health()
        return templates.TemplateResponse(request, "index.html", {
            "health": h, "first_user": svc.user_ids[0] if svc.user_ids else None,
            "stars": list(range(max(1, int(np.ceil(svc.lo))), int(np.floor(svc.hi)) + 1)),
        })

    @app.get("/health", response_model=HealthOut, tags=["meta"])
    async def health():
        """The loaded model, its data set and sizes, and the recsys version."""
        return svc.health()

    @app.get("/users", response_model=UserPageOut, responses=invalid, tags=["users"])
    async def list_users(page: int = Query(1, ge=1, le=10**9),
                         page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE)):
        """User ids in the model, in id order, with their number of training ratings."""
        return svc.users_page(page, page_size)

    @app.get("/users/{user_id}", response_model=UserOut, responses={**not_found, **invalid},
             tags=["users"])
    async def get_user(user_id: int = UserId,
                       top: int = Query(10, ge=1, le=MAX_K, description="Top-rated items.")):
        """A training user: rating count, mean rating and their highest-rated items."""
        return svc.user_profile(user_id, top)

    @app.get("/users/{user_id}/recommendations", response_model=UserRecommendationsOut,
             responses={**not_found, **invalid}, tags=["recommendations"])
    async def user_recommendations(user_id: int = UserId, k: int = K,
                                   exclude_seen: bool = Query(
                                       True, description="Leave out items the user rated.")):
        """Top-k items for a training user, with scores and, where the model can give one,
        an explanation (the user's rated items behind each score)."""
        # The hot path: serialised directly, bypassing response validation (the tests
        # validate this shape against UserRecommendationsOut).
        if cache is None:
            return _json(svc.recommend_user(user_id, k, exclude_seen))
        key = (user_id, k, exclude_seen)
        body = cache.get(key)
        if body is None:
            body = _dumps(svc.recommend_user(user_id, k, exclude_seen))
            cache.put(key, body)
        return Response(body, media_type="application/json")

    @app.post("/recommendations", response_model=NewUserRecommendationsOut,
              responses={**not_found, **invalid, **unsupported}, tags=["recommendations"])
    async def new_user_recommendations(body: NewUserIn):
        """Top-k items for a new user given their ratings: folded into the fixed model
        (no retraining). Unknown item ids are a 404."""
        return svc.recommend_new(body.ratings, body.k, body.exclude_rated)

    @app.post("/predict", response_model=PredictOut, responses=invalid, tags=["recommendations"])
    async def predict(body: PredictIn):
        """Predicted ratings for a batch of (user, item) pairs. Unknown ids are not an
        error: the pair gets the model's fallback estimate and ``*_known: false``."""
        return svc.predict(body.pairs)

    @app.get("/items", response_model=ItemPageOut, responses=invalid, tags=["items"])
    async def search_items(query: str = Query("", max_length=MAX_QUERY,
                                              description="Part of the title; empty: all."),
                           page: int = Query(1, ge=1, le=10**9),
                           page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE)):
        """Title search over the catalogue, case- and accent-insensitive. Titles starting
        with the query first, then by number of ratings."""
        return svc.search(query, page, page_size)

    @app.get("/items/{item_id}", response_model=ItemOut, responses={**not_found, **invalid},
             tags=["items"])
    async def get_item(item_id: int = ItemId):
        """Title, year, genres and rating count of an item."""
        return svc.item_info(item_id)

    @app.get("/items/{item_id}/similar", response_model=SimilarOut,
             responses={**not_found, **invalid, **unsupported}, tags=["items"])
    async def similar_items(item_id: int = ItemId, k: int = K):
        """The k items most similar to this one in the model, most similar first."""
        return svc.similar(item_id, k)

    return app


def _warm_up(svc: _Service, rating_model) -> None:
    """One call of each model path, so JIT compilation happens before the first request."""
    if not svc.user_ids or not svc.item_ids:
        return
    svc.recommend_user(svc.user_ids[0], 10, True)
    if svc.can_similar:
        try:
            svc.similar(svc.item_ids[0], 10)
        except Unsupported:
            pass
    if svc.can_new_user:
        try:
            svc.recommend_new([rating_model(item_id=svc.item_ids[0], rating=svc.hi)], 10, True)
        except Unsupported:
            pass


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
