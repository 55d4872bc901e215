"""A raw HTTP/1.1 test server on 127.0.0.1 with misbehaving routes.

Written on asyncio streams rather than a framework so a route can lie about
Content-Length, drip bytes, or drop the connection halfway through a body.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
HTML = b"<html><body>not found<script>location='/'</script></body></html>"
REASONS = {200: "OK", 301: "Moved", 302: "Found", 303: "See Other", 404: "Not Found"}

Writer = asyncio.StreamWriter
Route = Callable[["Request", Writer], Awaitable[None]]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class CaseServer:
    """Records every connection and request; ``routes`` maps paths to handlers."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[Writer] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.transport.abort()
            await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for request in self.requests if request.path == path)

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            request = await self._read_request(reader)
            self.requests.append(request)
            await self.routes.get(request.path, not_found)(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request:
        raw = await reader.readuntil(b"\r\n\r\n")
        first, *lines = raw.decode("latin-1").split("\r\n")
        target = first.split(" ")[1]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        loop = asyncio.get_running_loop()
        return Request(target.split("?")[0], headers, loop.time())


def head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def send(
    writer: Writer,
    status: int,
    body: bytes = b"",
    content_type: str = "image/png",
    extra: list[tuple[str, str]] | None = None,
) -> None:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers += [("Connection", "close"), *(extra or [])]
    writer.write(head(status, headers) + body)
    await writer.drain()


def reply(
    status: int,
    body: bytes = b"",
    content_type: str = "image/png",
    extra: list[tuple[str, str]] | None = None,
) -> Route:
    async def route(_: Request, writer: Writer) -> None:
        await send(writer, status, body, content_type, extra)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, b"", "text/html", [("Location", location)])


def sequence(*routes: Route) -> Route:
    """Each request gets the next route; the last one repeats."""
    calls = [0]

    async def route(request: Request, writer: Writer) -> None:
        index = min(calls[0], len(routes) - 1)
        calls[0] += 1
        await routes[index](request, writer)

    return route


def drip(body: bytes, every: float) -> Route:
    """Headers at once, then one byte every ``every`` seconds."""

    async def route(_: Request, writer: Writer) -> None:
        length = ("Content-Length", str(len(body)))
        writer.write(head(200, [("Content-Type", "image/jpeg"), length]))
        for index in range(len(body)):
            await writer.drain()
            await asyncio.sleep(every)
            writer.write(body[index : index + 1])

    return route


def cut_short(declared: int, sent: bytes, *, reset: bool = False) -> Route:
    """Announces ``declared`` bytes, sends ``sent``, then closes or resets."""

    async def route(_: Request, writer: Writer) -> None:
        length = ("Content-Length", str(declared))
        writer.write(head(200, [("Content-Type", "image/png"), length]) + sent)
        await writer.drain()
        if reset:
            writer.transport.abort()

    return route


def unsized(body: bytes, *, chunked: bool) -> Route:
    """A body without Content-Length: chunked, or ended by closing."""

    async def route(_: Request, writer: Writer) -> None:
        coding = [("Transfer-Encoding", "chunked")] if chunked else []
        writer.write(head(200, [("Content-Type", "image/png"), *coding]))
        for start in range(0, len(body), 65536):
            part = body[start : start + 65536]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    return route


def stall_after_headers(declared: int, seconds: float) -> Route:
    async def route(_: Request, writer: Writer) -> None:
        length = ("Content-Length", str(declared))
        writer.write(head(200, [("Content-Type", "image/png"), length]))
        await writer.drain()
        await asyncio.sleep(seconds)

    return route


def encoded(body: bytes, encoding: str) -> Route:
    if encoding == "gzip":
        data = gzip.compress(body)
    elif encoding == "deflate":
        data = zlib.compress(body)
    else:
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data = squeezer.compress(body) + squeezer.flush()
        encoding = "deflate"
    return reply(200, data, "image/png", [("Content-Encoding", encoding)])


async def not_found(_: Request, writer: Writer) -> None:
    await send(writer, 404, b"not found", "text/plain")
