"""The served model with everything an answer needs: :class:`Service`.

A :class:`Service` holds one loaded model, the item catalogue and (opt-in) a cache of
serialised answers, and turns raw ids into the plain dicts the API returns. It knows nothing
about HTTP: an unknown id raises :class:`~recsys.serve.errors.NotFound`, a capability the
model does not declare raises :class:`~recsys.errors.UnsupportedError`, and the routes map
them to 404 and 501.

What the model can do comes from the model itself (``model.supports_new_user``,
``supports_similar_items``, ``supports_explain``), its training ratings from its public
accessors (``model.seen_``, ``model.user_history``, ``model.item_counts``).

Caching: with ``cache_mb=M > 0`` the serialised answers of
``GET /users/{id}/recommendations`` are kept in a least-recently-used cache of at most M MiB
per worker, keyed by (user, k, exclude_seen). The model never changes while it is served, so a
cached answer is exactly what recomputing would give. Off (0) by default.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from contextlib import suppress
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from recsys import __version__
from recsys.errors import UnsupportedError
from recsys.io import jsonable
from recsys.models.base import Recommender
from recsys.serve.catalogue import Catalogue, sidecar_path
from recsys.serve.errors import NotFound, ServeError

__all__ = ["Service", "ByteLRU", "dumps", "EXPLAIN_N", "KEYWORDS_SHOWN"]

#: Contributions shown in an explanation.
EXPLAIN_N = 3
#: An item's TMDB keywords in the answers: the first ones, in TMDB's order.
KEYWORDS_SHOWN = 10
#: Terms per group in what two similar items share.
SHARED_SHOWN = 5

try:  # orjson is ~5x faster than json on the response dicts; optional
    import orjson

    def dumps(obj) -> bytes:
        """``obj`` (plain JSON types) as compact UTF-8 JSON bytes."""
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - depends on the environment
    def dumps(obj) -> bytes:
        """``obj`` (plain JSON types) as compact UTF-8 JSON bytes."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")


class Service:
    """One loaded model with the id maps, item metadata and counts every answer needs.

    Parameters
    ----------
    model : Recommender
        A fitted model with integer raw ids (ServeError otherwise).
    catalogue : Catalogue or None
        Item titles; model items it lacks get a placeholder title ("Item 123").
    model_path : Path
        The file the model came from (``/health`` shows its name).
    cache_mb : float, default 0
        Budget (MiB) of the cache of user recommendations; 0 disables it.
    """

    def __init__(self, model: Recommender, catalogue: Catalogue | None, model_path: Path,
                 cache_mb: float = 0):
        if not cache_mb >= 0:
            raise ServeError(f"cache_mb must be >= 0, got {cache_mb}")
        self.model = model
        self.model_path = Path(model_path)
        for kind, ids in (("user", model.user_ids_), ("item", model.item_ids_)):
            if not np.issubdtype(np.asarray(ids).dtype, np.integer):
                raise ServeError(f"{model_path}: the server needs integer raw {kind} ids, "
                                 f"this model has {np.asarray(ids).dtype}")
        self.user_ids = [int(u) for u in model.user_ids_]
        self.item_ids = [int(i) for i in model.item_ids_]
        self.user_row = {u: r for r, u in enumerate(self.user_ids)}
        self.item_row = {i: r for r, i in enumerate(self.item_ids)}
        self.user_counts = np.diff(model.seen_.indptr).tolist()
        self.item_counts_arr = model.item_counts()
        self.item_counts = self.item_counts_arr.tolist()
        self.catalogue = _complete(catalogue, self.item_ids)
        self.catalogue.rank_by(dict(zip(self.item_ids, self.item_counts)))
        self.lo, self.hi = (float(x) for x in model.rating_scale_)
        # One ready-to-serialise dict per model item; responses copy and extend them.
        self.meta: list[dict] = [self._item_dict(item, self.item_counts[row], True)
                                 for row, item in enumerate(self.item_ids)]
        self.predicts_ratings = bool(model.predicts_ratings)
        # Asked once: a Hybrid computes its capabilities from its members on every access.
        self.can_explain = model.supports_explain
        self.can_similar = model.supports_similar_items
        self.can_new_user = model.supports_new_user
        self.can_share = model.supports_shared_features
        self.cache_mb = float(cache_mb)
        self.cache = ByteLRU(int(cache_mb * 2**20)) if cache_mb > 0 else None

    @classmethod
    def load(cls, model_path: str | os.PathLike,
             catalogue: Catalogue | str | os.PathLike | None = None,
             cache_mb: float = 0) -> "Service":
        """The service over the model file at ``model_path``. ``catalogue``: a Catalogue, the
        path of a catalogue file, or None for the sidecar next to the model if there is one
        (:func:`~recsys.serve.catalogue.sidecar_path`), else placeholder titles."""
        model_path = Path(model_path)
        model = Recommender.load(model_path)
        if catalogue is None:
            side = sidecar_path(model_path)
            catalogue = Catalogue.load(side) if side.is_file() else None
        elif not isinstance(catalogue, Catalogue):
            catalogue = Catalogue.load(catalogue)
        return cls(model, catalogue, model_path, cache_mb)

    # -------------------------------------------------------------- lookups
    def user(self, user_id: int) -> int:
        """The model's row of a raw user id; NotFound if it has none."""
        row = self.user_row.get(user_id)
        if row is None:
            raise NotFound("user", user_id)
        return row

    def item(self, item_id: int) -> int:
        """The model's row of a raw item id; NotFound (saying so when the catalogue lists an
        item the model never saw) if it has none."""
        row = self.item_row.get(item_id)
        if row is None:
            if item_id in self.catalogue:
                raise NotFound("item", item_id, f"item id {item_id} is in the catalogue but "
                                                "not in the model (no training ratings)")
            raise NotFound("item", item_id)
        return row

    def item_info(self, item_id: int) -> dict:
        """``GET /items/{id}``: a model item, or a catalogue item no one rated."""
        row = self.item_row.get(item_id)
        if row is not None:
            return dict(self.meta[row])
        if item_id not in self.catalogue:
            raise NotFound("item", item_id)
        return self._item_dict(item_id, 0, False)

    def _item_dict(self, item_id: int, n_ratings: int, in_model: bool) -> dict:
        """An item as the answers show it; the TMDB fields only where the catalogue has
        them (the schema's optional fields)."""
        title, year, genres = self.catalogue.get(item_id)
        out = {"item_id": item_id, "title": title, "year": year, "genres": genres,
               "n_ratings": n_ratings, "in_model": in_model}
        detail = self.catalogue.detail(item_id)
        if detail:
            out.update(detail)
            if "keywords" in detail:
                out["keywords"] = detail["keywords"][:KEYWORDS_SHOWN]
        return out

    # -------------------------------------------------------------- answers
    def health(self) -> dict:
        """``GET /health``."""
        m = self.model
        return {
            "status": "ok", "model": type(m).__name__, "params": jsonable(m.get_params()),
            "model_file": self.model_path.name, "dataset": self.catalogue.dataset,
            "n_users": len(self.user_ids), "n_items": len(self.item_ids),
            "n_catalogue_items": len(self.catalogue), "rating_scale": [self.lo, self.hi],
            "predicts_ratings": bool(m.predicts_ratings),
            "capabilities": {"explain": self.can_explain, "similar_items": self.can_similar,
                             "new_user": self.can_new_user,
                             "shared_features": self.can_share},
            "cache_mb": self.cache_mb,
            "version": __version__,
        }

    def user_profile(self, user_id: int, top: int) -> dict:
        """``GET /users/{id}``: rating count, mean and the ``top`` highest-rated items."""
        u = self.user(user_id)
        items, ratings = self.model.user_history(u)
        ratings = ratings.astype(np.float64)  # the mean as before: in float64 throughout
        counts = self.item_counts_arr[items]
        order = np.lexsort((-counts, -ratings))[:top]  # rating desc, then most rated
        top_rated = [dict(self.meta[i], rating=float(r))
                     for i, r in zip(items[order].tolist(), ratings[order].tolist())]
        return {"user_id": user_id, "n_ratings": len(items),
                "mean_rating": float(ratings.mean()) if len(ratings) else None,
                "top_rated": top_rated}

    def users_page(self, page: int, page_size: int) -> dict:
        """``GET /users``: one page of user ids (id order) with their rating counts."""
        start = (page - 1) * page_size
        rows = range(start, min(start + page_size, len(self.user_ids)))
        return {"total": len(self.user_ids), "page": page, "page_size": page_size,
                "users": [{"user_id": self.user_ids[r], "n_ratings": self.user_counts[r]}
                          for r in rows]}

    def recommend_user(self, user_id: int, k: int, exclude_seen: bool) -> dict:
        """``GET /users/{id}/recommendations``, explained where the model can."""
        u = self.user(user_id)
        items, scores = self.model.recommend(u, k, exclude_seen=exclude_seen)
        out = self._ranked(items, scores, "score", user=u)
        return {"user_id": user_id, "k": k, "exclude_seen": exclude_seen, "items": out}

    def recommend_user_json(self, user_id: int, k: int, exclude_seen: bool) -> bytes:
        """:meth:`recommend_user` serialised, from the cache when it is on (errors are not
        cached)."""
        if self.cache is None:
            return dumps(self.recommend_user(user_id, k, exclude_seen))
        key = (user_id, k, exclude_seen)
        body = self.cache.get(key)
        if body is None:
            body = dumps(self.recommend_user(user_id, k, exclude_seen))
            self.cache.put(key, body)
        return body

    def recommend_new(self, ratings: list, k: int, exclude_rated: bool) -> dict:
        """``POST /recommendations``: top-k for a new user folded into the fixed model.
        ``ratings``: objects with ``item_id`` and ``rating``."""
        if not self.can_new_user:
            raise UnsupportedError(f"{type(self.model).__name__} cannot recommend for a "
                                   "new user")
        rows = np.array([self.item(r.item_id) for r in ratings], dtype=np.int64)
        values = np.array([r.rating for r in ratings], dtype=np.float64)
        items, scores = self.model.recommend_new_user(rows, values, k,
                                                      exclude_rated=exclude_rated)
        return {"k": k, "n_ratings": len(ratings), "items": self._ranked(items, scores, "score")}

    def similar(self, item_id: int, k: int) -> dict:
        """``GET /items/{id}/similar``: the k most similar items, most similar first."""
        i = self.item(item_id)
        if not self.can_similar:
            raise UnsupportedError(f"{type(self.model).__name__} has no item-item similarity")
        items, sims = self.model.similar_items(i, k)
        ranked = self._ranked(items, sims, "similarity")
        for entry in ranked:
            shared = self._shared(i, self.item_row[entry["item_id"]])
            if shared:
                entry["shared"] = shared
        return {"item": dict(self.meta[i]), "k": k, "items": ranked}

    def _shared(self, i: int, j: int) -> str:
        """What model items ``i`` and ``j`` have in common, as a phrase ("shares keywords:
        heist, bank robbery; genres: Crime"), or "": from the model where it declares it can
        say (the ``"shared_features"`` capability: a content model names the terms its
        similarity counts), else from the catalogue's TMDB keywords and genres."""
        from recsys.models.content_features import describe_shared

        if self.can_share:
            groups = self.model.shared_features(i, j)
        else:
            mine, theirs = (self.catalogue.detail(self.item_ids[x]) for x in (i, j))
            groups = {}
            for group, field in (("keywords", "keywords"), ("genres", "tmdb_genres")):
                other = set(theirs.get(field, ()))
                groups[group] = [t for t in mine.get(field, ()) if t in other]
        return describe_shared(groups, SHARED_SHOWN)

    def predict(self, pairs: list) -> dict:
        """``POST /predict``: unknown ids get the model's fallback estimate, flagged."""
        users = np.array([self.user_row.get(p.user_id, -1) for p in pairs], dtype=np.int64)
        items = np.array([self.item_row.get(p.item_id, -1) for p in pairs], dtype=np.int64)
        values = self.model.predict(users, items).tolist()
        return {"predictions": [
            {"user_id": p.user_id, "item_id": p.item_id,
             "rating": v if np.isfinite(v) else float(self.model.global_mean_),
             "user_known": bool(u >= 0), "item_known": bool(i >= 0)}
            for p, v, u, i in zip(pairs, values, users.tolist(), items.tolist())]}

    def search(self, query: str, page: int, page_size: int) -> dict:
        """``GET /items``: one page of the catalogue's title search."""
        hits = self.catalogue.search(query)
        start = (page - 1) * page_size
        return {"query": query, "total": len(hits), "page": page, "page_size": page_size,
                "items": [self.item_info(i) for i in hits[start:start + page_size]]}

    def warm_up(self) -> None:
        """One call of each model path, so JIT compilation happens before the first request."""
        if not self.user_ids or not self.item_ids:
            return
        self.recommend_user(self.user_ids[0], 10, True)
        # A declared capability this fitted instance cannot serve after all raises
        # UnsupportedError: the app still starts, and that request answers 501.
        if self.can_similar:
            with suppress(UnsupportedError):
                self.similar(self.item_ids[0], 10)
        if self.can_new_user:
            rating = SimpleNamespace(item_id=self.item_ids[0], rating=self.hi)
            with suppress(UnsupportedError):
                self.recommend_new([rating], 10, True)

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
        """A sentence and the contributing items behind ``user``'s score of ``item``;
        ``(None, [])`` where the model gives no explanation."""
        if user is None or not self.can_explain:
            return None, []
        try:
            idx, contrib = self.model.explain(user, item, EXPLAIN_N)
        except UnsupportedError:
            return None, []
        seen, ratings = self.model.user_history(user)
        mine = dict(zip(seen.tolist(), ratings.tolist()))
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
        """The value under ``key`` (now the most recently used), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value: bytes) -> None:
        """Store ``value``, evicting the least recently used until the budget holds; a value
        larger than the whole budget is not stored."""
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
                     catalogue.genres + [[]] * len(missing), catalogue.dataset,
                     catalogue.details + [{} for _ in missing])
