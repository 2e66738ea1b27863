"""Errors of the serving API and the JSON answer each one gets.

- an unknown user or item id (:class:`NotFound`): 404 ``{"detail": "unknown user id 7",
  "kind": "user", "id": 7}``;
- invalid input (pydantic's validation, malformed or undecodable JSON): 422
  ``{"detail": "k: ...", "errors": [{"location": "query", "field": "k", "message": "..."}]}``;
- a capability the model lacks (:class:`~recsys.errors.UnsupportedError`, e.g. similar items
  of a UserKNN): 501 ``{"detail": "UserKNN has no item-item similarity"}``;
- a request body over :data:`MAX_BODY` bytes: 413, before anything reads it when its
  Content-Length says so, else as soon as that many bytes have streamed in (chunked);
- anything else, which only a bug reaches: 500 ``{"detail": "internal server error"}``.

A 500 tells the client nothing about internals: the traceback goes to the server log only,
and ``app.state.internal_errors`` counts them (the fuzz test asserts it stays 0).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.errors import RecsysError, UnsupportedError

__all__ = ["MAX_BODY", "ServeError", "NotFound", "BodyLimit", "add_error_handlers"]

log = logging.getLogger("recsys.serve")

#: Largest request body accepted, bytes (1000 ratings take about 40 KB).
MAX_BODY = 1 << 20


class ServeError(RecsysError, ValueError):
    """The model or catalogue cannot be served (e.g. non-integer raw ids)."""


class NotFound(Exception):
    """An unknown user or item id (answered with 404 naming the id)."""

    def __init__(self, kind: str, raw_id: int, detail: str | None = None):
        self.kind, self.raw_id = kind, raw_id
        self.detail = detail or f"unknown {kind} id {raw_id}"
        super().__init__(self.detail)


class BodyLimit:
    """ASGI middleware holding every request body to ``max_bytes``, answering 413 over it.

    A request that declares a larger Content-Length is refused before anything reads it. A
    body without one (``Transfer-Encoding: chunked``) is counted as it streams in: once past
    the limit, reading stops (the app's read fails) and whatever the app would answer to the
    failed read is replaced by the same 413, so no more than ``max_bytes`` plus one chunk is
    ever held."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False  # the server rejects a malformed length itself
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def guarded_send(message):
            if state["over"] and not state["started"]:
                return  # the app's answer to the aborted read: the 413 below replaces it
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass  # raised through an app that does not catch it
        if state["over"] and not state["started"]:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, 413)
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised into the app when a streamed request body passes :class:`BodyLimit`'s limit."""


def add_error_handlers(app: FastAPI) -> None:
    """Register the answers listed in the module notes on ``app`` and start its 500 count
    (``app.state.internal_errors``)."""
    app.state.internal_errors = 0
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(UnsupportedError, _unsupported)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal)


async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
    return JSONResponse({"detail": exc.detail, "kind": exc.kind, "id": exc.raw_id}, 404)


async def _unsupported(request: Request, exc: UnsupportedError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 501)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_field_error(err) for err in exc.errors()]
    if not errors:
        errors.append({"location": "body", "field": "body", "message": "invalid request"})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return JSONResponse({"detail": detail, "errors": errors}, 422)


def _field_error(err: dict) -> dict:
    """One pydantic error as ``{"location", "field", "message"}``."""
    loc = tuple(err.get("loc", ()))
    where, field = _field(loc)
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "json_invalid":
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        where, field = "body", "body"
        msg = "malformed JSON" + at + ": " + str((err.get("ctx") or {}).get("error", msg))
    return {"location": where, "field": field, "message": msg}


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


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
        # FastAPI's answer to a body it cannot even decode (e.g. not UTF-8): for the client
        # this is malformed JSON like any other, so 422 naming the body.
        msg = "malformed JSON: the body cannot be decoded as JSON text"
        return JSONResponse({"detail": f"body: {msg}", "errors": [
            {"location": "body", "field": "body", "message": msg}]}, 422)
    return JSONResponse({"detail": exc.detail}, exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    # Reached only by a bug: count it, log the traceback on the server, tell the client
    # nothing about internals.
    request.app.state.internal_errors += 1
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, 500)
