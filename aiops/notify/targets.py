"""Outbound targets: may the engine send a request to this URL? (server-side request forgery guard)

A channel's URL is checked when the channel is created (so a bad one is a 422) and again
right before every delivery, because what a name resolves to can change in between (DNS
rebinding: a name that pointed at a public address at creation may point at
``169.254.169.254`` at send time). The check resolves the host, classifies *every*
address it resolves to (one bad address refuses the target: an attacker's DNS can answer
a public and a private address at once), and returns the vetted addresses. The sender
then connects to one of those addresses only, never resolving the name again:
:meth:`Target.pinned` gives the URL with the address in place of the name and the
``Host`` header and TLS server name (``sni_hostname``, an httpx/httpcore request
extension) that keep the name for the server and for certificate checks. It must also
not follow redirects (a redirect could point anywhere) and must ignore proxy settings from
the environment (``trust_env=False``).

Addresses are classified after unwrapping IPv6 forms that carry an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96``, Teredo), so ``[::ffff:127.0.0.1]`` is loopback. Numeric host forms that
``ipaddress`` does not parse (``127.1``, ``2130706433``, ``0x7f.0.0.1``) go through the
resolver, which turns them into the address they mean before it is classified.

Rules, in order, for each address: in an allowed network -> allowed; a cloud metadata
address -> refused; loopback -> allowed only with ``allow_loopback``; not globally
routable (private, link-local, shared 100.64/10, reserved, multicast, unspecified) ->
refused; public -> allowed when ``allow_public``, else only for hosts in ``allowed_hosts``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from aiops.errors import Unprocessable
from aiops.notify.settings import OutboundSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> addresses as text; raises OSError when it fails

# Instance metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS IPv6; ECS task
# metadata; Alibaba): credentials live there. Named so the refusal says why.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Unprocessable):
    """The URL may not be sent to; the message says why (HTTP 422 when it comes from a request)."""


@dataclass(frozen=True)
class OutboundPolicy:
    """The allow-list in effect: :class:`OutboundSettings` with loopback decided for the engine's mode."""

    allow_public: bool
    allowed_hosts: tuple[str, ...]
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    allow_loopback: bool
    allowed_schemes: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: OutboundSettings, mode: Literal["development", "production"]) -> OutboundPolicy:
        loopback = settings.allow_loopback if settings.allow_loopback is not None else mode == "development"
        networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in settings.allowed_networks)
        return cls(settings.allow_public, settings.allowed_hosts, networks, loopback, settings.allowed_schemes)

    def host_listed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
                   for pattern in self.allowed_hosts)


@dataclass(frozen=True)
class Target:
    """A URL that passed the check, with the addresses it may be reached at (connect to these only)."""

    url: str
    scheme: str
    host: str  # as written in the URL, without brackets
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = {"http": 80, "https": 443}[self.scheme]
        return name if self.port == default else f"{name}:{self.port}"

    def pinned(self, address: str | None = None) -> tuple[str, dict[str, str], dict[str, str]]:
        """``(url, headers, extensions)`` for a request that connects to a vetted address, not the name.

        ``extensions`` carries ``sni_hostname`` for https, so TLS still checks the name's certificate."""
        address = address or self.addresses[0]
        if address not in self.addresses:
            raise ValueError(f"{address} is not one of the vetted addresses of {self.host}")
        parts = urlsplit(self.url)
        netloc = f"[{address}]" if ":" in address else address
        pinned = urlunsplit((parts.scheme, f"{netloc}:{self.port}", parts.path, parts.query, ""))
        extensions = {"sni_hostname": self.host} if self.scheme == "https" else {}
        return pinned, {"Host": self.host_header}, extensions


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (zone ids kept for link-local IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})  # an IPv4 or IPv6 address: already text


def check_target(url: str, policy: OutboundPolicy, resolve: Resolver = system_resolver) -> Target:
    """Check ``url`` against ``policy``, resolving its host with ``resolve``; raise :class:`TargetRefused`.

    Call it at channel creation and again right before each delivery (DNS rebinding), then
    connect only to the returned :attr:`Target.addresses` (see :meth:`Target.pinned`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in policy.allowed_schemes:
        raise TargetRefused(f"scheme {scheme or '(none)'!r} is not allowed; use one of "
                            f"{', '.join(policy.allowed_schemes)}")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL names no host")
    port = {"http": 80, "https": 443}[scheme] if port is None else port
    if port == 0:
        raise TargetRefused("port 0 is not a port one can send to")
    listed = policy.host_listed(host)
    literal = _literal(host)
    if literal is not None:
        texts = [host]
    else:
        try:
            texts = list(resolve(host, port))
        except (OSError, UnicodeError) as error:
            raise TargetRefused(f"host {host!r} does not resolve ({error.__class__.__name__})") from None
        if not texts:
            raise TargetRefused(f"host {host!r} resolves to no address")
    for text in texts:
        reason = _refusal(_literal(text), policy, listed)
        if reason:
            where = host if text == host else f"{host!r} resolves to {text}, which"
            raise TargetRefused(f"{where} is {reason}; an operator may allow it in notifications.outbound")
    return Target(url, scheme, host, port, tuple(texts))


def _literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo client), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):  # NAT64, or ::a.b.c.d (compatible)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refusal(address: IPAddress | None, policy: OutboundPolicy, listed: bool) -> str:
    """Why ``address`` is refused, or "" when it is allowed."""
    if address is None:
        return "not an IP address"
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%")[0])
    # An IPv6 form that carries an IPv4 address goes where that IPv4 address goes: judge that one.
    effective = embedded_ipv4(address) or address
    if any(a in net for a in {address, effective} for net in policy.allowed_networks if a.version == net.version):
        return ""
    if address in METADATA_ADDRESSES or effective in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if effective.is_loopback:
        return "" if policy.allow_loopback else "a loopback address (allowed in development mode only)"
    # Python's is_global does not cover every special range (multicast, for one): ask each.
    if not effective.is_global or effective.is_multicast or effective.is_reserved or effective.is_unspecified:
        return f"a non-public address ({_kind(effective)})"
    if policy.allow_public or listed:
        return ""
    return "a public address of a host not in notifications.outbound.allowed_hosts"


def _kind(address: IPAddress) -> str:
    for name in ("is_unspecified", "is_link_local", "is_multicast", "is_private", "is_reserved"):
        if getattr(address, name):
            return name.removeprefix("is_").replace("_", "-")
    return "shared or special-purpose"
