"""Serving: a REST API and a web page over a saved model.

>>> from recsys.serve import create_app          # needs the ``serve`` extra (FastAPI)
>>> app = create_app("funksvd.npz")              # doctest: +SKIP

Run it with ``recsys serve --model funksvd.npz`` (uvicorn on 127.0.0.1:8000). Item titles
come from a :class:`Catalogue` (a JSON sidecar next to the model, or a MovieLens release).
FastAPI is imported only when :func:`create_app` is first used.

Modules: ``catalogue`` (item titles, search), ``service`` (the model, catalogue and cache
behind every answer), ``schemas`` (request and response models), ``errors`` (what each
error answers), ``routes`` (the endpoints), ``app`` (``create_app``: builds the app from
them).
"""

from recsys.serve.catalogue import Catalogue, CatalogueError, sidecar_path

__all__ = ["Catalogue", "CatalogueError", "create_app", "sidecar_path"]


def __getattr__(name):
    # Lazy: importing recsys.serve (e.g. for Catalogue) must not require FastAPI.
    if name == "create_app":
        from recsys.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'recsys.serve' has no attribute {name!r}")
