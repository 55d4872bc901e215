"""Stand-ins for DNS and the network that record what they were asked."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace

import httpx

from processing.fetch import FetchLimits

TEST_LIMITS = FetchLimits(
    concurrency=8,
    per_host=4,
    connect_timeout=1.0,
    read_timeout=2.0,
    deadline=3.0,
    attempts=3,
    max_bytes=1 << 20,
    max_redirects=5,
    allow_private=True,
    backoff_base=0.01,
)


def make_limits(**changes: object) -> FetchLimits:
    return replace(TEST_LIMITS, **changes)  # type: ignore[arg-type]


class StubResolver:
    """Answers from a table; a list of answers is used in turn, the last repeats."""

    def __init__(self, answers: dict[str, list[list[str]]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        replies = self.answers.get(host)
        if not replies:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the stub")
        return replies.pop(0) if len(replies) > 1 else replies[0]


Handler = Callable[[httpx.Request], httpx.Response]


class RecordingTransport(httpx.MockTransport):
    """Answers known URLs; records every request, answering none of the others."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get(str(request.url))
        if handler is None:
            raise httpx.ConnectError("recorded and not answered", request=request)
        return handler(request)

    def hosts(self) -> list[str]:
        return [request.url.host for request in self.requests]
