"""Bounds on what one request may cost: body size, GraphQL shape, submit rate.

Visits, images and URL length are checked with the rest of a job in
``graph/validation.py``; this module holds the limits that apply before a
job is even read.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from imagejobs.settings import Settings

logger = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"


def too_large_response(path: str, limit: int) -> JSONResponse:
    message = f"the request body is larger than {limit} bytes"
    if path == GRAPHQL_PATH:
        error = {"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}
        return JSONResponse({"errors": [error]}, 413)
    return JSONResponse({"error": message}, 413)


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """Refuse an HTTP request body over ``max_bytes`` with 413.

    The body is counted as it arrives, so a chunked body without
    ``Content-Length`` is stopped as soon as it passes the limit; a body
    within it is handed on whole, as if read for the first time.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        body = None if (declared or 0) > self.max_bytes else await self.read(receive)
        if body is None:
            logger.info("request refused: body over %d bytes", self.max_bytes)
            response = too_large_response(scope["path"], self.max_bytes)
            await response(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    async def read(self, receive: Receive) -> bytes | None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return bytes(body)
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return bytes(body)


def replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


@dataclass
class Bucket:
    tokens: float
    updated: float


class SubmitRate:
    """A token bucket per caller: ``per_minute`` submissions, refilled evenly.

    It lives in the process's memory, so each server process counts on its
    own and a restart forgets.
    """

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one submission; return 0, or the seconds until one is free."""
        now = self.clock()
        bucket = self.buckets.setdefault(key, Bucket(self.capacity, now))
        elapsed = now - bucket.updated
        bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_second


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


ExtensionFactory = Callable[[], SchemaExtension]


def graphql_extensions(settings: Settings) -> list[ExtensionFactory]:
    """Strawberry's own limits on query depth, size and aliases, per settings."""
    extensions: list[ExtensionFactory] = [
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return extensions
