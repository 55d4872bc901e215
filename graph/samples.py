"""Sample images the service serves itself, so the sample job needs no internet.

``examples/sample-job.json`` points at ``/samples/<name>`` on the default
address; a service on loopback may fetch from loopback, so it fetches these.
"""

from __future__ import annotations

import posixpath
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}


def read_sample(name: str) -> bytes | None:
    """The bytes of bundled sample ``name``; ``None`` for any other name."""
    folder = resources.files("imagejobs") / "samples"
    for entry in folder.iterdir():
        if entry.name == name and _content_type(name) is not None:
            return entry.read_bytes()
    return None


def _content_type(name: str) -> str | None:
    return CONTENT_TYPES.get(posixpath.splitext(name)[1].lower())


async def sample(request: Request) -> Response:
    name = request.path_params["name"]
    data = read_sample(name)
    if data is None:
        return Response("no such sample\n", 404, media_type="text/plain")
    return Response(data, media_type=_content_type(name))


routes = [Route("/samples/{name}", sample, methods=["GET", "HEAD"])]
