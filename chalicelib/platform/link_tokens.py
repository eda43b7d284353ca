"""The tokens inside the links of a campaign email: open pixel, click, unsubscribe.

A token names one email of one enrollment (workspace, campaign, contact, run, step, and the
group the contact was enrolled through, which the counters need) and, for a click, the URL
that was in the email. It is packed in binary (ULIDs as 16 bytes), signed with HMAC-SHA256
under the deployment secret, and base64url-encoded: about 140 characters. Anything altered,
truncated or signed with another key fails the signature and reads as None (the routes
answer 404). Reading needs no DynamoDB request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from chalicelib.platform import config, ids

OPEN, CLICK, UNSUBSCRIBE = "o", "c", "u"
KINDS = frozenset({OPEN, CLICK, UNSUBSCRIBE})

_VERSION = 1
_SIG_BYTES = 16
_ULID_BYTES = 16
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = {c: i for i, c in enumerate(_ALPHABET)}
MAX_URL_BYTES = 2048


@dataclass(frozen=True)
class Target:
    """One email of one enrollment: what every link of that email points back to."""

    workspace_id: str
    campaign_id: str
    contact_id: str
    run: int
    step_id: str
    group_id: str | None = None


@dataclass(frozen=True)
class Link:
    kind: str
    target: Target
    url: str | None = None


def mint(kind: str, target: Target, url: str | None = None) -> str:
    """The token of a link; ValueError for ids that are not ULIDs or a URL that does not fit."""
    if kind not in KINDS:
        raise ValueError(f"unknown link kind {kind!r}")
    if (kind == CLICK) != (url is not None):
        raise ValueError("a click link carries a URL, and only a click link does")
    if not 1 <= target.run <= 0xFFFF:
        raise ValueError("run out of range")
    payload = bytearray([_VERSION, ord(kind)])
    for value in (target.workspace_id, target.campaign_id, target.contact_id, target.step_id):
        payload += _ulid_bytes(value)
    payload += b"\x01" + _ulid_bytes(target.group_id) if target.group_id else b"\x00"
    payload += target.run.to_bytes(2, "big")
    if url is not None:
        encoded = url.encode()
        if len(encoded) > MAX_URL_BYTES:
            raise ValueError("the URL is too long for a tracked link")
        payload += encoded
    signed = bytes(payload) + _sign(bytes(payload))
    return base64.urlsafe_b64encode(signed).decode().rstrip("=")


def read(token: str, kind: str) -> Link | None:
    """The link a token stands for, or None when it is not a valid token of this kind."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    payload, signature = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
    if len(raw) <= _SIG_BYTES or not hmac.compare_digest(signature, _sign(payload)):
        return None
    try:
        return _unpack(payload, kind)
    except (ValueError, IndexError):
        return None  # cannot happen for a token we signed, but never trust a parser


def _unpack(payload: bytes, kind: str) -> Link | None:
    if payload[0] != _VERSION or chr(payload[1]) != kind:
        return None
    at = 2
    fields = []
    for _ in range(4):
        fields.append(_ulid_text(payload[at : at + _ULID_BYTES]))
        at += _ULID_BYTES
    group_id = None
    if payload[at] == 1:
        group_id = _ulid_text(payload[at + 1 : at + 1 + _ULID_BYTES])
        at += _ULID_BYTES
    at += 1
    run = int.from_bytes(payload[at : at + 2], "big")
    at += 2
    rest = payload[at:]
    url = rest.decode() if kind == CLICK else None
    if kind != CLICK and rest:
        return None
    workspace_id, campaign_id, contact_id, step_id = fields
    return Link(kind, Target(workspace_id, campaign_id, contact_id, run, step_id, group_id), url)


def _sign(payload: bytes) -> bytes:
    # A purpose prefix keeps these signatures apart from the cursors' (same secret).
    return hmac.new(config.secret(), b"cohort-link\0" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


def _ulid_bytes(value: str) -> bytes:
    if not ids.is_id(value):
        raise ValueError(f"{value!r} is not a ULID")
    number = 0
    for char in value:
        number = number * 32 + _DIGITS[char]
    if number >= 1 << (8 * _ULID_BYTES):
        raise ValueError(f"{value!r} is not a ULID")
    return number.to_bytes(_ULID_BYTES, "big")


def _ulid_text(raw: bytes) -> str:
    if len(raw) != _ULID_BYTES:
        raise ValueError("short id")
    number = int.from_bytes(raw, "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))
