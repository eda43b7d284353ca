"""The token inside a double opt-in's confirmation link (`/c/{token}`).

It names the workspace, the form and the contact, and the moment it was issued (seconds), is
signed with HMAC-SHA256 under the deployment secret (its own purpose prefix, so no other
token of Cohort reads as one), and base64url-encoded: about 100 characters. `read` tells a
token that is not ours (altered, truncated, another key: None) from one of ours that is older
than its validity (`expired`); neither needs a DynamoDB request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.platform import config, ids

VALIDITY = timedelta(days=7)

_VERSION = 1
_SIG_BYTES = 16
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = {c: i for i, c in enumerate(_ALPHABET)}
_ULID_BYTES = 16
_PAYLOAD_BYTES = 1 + 3 * _ULID_BYTES + 5


@dataclass(frozen=True)
class Confirmation:
    workspace_id: str
    form_id: str
    contact_id: str
    issued_at: datetime

    def expired(self, now: datetime) -> bool:
        return now - self.issued_at > VALIDITY


def mint(workspace_id: str, form_id: str, contact_id: str, issued_at: datetime) -> str:
    """ValueError for ids that are not ULIDs."""
    payload = bytes([_VERSION])
    for value in (workspace_id, form_id, contact_id):
        payload += _ulid_bytes(value)
    payload += int(issued_at.timestamp()).to_bytes(5, "big")
    return base64.urlsafe_b64encode(payload + _sign(payload)).decode().rstrip("=")


def read(token: str) -> Confirmation | None:
    """What a token says, or None when it is not one we signed."""
    if len(token) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        return None  # the same bytes spelt otherwise (padding bits): only the minted spelling
    payload, signature = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
    if len(payload) != _PAYLOAD_BYTES or not hmac.compare_digest(signature, _sign(payload)):
        return None
    if payload[0] != _VERSION:
        return None
    at = 1
    fields = []
    for _ in range(3):
        fields.append(_ulid_text(payload[at : at + _ULID_BYTES]))
        at += _ULID_BYTES
    issued = datetime.fromtimestamp(int.from_bytes(payload[at:], "big"), UTC)
    return Confirmation(fields[0], fields[1], fields[2], issued)


def _sign(payload: bytes) -> bytes:
    return hmac.new(config.secret(), b"cohort-confirm\0" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


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
    number = int.from_bytes(raw, "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))
