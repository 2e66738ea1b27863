"""The interactive API docs (``/docs``: Swagger UI, ``/redoc``: ReDoc), served offline.

FastAPI's own pages load Swagger UI, ReDoc and a favicon from CDNs, so on a machine without
internet access ``/docs`` is a blank page. Here the same pages (FastAPI's
``get_swagger_ui_html``/``get_redoc_html``) point at copies of those assets shipped by the
``fastapi-offline`` package (part of the ``serve`` extra), mounted under
:data:`ASSETS_URL`. Swagger UI's online validator badge is off, so ``/docs`` makes no request
outside the server; ReDoc still asks its CDN for its attribution logo (hard-coded in the
bundle, and hidden when that fails), nothing that the page needs.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_URL", "add_docs", "assets_dir"]

#: Where the Swagger UI and ReDoc files are mounted.
ASSETS_URL = "/docs/assets"

SWAGGER_PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}


def assets_dir():
    """The folder of ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js``
    and ``favicon.png`` (inside the installed ``fastapi_offline`` package)."""
    try:
        return resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the offline API docs need fastapi-offline (in the serve extra): pip install "
            "'recsys[serve]'", name="fastapi_offline") from None


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Register ``/docs`` (named ``swagger_ui_html``, as FastAPI names it), its OAuth2
    redirect page, ``/redoc`` and the assets on ``app``, which must be built with
    ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets_dir())), name="docs-assets")
    openapi_url, redirect_url = app.openapi_url, app.swagger_ui_oauth2_redirect_url

    async def swagger_ui_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth, swagger_ui_parameters=SWAGGER_PARAMETERS)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False)

    app.add_route(docs_url, swagger_ui_html, include_in_schema=False)
    if redirect_url:
        app.add_route(redirect_url, swagger_ui_redirect, include_in_schema=False)
    app.add_route(redoc_url, redoc_html, include_in_schema=False)
