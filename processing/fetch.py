"""Downloading image bytes from client-supplied URLs, safely.

The :class:`Fetcher` speaks httpx's API over the httpx-aiohttp transport
(``bench/fetch_clients.py`` measures why: plain httpx pools poorly under
concurrency). Its aiohttp connector resolves names only through an
:class:`~processing.addresses.AddressGuard`, so the address a connection uses
is exactly one that was vetted; every URL and redirect hop is also vetted
before it is sent, which keeps the check in force for an injected transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from ipaddress import IPv4Address
from types import TracebackType
from typing import TYPE_CHECKING, Self

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from processing.addresses import (
    AddressGuard,
    Resolver,
    SystemResolver,
    parse_literal,
)
from processing.errors import (
    DeadlineExceeded,
    DownloadFailed,
    FetchTimeout,
    HttpStatusError,
    InvalidUrl,
    ProcessingError,
    TooLarge,
    TooManyRedirects,
)
from processing.journal import url_host

if TYPE_CHECKING:
    from imagejobs.settings import Settings

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
REQUEST_HEADERS = {
    "Accept": "image/*, */*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "imagejobs-fetcher/0.1",
}


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How much one download may take; see CONTRACT.md for the settings."""

    concurrency: int
    per_host: int
    connect_timeout: float
    read_timeout: float
    deadline: float
    attempts: int
    max_bytes: int
    max_redirects: int
    allow_private: bool
    backoff_base: float = 0.5
    max_retry_after: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            concurrency=settings.fetch_concurrency,
            per_host=settings.fetch_per_host,
            connect_timeout=settings.fetch_connect_timeout,
            read_timeout=settings.fetch_read_timeout,
            deadline=settings.fetch_deadline,
            attempts=settings.fetch_attempts,
            max_bytes=settings.max_image_bytes,
            max_redirects=settings.max_redirects,
            allow_private=bool(settings.allow_private_sources),
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    # The buffer the body was read into, not a copy of it: at 50 MiB an
    # image, a second copy per download in flight is what memory goes on.
    data: bytearray
    attempts: int
    final_url: str
    content_type: str | None


class HostLimiter:
    """At most ``per_host`` holders per host; idle hosts are forgotten."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @property
    def active_hosts(self) -> int:
        return len(self._slots)

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.setdefault(
            host, (asyncio.Semaphore(self._per_host), [0])
        )
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._slots[host]


class _GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook: connections only ever use vetted addresses."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._guard.vet(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=_family_of(address.version),
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
            if family in (socket.AF_UNSPEC, _family_of(address.version))
        ]

    async def close(self) -> None:
        return None


def _family_of(version: int) -> socket.AddressFamily:
    return socket.AF_INET if version == 4 else socket.AF_INET6


class _Decoder:
    """Undoes a gzip or deflate Content-Encoding without passing a byte cap."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None = None
        self._started = False
        if self._encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

    def decode(self, chunk: bytes, room: int) -> bytes:
        """At most ``room + 1`` decoded bytes of ``chunk``: one more means too big."""
        if self._zlib is None:
            return chunk
        try:
            return self._decompress(chunk, room)
        except zlib.error as exc:
            raise DownloadFailed(f"the {self._encoding} body is corrupt") from exc

    def _decompress(self, chunk: bytes, room: int) -> bytes:
        assert self._zlib is not None
        try:
            out = self._zlib.decompress(chunk, room + 1)
        except zlib.error:
            # Some servers send raw deflate data without the zlib wrapper.
            if self._started or self._encoding != "deflate":
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(chunk, room + 1)
        self._started = True
        return out

    def check_complete(self) -> None:
        if self._zlib is not None and self._started and not self._zlib.eof:
            raise DownloadFailed(f"the {self._encoding} body ends early")


class _Budget:
    """Seconds left for attempts and waits between them."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @contextlib.contextmanager
    def spend(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.left -= time.monotonic() - started


class Fetcher:
    """Downloads image bytes within :class:`FetchLimits`; an async context manager.

    Only http and https URLs are fetched, and only from addresses
    :func:`~processing.addresses.is_allowed` accepts, checked after DNS and on
    every redirect hop. Cookies are never stored or sent. ``transport``
    replaces the network (tests use ``httpx.MockTransport``); ``resolver``
    replaces DNS. Both stay behind the same address checks.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._limits = limits
        self._transport = transport
        self._guard = AddressGuard(
            resolver or SystemResolver(), allow_private=limits.allow_private
        )
        self._all = asyncio.Semaphore(limits.concurrency)
        self.hosts = HostLimiter(limits.per_host)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            transport=self._transport or self._aiohttp_transport(),
            headers=REQUEST_HEADERS,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(
                None,
                connect=self._limits.connect_timeout,
                read=self._limits.read_timeout,
            ),
            follow_redirects=False,
            trust_env=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _aiohttp_transport(self) -> AiohttpTransport:
        connector = aiohttp.TCPConnector(
            limit=self._limits.concurrency,
            limit_per_host=self._limits.per_host,
            resolver=_GuardedResolver(self._guard),
            ssl=httpx.create_ssl_context(),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        return AiohttpTransport(client=session)

    async def fetch(self, url: str) -> Fetched:
        """Download ``url``, retrying transient failures with backoff.

        Raises a :class:`~processing.errors.ProcessingError` whose ``attempts``
        says how many downloads were tried (0 when the URL itself is invalid).
        """
        target = _parse_url(url)
        budget = _Budget(self._limits.deadline * self._limits.attempts)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(target, attempt, budget)
            except ProcessingError as error:
                error.url = error.url or url
                error.attempts = attempt
                delay = self._retry_delay(error, attempt, budget)
                if delay is None:
                    raise
                logger.info(
                    "fetch retrying %s in %.2fs: %s", url_host(url), delay, error
                )
            with budget.spend():
                await asyncio.sleep(delay)

    def _retry_delay(
        self, error: ProcessingError, attempt: int, budget: _Budget
    ) -> float | None:
        if not error.is_transient or attempt >= self._limits.attempts:
            return None
        if budget.left <= 0:
            return None
        limits = self._limits
        delay = retry_delay(error, attempt, limits.backoff_base, limits.max_retry_after)
        return min(delay, budget.left)

    async def _attempt(self, url: httpx.URL, attempt: int, budget: _Budget) -> Fetched:
        async with self.hosts.hold(url.host), self._all:
            with budget.spend(), _translate_errors(str(url)):
                deadline = asyncio.timeout(self._limits.deadline)
                try:
                    async with deadline:
                        data, final, content_type = await self._follow(url)
                except TimeoutError as exc:
                    if not deadline.expired():
                        raise
                    seconds = self._limits.deadline
                    raise DeadlineExceeded(
                        f"the download took longer than the {seconds:g} s allowed",
                        url=str(url),
                    ) from exc
        logger.debug("fetch finished %s (%d bytes)", final.host, len(data))
        return Fetched(data, attempt, str(final), content_type)

    async def _follow(self, url: httpx.URL) -> tuple[bytearray, httpx.URL, str | None]:
        if self._client is None:
            raise RuntimeError("use the Fetcher as an async context manager")
        for _ in range(self._limits.max_redirects + 1):
            url = await self._vet(url)
            async with self._client.stream("GET", url) as response:
                location = _redirect_target(response)
                if location is None:
                    _check_status(response)
                    data = await self._read_body(response)
                    return data, url, response.headers.get("content-type")
            url = location
        raise TooManyRedirects(f"more than {self._limits.max_redirects} redirects")

    async def _vet(self, url: httpx.URL) -> httpx.URL:
        """The URL to request: its host checked, a numeric IPv4 spelling made plain."""
        port = url.port or (443 if url.scheme == "https" else 80)
        await self._guard.vet(url.host, port)
        literal = parse_literal(url.host)
        if isinstance(literal, IPv4Address) and str(literal) != url.host:
            return url.copy_with(host=str(literal))
        return url

    async def _read_body(self, response: httpx.Response) -> bytearray:
        cap = self._limits.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"the server announces {declared} bytes, over {cap}")
        if response.is_stream_consumed:
            # httpx reads and decodes a body handed to it as bytes at once
            # (httpx.MockTransport answers so); only the cap is left to apply.
            if len(response.content) > cap:
                raise _too_large(cap)
            return bytearray(response.content)
        decoder = _Decoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            body += decoder.decode(chunk, cap - len(body))
            if received > cap or len(body) > cap:
                raise _too_large(cap)
        decoder.check_complete()
        return body


def _too_large(cap: int) -> TooLarge:
    return TooLarge(f"the image is over {cap} bytes")


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise _invalid(f"not a valid URL: {exc}", url) from exc
    if parsed.scheme not in ("http", "https"):
        raise _invalid("only http and https URLs can be fetched", url)
    if not parsed.host:
        raise _invalid("the URL has no host", url)
    return parsed


def _invalid(message: str, url: str) -> InvalidUrl:
    error = InvalidUrl(message, url=url)
    error.attempts = 0
    return error


def _redirect_target(response: httpx.Response) -> httpx.URL | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("location")
    if not location:
        raise HttpStatusError(response.status_code)
    try:
        target = response.url.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidUrl(f"the redirect goes to an invalid URL: {exc}") from exc
    return _parse_url(str(target))


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    error = HttpStatusError(status, url=str(response.url))
    error.retry_after = parse_retry_after(response.headers.get("retry-after"))
    raise error


def retry_delay(
    error: ProcessingError, attempt: int, backoff_base: float, max_retry_after: float
) -> float:
    """Seconds before attempt ``attempt + 1``: full-jitter exponential backoff,
    or the server's ``Retry-After`` when longer, capped at ``max_retry_after``."""
    delay = random.uniform(0, backoff_base * 2 ** (attempt - 1))
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, max_retry_after))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@contextlib.contextmanager
def _translate_errors(url: str) -> Iterator[None]:
    """Turns client and socket failures into processing errors."""
    try:
        yield
    except ProcessingError:
        raise
    except (TimeoutError, httpx.TimeoutException) as exc:
        if _is_timeout(exc):
            detail = str(exc) or type(exc).__name__
            raise FetchTimeout(f"timed out: {detail}", url=url) from exc
        raise DownloadFailed(f"download failed: {exc}", url=url) from exc
    except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
        raise DownloadFailed(f"download failed: {exc}", url=url) from exc


def _is_timeout(exc: BaseException) -> bool:
    # httpx-aiohttp maps every aiohttp connection error to ConnectTimeout, so a
    # reset or refused connection is told from a real timeout by its cause.
    if isinstance(exc, TimeoutError):
        return True
    return exc.__cause__ is None or isinstance(exc.__cause__, TimeoutError)
