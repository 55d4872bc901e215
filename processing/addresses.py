"""Which network addresses the fetcher may connect to, and how hosts resolve.

Image URLs come from clients, so a URL must never make the service reach its
own machine, its private network or a cloud metadata endpoint (SSRF). Every
host is turned into addresses first: numeric spellings such as ``2130706433``
or ``0x7f.1`` are read the way ``inet_aton`` reads them, names go through a
:class:`Resolver`, and only the addresses :func:`is_allowed` accepts are used.
"""

from __future__ import annotations

import asyncio
import re
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Protocol
from urllib.parse import unquote

from processing.errors import BlockedSource, DownloadFailed

IPAddress = IPv4Address | IPv6Address

# What ALLOW_PRIVATE_SOURCES opens: loopback and the private ranges, nothing
# else (link-local, carrier-grade NAT, multicast and reserved stay shut).
_OPENED_BY_ALLOW_PRIVATE = tuple(
    ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    )
)
_NAT64 = ip_network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


class Resolver(Protocol):
    """Turns a host name into the IP addresses a connection may use."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_literal(host: str) -> IPAddress | None:
    """The address a URL host spells in any numeric form; None for a name."""
    text = unquote(host).strip("[]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(text):
        return None
    try:
        return IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4 or NAT64)."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_allowed(address: IPAddress, *, allow_private: bool) -> bool:
    """Whether the fetcher may connect to ``address``."""
    address = embedded_ipv4(address) or address
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return False
    if allow_private and any(address in net for net in _OPENED_BY_ALLOW_PRIVATE):
        return True
    if address.is_reserved or (
        isinstance(address, IPv6Address) and address.is_site_local
    ):
        return False
    return address.is_global


class AddressGuard:
    """Resolves hosts and keeps only the addresses that may be connected to."""

    def __init__(self, resolver: Resolver, *, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private

    async def vet(self, host: str, port: int) -> list[IPAddress]:
        """The allowed addresses of ``host``; BlockedSource when there are none."""
        literal = parse_literal(host)
        found = [literal] if literal is not None else await self._resolve(host, port)
        allowed = [a for a in found if is_allowed(a, allow_private=self._allow_private)]
        if not allowed:
            shown = ", ".join(str(a) for a in found) or "nothing"
            raise BlockedSource(f"{host} is a blocked address ({shown})")
        return allowed

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = await self._resolver.resolve(host, port)
            return [ip_address(answer) for answer in answers]
        except (OSError, ValueError) as exc:
            raise DownloadFailed(f"cannot resolve {host}: {exc}") from exc
