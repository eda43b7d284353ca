"""Where a webhook may go (SSRF): on a deployed stage only public addresses.

A URL is checked when the endpoint is created and again at every delivery, against what its
host resolves to then; the delivery connects to the very address that was checked, so a
name that re-resolves to 127.0.0.1 between check and connect (DNS rebinding) gets nowhere.
The local stage (COHORT_STAGE=local) may deliver anywhere, 127.0.0.1 included.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from chalicelib.platform import config

MAX_URL_LENGTH = 2000
# Cloud metadata services; most are link-local or private already, listed to say so.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedUrl(ValueError):
    """The URL is malformed or points where webhooks may not go; the message says why."""


def parse(url: str) -> SplitResult:
    """The URL's parts; RefusedUrl unless it is an absolute http(s) URL of at most 2,000 characters."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise RefusedUrl("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("must be an http:// or https:// URL")
    if not parts.hostname:
        raise RefusedUrl("has no host")
    if parts.username or parts.password:
        raise RefusedUrl("must not carry credentials")
    return parts


def is_forbidden(address: IpAddress) -> bool:
    """Loopback, private, link-local, shared (100.64/10), reserved, multicast or metadata."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in METADATA or not address.is_global or address.is_multicast


def resolve(url: str) -> tuple[SplitResult, str]:
    """(the URL's parts, the address to connect to). On a deployed stage every address the
    host resolves to must be public (RefusedUrl otherwise); on the local stage anything goes."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedUrl(f"its host {host} does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise RefusedUrl(f"its host {host} does not resolve")
    if not config.is_local_stage():
        bad = [a for a in addresses if is_forbidden(a)]
        if bad:
            raise RefusedUrl(f"resolves to {bad[0]}, a loopback, private, link-local or metadata address")
    return parts, str(addresses[0])
