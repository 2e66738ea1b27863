"""The endpoints of the serving API and the web page, registered by :func:`add_routes`.

JSON endpoints (user and item ids are the data set's own raw ids, integers as in the
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

Items carry the optional TMDB fields (``tmdb_id``, ``overview``, ``tmdb_genres``, ``keywords``;
``shared`` in a similar-items list) only where the catalogue has them: the item routes
answer with ``response_model_exclude_unset``, as the direct path of user recommendations
does, so an item without TMDB details has no such keys (never ``null``).

``POST /predict`` does not 404 on unknown ids: it returns the model's documented fallback
estimate for that pair (e.g. ``mu + b_i`` for an unknown user of FunkSVD) and flags the
pair with ``user_known``/``item_known`` false, so that one bad pair does not void a batch.

The handlers are ``async def``: model calls run on the event loop thread, one at a time
per worker process (see :mod:`recsys.serve.app`). Each only parses and calls the
:class:`~recsys.serve.service.Service`; errors become answers in :mod:`recsys.serve.errors`.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
# handlers at runtime, and the body model of POST /recommendations is built per app.

from pathlib import Path

import numpy as np
from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from recsys.serve.schemas import (
    MAX_K,
    MAX_PAGE_SIZE,
    MAX_QUERY,
    ErrorOut,
    HealthOut,
    ItemOut,
    ItemPageOut,
    NewUserRecommendationsOut,
    NotFoundOut,
    PredictIn,
    PredictOut,
    SimilarOut,
    UserOut,
    UserPageOut,
    UserRecommendationsOut,
    ValidationErrorOut,
)
from recsys.serve.service import Service

__all__ = ["add_routes"]

HERE = Path(__file__).resolve().parent

NOT_FOUND = {404: {"model": NotFoundOut, "description": "Unknown user or item id"}}
INVALID = {422: {"model": ValidationErrorOut, "description": "Invalid input"}}
UNSUPPORTED = {501: {"model": ErrorOut, "description": "The model lacks this capability"}}
#: Routes answering items: a field the service leaves out (an item's TMDB details) stays out.
OPTIONAL_FIELDS = {"response_model_exclude_unset": True}


def _k():
    return Query(10, ge=1, le=MAX_K, description="How many items.")


def _user_id():
    return PathParam(description="Raw user id, as in the data set.")


def _item_id():
    return PathParam(description="Raw item id, as in the data set.")


def add_routes(app: FastAPI, svc: Service, new_user_in: type) -> None:
    """Register the web page and every endpoint of the module notes on ``app``, answering
    from ``svc``. ``new_user_in``: the body model of ``POST /recommendations``
    (:func:`~recsys.serve.schemas.request_models`)."""
    _page_routes(app, svc)
    _user_routes(app, svc, new_user_in)
    _item_routes(app, svc)


def _page_routes(app: FastAPI, svc: Service) -> None:
    """``/`` (the web page), its static files, and ``/health``."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

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


def _user_routes(app: FastAPI, svc: Service, new_user_in: type) -> None:
    """``/users...``, ``POST /recommendations`` and ``POST /predict``."""

    @app.get("/users", response_model=UserPageOut, responses=INVALID, tags=["users"])
    async def list_users(page: int = Query(1, ge=1, le=10**9),
                         page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE)):
        """User ids in the model, in id order, with their number of training ratings."""
        return svc.users_page(page, page_size)

    @app.get("/users/{user_id}", response_model=UserOut, responses={**NOT_FOUND, **INVALID},
             tags=["users"], **OPTIONAL_FIELDS)
    async def get_user(user_id: int = _user_id(),
                       top: int = Query(10, ge=1, le=MAX_K, description="Top-rated items.")):
        """A training user: rating count, mean rating and their highest-rated items."""
        return svc.user_profile(user_id, top)

    @app.get("/users/{user_id}/recommendations", response_model=UserRecommendationsOut,
             responses={**NOT_FOUND, **INVALID}, tags=["recommendations"])
    async def user_recommendations(user_id: int = _user_id(), k: int = _k(),
                                   exclude_seen: bool = Query(
                                       True, description="Leave out items the user rated.")):
        """Top-k items for a training user, with scores and, where the model can give one,
        an explanation (the user's rated items behind each score)."""
        # The hot path: serialised directly, bypassing response validation (the tests
        # validate this shape against UserRecommendationsOut).
        return Response(svc.recommend_user_json(user_id, k, exclude_seen),
                        media_type="application/json")

    @app.post("/recommendations", response_model=NewUserRecommendationsOut,
              responses={**NOT_FOUND, **INVALID, **UNSUPPORTED}, tags=["recommendations"],
              **OPTIONAL_FIELDS)
    async def new_user_recommendations(body: new_user_in):
        """Top-k items for a new user given their ratings: folded into the fixed model
        (no retraining). Unknown item ids are a 404."""
        return svc.recommend_new(body.ratings, body.k, body.exclude_rated)

    @app.post("/predict", response_model=PredictOut, responses=INVALID, tags=["recommendations"])
    async def predict(body: PredictIn):
        """Predicted ratings for a batch of (user, item) pairs. Unknown ids are not an
        error: the pair gets the model's fallback estimate and ``*_known: false``."""
        return svc.predict(body.pairs)


def _item_routes(app: FastAPI, svc: Service) -> None:
    """``/items...``."""

    @app.get("/items", response_model=ItemPageOut, responses=INVALID, tags=["items"],
             **OPTIONAL_FIELDS)
    async def search_items(query: str = Query("", max_length=MAX_QUERY,
                                              description="Part of the title; empty: all."),
                           page: int = Query(1, ge=1, le=10**9),
                           page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE)):
        """Title search over the catalogue, case- and accent-insensitive. Titles starting
        with the query first, then by number of ratings."""
        return svc.search(query, page, page_size)

    @app.get("/items/{item_id}", response_model=ItemOut, responses={**NOT_FOUND, **INVALID},
             tags=["items"], **OPTIONAL_FIELDS)
    async def get_item(item_id: int = _item_id()):
        """Title, year, genres and rating count of an item, and its TMDB overview, genres and
        keywords where the catalogue has them."""
        return svc.item_info(item_id)

    @app.get("/items/{item_id}/similar", response_model=SimilarOut,
             responses={**NOT_FOUND, **INVALID, **UNSUPPORTED}, tags=["items"],
             **OPTIONAL_FIELDS)
    async def similar_items(item_id: int = _item_id(), k: int = _k()):
        """The k items most similar to this one in the model, most similar first."""
        return svc.similar(item_id, k)
