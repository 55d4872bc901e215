from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processing.addresses import (
    AddressGuard,
    SystemResolver,
    is_allowed,
    parse_literal,
)
from processing.errors import BlockedSource, DownloadFailed
from tests.stubs import StubResolver

ALWAYS_BLOCKED = [
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "0.0.0.0",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::",
    "::ffff:169.254.169.254",
    "2002:a9fe:a9fe::",
    "64:ff9b::a9fe:a9fe",
]
OPENED_BY_ALLOW_PRIVATE = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "::1",
    "fd12::1",
    "::ffff:127.0.0.1",
]


@pytest.mark.parametrize("address", ALWAYS_BLOCKED)
def test_some_addresses_are_never_allowed(address: str) -> None:
    assert not is_allowed(ip_address(address), allow_private=True)


@pytest.mark.parametrize("address", OPENED_BY_ALLOW_PRIVATE)
def test_allow_private_opens_loopback_and_private_ranges(address: str) -> None:
    assert not is_allowed(ip_address(address), allow_private=False)
    assert is_allowed(ip_address(address), allow_private=True)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1::1", "64:ff9b::5db8:d822"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(ip_address(address), allow_private=False)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_numeric_spellings_mean_the_same_address(number: int) -> None:
    expected = IPv4Address(number)
    first, second, *_ = expected.packed

    assert parse_literal(str(number)) == expected
    assert parse_literal(hex(number)) == expected
    assert parse_literal(f"0{number:o}") == expected
    assert parse_literal(f"{first}.{second}.{number & 0xFFFF}") == expected
    assert parse_literal(f"{first:#x}.0{number & 0xFFFFFF:o}") == expected


@pytest.mark.parametrize("host", ["example.com", "cafe.be", "1.2.3.4.nip.io"])
def test_names_are_not_literals(host: str) -> None:
    assert parse_literal(host) is None


async def test_the_guard_keeps_only_allowed_answers() -> None:
    resolver = StubResolver({"mixed.test": [["10.0.0.1", "93.184.216.34"]]})
    guard = AddressGuard(resolver, allow_private=False)

    assert await guard.vet("mixed.test", 80) == [ip_address("93.184.216.34")]
    with pytest.raises(BlockedSource, match=r"0x7f\.1"):
        await guard.vet("0x7f.1", 80)
    with pytest.raises(DownloadFailed, match=r"unknown\.test"):
        await guard.vet("unknown.test", 80)


async def test_the_system_resolver_reads_numeric_hosts() -> None:
    assert await SystemResolver().resolve("127.0.0.1", 80) == ["127.0.0.1"]
