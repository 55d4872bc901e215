"""Compare HTTP clients for the image fetcher on this machine.

Serves a ~100 KB body from an aiohttp server in a child process on 127.0.0.1,
then downloads it N times at a fixed concurrency with each client option and
prints requests per second and the ratio to plain aiohttp::

    PYTHONPATH=. python bench/fetch_clients.py --requests 3000 --concurrency 64

"imagejobs Fetcher" is this project's fetcher (httpx over the httpx-aiohttp
transport plus its address checks, caps and limits), for its own overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from aiohttp import web
from httpx_aiohttp import AiohttpTransport

from processing.fetch import Fetcher, FetchLimits

BODY = bytes(range(256)) * 400  # 102,400 bytes

Getter = Callable[[str], Awaitable[int]]


def serve(sock: socket.socket) -> None:
    async def body(_: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/image.jpg", body)
    web.run_app(app, sock=sock, print=None, access_log=None)


async def run(get: Getter, url: str, total: int, concurrency: int) -> float:
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            if await get(url) != len(BODY):
                raise RuntimeError("short body")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def with_httpx(url: str, total: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def get(target: str) -> int:
            return len((await client.get(target)).content)

        return await run(get, url, total, concurrency)


async def with_httpx_aiohttp(url: str, total: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    session = aiohttp.ClientSession(connector=connector)
    transport = AiohttpTransport(client=session)
    async with httpx.AsyncClient(transport=transport) as client:

        async def get(target: str) -> int:
            return len((await client.get(target)).content)

        return await run(get, url, total, concurrency)


async def with_aiohttp(url: str, total: int, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(target: str) -> int:
            async with session.get(target) as response:
                return len(await response.read())

        return await run(get, url, total, concurrency)


async def with_fetcher(url: str, total: int, concurrency: int) -> float:
    limits = FetchLimits(
        concurrency=concurrency,
        per_host=concurrency,
        connect_timeout=5,
        read_timeout=10,
        deadline=30,
        attempts=1,
        max_bytes=1 << 20,
        max_redirects=5,
        allow_private=True,
    )
    async with Fetcher(limits) as fetcher:

        async def get(target: str) -> int:
            return len((await fetcher.fetch(target)).data)

        return await run(get, url, total, concurrency)


OPTIONS = {
    "httpx.AsyncClient": with_httpx,
    "httpx + AiohttpTransport": with_httpx_aiohttp,
    "aiohttp.ClientSession": with_aiohttp,
    "imagejobs Fetcher": with_fetcher,
}


async def main(url: str, total: int, concurrency: int, rounds: int) -> None:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, option in OPTIONS.items():
            rate = await option(url, total, concurrency)
            best[name] = max(best.get(name, 0.0), rate)
    baseline = best["aiohttp.ClientSession"]
    for name, rate in best.items():
        print(f"{name:26} {rate:8.0f} req/s  {rate / baseline:5.2f}x aiohttp")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many")
    args = parser.parse_args()

    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = listener.getsockname()[1]
    server = multiprocessing.Process(target=serve, args=(listener,), daemon=True)
    server.start()
    try:
        target = f"http://127.0.0.1:{port}/image.jpg"
        asyncio.run(main(target, args.requests, args.concurrency, args.rounds))
    finally:
        server.terminate()
        server.join()
