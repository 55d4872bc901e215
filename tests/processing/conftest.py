from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from ipaddress import ip_address
from typing import Any

import httpx
import pytest

from processing.addresses import Resolver
from processing.fetch import Fetcher
from tests.servers import CaseServer
from tests.stubs import StubResolver, make_limits

OpenFetcher = Callable[..., Awaitable[Fetcher]]


@pytest.fixture(autouse=True)
def outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every address a socket tries; anything outside 127.0.0.0/8 is refused."""
    tried: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def vet(address: Any) -> None:
        if isinstance(address, tuple):
            tried.append(address[0])
            if not ip_address(address[0].split("%")[0]).is_loopback:
                raise ConnectionRefusedError(f"a test tried to reach {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        vet(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        vet(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield tried


@pytest.fixture
async def server() -> AsyncIterator[CaseServer]:
    case_server = CaseServer()
    await case_server.start()
    yield case_server
    await case_server.stop()


@pytest.fixture
async def open_fetcher() -> AsyncIterator[OpenFetcher]:
    """Opens a Fetcher with test limits (changed by keywords); closes it after."""
    async with AsyncExitStack() as stack:

        async def open_one(
            *,
            transport: httpx.AsyncBaseTransport | None = None,
            resolver: Resolver | None = None,
            **changes: object,
        ) -> Fetcher:
            fetcher = Fetcher(
                make_limits(**changes),
                transport=transport,
                resolver=resolver or StubResolver(),
            )
            return await stack.enter_async_context(fetcher)

        yield open_one
