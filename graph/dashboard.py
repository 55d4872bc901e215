"""The dashboard: one HTML page and its scripts and styles, served as files.

Everything the page shows comes from the public GraphQL API, so the page and
its assets are static files that need no token; the browser sends the token
with its API requests.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PAGE_PATH = "/dashboard"
ASSETS_PATH = "/dashboard/assets"


def static_folder() -> Path:
    """The folder of the dashboard's files inside the installed package."""
    return Path(str(resources.files("imagejobs") / "static"))


async def page(request: Request) -> Response:
    return FileResponse(
        static_folder() / "index.html", headers={"Cache-Control": "no-cache"}
    )


async def to_page(request: Request) -> Response:
    return RedirectResponse(PAGE_PATH, status_code=307)


def dashboard_routes() -> list[BaseRoute]:
    """``/`` and ``/dashboard/`` redirect to the page; assets live below it."""
    return [
        Route("/", to_page),
        Route(PAGE_PATH, page),
        Route(PAGE_PATH + "/", to_page),
        Mount(ASSETS_PATH, StaticFiles(directory=static_folder()), name="assets"),
    ]
