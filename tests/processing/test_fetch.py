from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from imagejobs.settings import Settings
from processing.errors import (
    BlockedSource,
    DownloadFailed,
    FetchTimeout,
    HttpStatusError,
    InvalidUrl,
    TooLarge,
    TooManyRedirects,
)
from processing.fetch import FetchLimits, HostLimiter, parse_retry_after
from tests.processing.conftest import OpenFetcher
from tests.servers import (
    HTML,
    PNG,
    CaseServer,
    cut_short,
    drip,
    encoded,
    redirect,
    reply,
    sequence,
    stall_after_headers,
    unsized,
)
from tests.stubs import Handler, RecordingTransport, StubResolver

BIG = PNG * 600  # about 1.3 MB, over the 1 MiB test cap


def png(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})


def moved(location: str) -> Handler:
    return lambda _: httpx.Response(302, headers={"Location": location})


# Which URLs are fetched at all


def test_limits_come_from_settings() -> None:
    limits = FetchLimits.from_settings(Settings(host="0.0.0.0", max_redirects=2))

    assert limits.max_redirects == 2
    assert limits.allow_private is False
    assert (limits.concurrency, limits.per_host, limits.attempts) == (64, 16, 3)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://127.0.0.1/image.png",
        "http://",
        "not a url",
    ],
)
async def test_only_http_and_https_urls_are_fetched(
    open_fetcher: OpenFetcher, url: str
) -> None:
    transport = RecordingTransport({})
    fetcher = await open_fetcher(transport=transport)

    with pytest.raises(InvalidUrl) as failure:
        await fetcher.fetch(url)

    assert failure.value.attempts == 0
    assert not failure.value.is_transient
    assert transport.requests == []


async def test_a_stored_cookie_is_never_sent(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/h17/cookie.png"] = reply(
        200, PNG, extra=[("Set-Cookie", "session=1; Path=/")]
    )
    server.routes["/image.png"] = reply(200, PNG)
    # A name, not 127.0.0.1: cookie jars keep no cookies for bare addresses.
    resolver = StubResolver({"images.test": [["127.0.0.1"]]})
    fetcher = await open_fetcher(resolver=resolver)
    base = f"http://images.test:{server.port}"

    await fetcher.fetch(f"{base}/h17/cookie.png")
    with pytest.raises(InvalidUrl):
        await fetcher.fetch("file:///etc/hostname")
    await fetcher.fetch(f"{base}/image.png")
    await fetcher.fetch(f"{base}/h17/cookie.png")

    assert len(server.requests) == 3
    assert all("cookie" not in request.headers for request in server.requests)


# Addresses that must never be contacted


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "2852039166",  # 169.254.169.254 as one decimal number
        "10.0.0.1",
        "[::ffff:127.0.0.1]",
        "100.64.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "017700000001",
        "[::1]",
        "[fe80::1]",
        "[fd00::1]",
        "[ff02::1]",
        "[2002:a9fe:a9fe::1]",  # 6to4 around 169.254.169.254
        "[64:ff9b::a9fe:a9fe]",  # NAT64 around 169.254.169.254
    ],
)
async def test_internal_addresses_are_blocked_without_a_connection(
    open_fetcher: OpenFetcher, outbound: list[str], host: str
) -> None:
    transport = RecordingTransport({})
    fetcher = await open_fetcher(transport=transport, allow_private=False)

    with pytest.raises(BlockedSource) as failure:
        await fetcher.fetch(f"http://{host}/latest/meta-data/")

    assert host.strip("[]") in str(failure.value)
    assert not failure.value.is_transient
    assert failure.value.attempts == 1
    assert transport.requests == []
    assert outbound == []


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "[::ffff:169.254.169.254]", "[fe80::1]", "100.64.0.1"]
)
async def test_allowing_private_sources_keeps_link_local_blocked(
    open_fetcher: OpenFetcher, host: str
) -> None:
    transport = RecordingTransport({})
    fetcher = await open_fetcher(transport=transport, allow_private=True)

    with pytest.raises(BlockedSource):
        await fetcher.fetch(f"http://{host}/latest/meta-data/")

    assert transport.requests == []


async def test_a_name_resolving_to_a_private_address_is_blocked(
    open_fetcher: OpenFetcher,
) -> None:
    transport = RecordingTransport({})
    resolver = StubResolver({"intranet.test": [["93.184.216.34", "10.0.0.5"]]})
    blocked = StubResolver({"intranet.test": [["10.0.0.5"]]})
    fetcher = await open_fetcher(
        transport=transport, resolver=blocked, allow_private=False
    )
    mixed = await open_fetcher(
        transport=transport, resolver=resolver, allow_private=False
    )

    with pytest.raises(BlockedSource, match=r"intranet\.test"):
        await fetcher.fetch("http://intranet.test/a.png")
    with pytest.raises(DownloadFailed):
        await mixed.fetch("http://intranet.test/a.png")

    assert blocked.calls == ["intranet.test"]
    assert transport.hosts() == ["intranet.test"] * 3  # the public answer only


async def test_redirects_to_metadata_are_blocked_at_the_hop(
    open_fetcher: OpenFetcher, outbound: list[str]
) -> None:
    base = "http://127.0.0.1:8080"
    transport = RecordingTransport(
        {
            f"{base}/h13/redirect.jpg": moved("http://169.254.169.254/latest/"),
            f"{base}/h13/redirect-decimal.jpg": moved("http://2852039166/latest/"),
            f"{base}/files/control_ok.png": png,
        }
    )
    fetcher = await open_fetcher(transport=transport, allow_private=True)

    for path in ("/h13/redirect.jpg", "/h13/redirect-decimal.jpg"):
        with pytest.raises(BlockedSource, match=r"169\.254\.169\.254|2852039166"):
            await fetcher.fetch(base + path)
    control = await fetcher.fetch(f"{base}/files/control_ok.png")

    assert control.data == PNG
    assert set(transport.hosts()) == {"127.0.0.1"}
    assert outbound == []


async def test_a_redirect_to_a_name_resolving_privately_is_blocked(
    open_fetcher: OpenFetcher,
) -> None:
    transport = RecordingTransport(
        {"http://images.test/a.png": moved("http://internal.test/secret")}
    )
    resolver = StubResolver(
        {"images.test": [["93.184.216.34"]], "internal.test": [["192.168.1.10"]]}
    )
    fetcher = await open_fetcher(
        transport=transport, resolver=resolver, allow_private=False
    )

    with pytest.raises(BlockedSource, match=r"internal\.test"):
        await fetcher.fetch("http://images.test/a.png")

    assert transport.hosts() == ["images.test"]


async def test_a_rebinding_answer_is_caught_when_connecting(
    open_fetcher: OpenFetcher, server: CaseServer, outbound: list[str]
) -> None:
    resolver = StubResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    fetcher = await open_fetcher(resolver=resolver, allow_private=False)

    with pytest.raises(BlockedSource, match=r"rebind\.test"):
        await fetcher.fetch(f"http://rebind.test:{server.port}/image.png")

    assert resolver.calls == ["rebind.test", "rebind.test"]
    assert server.connections == 0
    assert outbound == []


async def test_connections_use_the_vetted_address(
    open_fetcher: OpenFetcher, server: CaseServer, outbound: list[str]
) -> None:
    server.routes["/image.png"] = reply(200, PNG)
    resolver = StubResolver({"images.test": [["127.0.0.1"]]})
    fetcher = await open_fetcher(resolver=resolver)

    fetched = await fetcher.fetch(f"http://images.test:{server.port}/image.png")

    assert fetched.data == PNG
    assert server.requests[0].headers["host"] == f"images.test:{server.port}"
    assert outbound == ["127.0.0.1"]


async def test_a_numeric_spelling_is_fetched_at_its_plain_address(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/image.png"] = reply(200, PNG)
    fetcher = await open_fetcher()

    fetched = await fetcher.fetch(f"http://2130706433:{server.port}/image.png")

    assert fetched.final_url == server.url("/image.png")


# Redirects


async def test_a_relative_301_is_followed(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/h11/old.jpg"] = redirect("/h11/new.jpg", 301)
    server.routes["/h11/new.jpg"] = reply(200, PNG, "image/jpeg")
    fetcher = await open_fetcher()

    fetched = await fetcher.fetch(server.url("/h11/old.jpg"))

    assert (fetched.data, fetched.attempts) == (PNG, 1)
    assert fetched.final_url == server.url("/h11/new.jpg")
    assert fetched.content_type == "image/jpeg"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_every_redirect_status_is_followed(
    open_fetcher: OpenFetcher, server: CaseServer, status: int
) -> None:
    server.routes["/from"] = redirect("to", status)
    server.routes["/to"] = reply(200, PNG)
    fetcher = await open_fetcher()

    assert (await fetcher.fetch(server.url("/from"))).data == PNG


async def test_a_chain_within_the_limit_is_followed(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    for hop in range(1, 4):
        server.routes[f"/chain/{hop}"] = redirect(f"/chain/{hop - 1}")
    server.routes["/chain/0"] = reply(200, PNG)
    fetcher = await open_fetcher(max_redirects=3)

    assert (await fetcher.fetch(server.url("/chain/3"))).data == PNG


async def test_a_redirect_loop_fails_once_without_retries(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/h12/loop.jpg"] = redirect("/h12/loop.jpg")
    fetcher = await open_fetcher(max_redirects=5, attempts=3)

    with pytest.raises(TooManyRedirects) as failure:
        await fetcher.fetch(server.url("/h12/loop.jpg"))

    assert failure.value.attempts == 1
    assert server.hits("/h12/loop.jpg") == 6


# Size caps and content encodings


async def test_an_announced_oversize_body_fails_before_reading(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/huge.png"] = stall_after_headers(10 << 20, seconds=5)
    fetcher = await open_fetcher(deadline=4.0)
    started = time.monotonic()

    with pytest.raises(TooLarge) as failure:
        await fetcher.fetch(server.url("/huge.png"))

    assert time.monotonic() - started < 1
    assert failure.value.attempts == 1


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-close"])
async def test_an_unsized_oversize_body_is_cut_off(
    open_fetcher: OpenFetcher, server: CaseServer, chunked: bool
) -> None:
    server.routes["/big.png"] = unsized(BIG, chunked=chunked)
    server.routes["/small.png"] = unsized(PNG, chunked=chunked)
    fetcher = await open_fetcher()

    with pytest.raises(TooLarge):
        await fetcher.fetch(server.url("/big.png"))
    assert (await fetcher.fetch(server.url("/small.png"))).data == PNG


async def test_the_cap_holds_when_content_length_understates(
    open_fetcher: OpenFetcher,
) -> None:
    def liar(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10"}, content=BIG)

    transport = RecordingTransport({"http://127.0.0.1/liar.png": liar})
    fetcher = await open_fetcher(transport=transport)

    with pytest.raises(TooLarge):
        await fetcher.fetch("http://127.0.0.1/liar.png")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_decoded(
    open_fetcher: OpenFetcher, server: CaseServer, encoding: str
) -> None:
    server.routes["/packed.png"] = encoded(PNG, encoding)
    fetcher = await open_fetcher()

    assert (await fetcher.fetch(server.url("/packed.png"))).data == PNG


async def test_a_gzip_bomb_stops_at_the_cap_without_inflating(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    bomb = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 MiB of zeros
    server.routes["/bomb.png"] = reply(200, bomb, extra=[("Content-Encoding", "gzip")])
    fetcher = await open_fetcher(max_bytes=1 << 20)

    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            await fetcher.fetch(server.url("/bomb.png"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(bomb) < 1 << 20
    assert peak < 8 << 20


# Timeouts


async def test_a_slow_drip_times_out_at_the_deadline_and_is_not_retried(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/h14/drip.jpg"] = drip(b"\xff\xd8" + bytes(65537), every=0.2)
    fetcher = await open_fetcher(deadline=1.0, read_timeout=5.0, attempts=2)
    started = time.monotonic()

    with pytest.raises(FetchTimeout) as failure:
        await fetcher.fetch(server.url("/h14/drip.jpg"))

    assert failure.value.code == "TIMEOUT"
    assert failure.value.message == "the download took longer than the 1 s allowed"
    assert failure.value.attempts == 1
    assert time.monotonic() - started < 2
    assert server.hits("/h14/drip.jpg") == 1


async def test_a_stalled_body_hits_the_read_timeout(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/stall.png"] = stall_after_headers(1000, seconds=5)
    fetcher = await open_fetcher(read_timeout=0.3, deadline=4.0, attempts=1)
    started = time.monotonic()

    with pytest.raises(FetchTimeout):
        await fetcher.fetch(server.url("/stall.png"))

    assert time.monotonic() - started < 1.5


# Retries


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
async def test_a_body_cut_short_is_retried(
    open_fetcher: OpenFetcher, server: CaseServer, reset: bool
) -> None:
    server.routes["/cut.png"] = sequence(
        cut_short(len(PNG), PNG[:100], reset=reset), reply(200, PNG)
    )
    fetcher = await open_fetcher()

    fetched = await fetcher.fetch(server.url("/cut.png"))

    assert (fetched.data, fetched.attempts) == (PNG, 2)


async def test_a_refused_connection_is_retried_then_reported(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    url = server.url("/image.png")
    await server.stop()
    fetcher = await open_fetcher(attempts=2)

    with pytest.raises(DownloadFailed) as failure:
        await fetcher.fetch(url)

    assert type(failure.value) is DownloadFailed
    assert failure.value.attempts == 2


async def test_a_server_error_is_retried(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/flaky.png"] = sequence(reply(500, b"oops"), reply(200, PNG))
    fetcher = await open_fetcher()

    assert (await fetcher.fetch(server.url("/flaky.png"))).attempts == 2


async def test_a_lasting_server_error_uses_every_attempt(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    server.routes["/down.png"] = reply(503, b"down")
    fetcher = await open_fetcher(attempts=3)

    with pytest.raises(HttpStatusError) as failure:
        await fetcher.fetch(server.url("/down.png"))

    assert (failure.value.status, failure.value.attempts) == (503, 3)
    assert server.hits("/down.png") == 3


async def test_a_404_is_not_retried(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    fetcher = await open_fetcher()

    with pytest.raises(HttpStatusError) as failure:
        await fetcher.fetch(server.url("/missing.png"))

    assert (failure.value.status, failure.value.attempts) == (404, 1)
    assert not failure.value.is_transient
    assert server.hits("/missing.png") == 1


async def test_retry_after_is_honoured(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    busy = reply(429, b"", "text/plain", [("Retry-After", "1")])
    server.routes["/busy.png"] = sequence(busy, reply(200, PNG))
    fetcher = await open_fetcher()

    fetched = await fetcher.fetch(server.url("/busy.png"))

    first, second = server.requests
    assert fetched.attempts == 2
    assert second.at - first.at >= 0.95


async def test_a_long_retry_after_is_capped(
    open_fetcher: OpenFetcher, server: CaseServer
) -> None:
    busy = reply(429, b"", "text/plain", [("Retry-After", "3600")])
    server.routes["/busy.png"] = sequence(busy, reply(200, PNG))
    fetcher = await open_fetcher(max_retry_after=0.2)
    started = time.monotonic()

    assert (await fetcher.fetch(server.url("/busy.png"))).attempts == 2
    assert time.monotonic() - started < 1


def test_retry_after_reads_seconds_and_dates() -> None:
    later = datetime.now(UTC) + timedelta(seconds=20)

    assert parse_retry_after("7") == 7
    assert 18 < (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 20
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# Concurrency


class SlowOrigins:
    """An async MockTransport handler that counts requests in flight per host."""

    def __init__(self) -> None:
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.most_overall = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.in_flight[host] += 1
        self.most[host] = max(self.most[host], self.in_flight[host])
        self.most_overall = max(self.most_overall, sum(self.in_flight.values()))
        await asyncio.sleep(0.05)
        self.in_flight[host] -= 1
        return httpx.Response(200, content=PNG)


async def test_downloads_at_once_stay_under_the_global_limit(
    open_fetcher: OpenFetcher,
) -> None:
    origins = SlowOrigins()
    resolver = StubResolver({f"h{n}.test": [["93.184.216.34"]] for n in range(4)})
    fetcher = await open_fetcher(
        transport=httpx.MockTransport(origins), resolver=resolver, concurrency=3
    )

    await asyncio.gather(*(fetcher.fetch(f"http://h{n % 4}.test/") for n in range(12)))

    assert origins.most_overall == 3


async def test_downloads_from_one_host_stay_under_its_limit(
    open_fetcher: OpenFetcher,
) -> None:
    origins = SlowOrigins()
    transport = httpx.MockTransport(origins)
    fetcher = await open_fetcher(transport=transport, concurrency=8, per_host=2)
    urls = [f"http://127.0.0.{1 + n % 2}/a.png" for n in range(8)]

    await asyncio.gather(*(fetcher.fetch(url) for url in urls))

    assert origins.most == {"127.0.0.1": 2, "127.0.0.2": 2}
    assert fetcher.hosts.active_hosts == 0


async def test_host_limiter_forgets_idle_hosts() -> None:
    limiter = HostLimiter(per_host=1)

    async with limiter.hold("a.test"), limiter.hold("b.test"):
        assert limiter.active_hosts == 2

    assert limiter.active_hosts == 0


# What the server labels the body does not matter here


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (PNG, "application/octet-stream"),  # h09
        (HTML, "image/jpeg"),  # h10: the measurer decides it is no image
        (b"", "image/jpeg"),  # h15: the measurer reports NOT_AN_IMAGE
    ],
    ids=["h09-octet-stream", "h10-soft-404", "h15-empty"],
)
async def test_bodies_are_returned_whatever_their_label(
    open_fetcher: OpenFetcher, server: CaseServer, body: bytes, content_type: str
) -> None:
    server.routes["/shelf"] = reply(200, body, content_type)
    fetcher = await open_fetcher()

    fetched = await fetcher.fetch(server.url("/shelf"))

    assert (fetched.data, fetched.content_type) == (body, content_type)
