"""The one signing rule for what Cohort hands out and reads back: cursors, link tokens,
confirmation tokens.

HMAC-SHA256 under the deployment secret, cut to 16 bytes, over `purpose NUL payload`: the
purpose keeps one kind of token from ever reading as another (same secret). Text is
base64url without padding, so it fits in a URL as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from chalicelib.platform import config

SIG_BYTES = 16


def sign(purpose: str, payload: bytes) -> bytes:
    return hmac.new(config.secret(), purpose.encode() + b"\0" + payload, hashlib.sha256).digest()[:SIG_BYTES]


def verify(purpose: str, payload: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(signature, sign(purpose, payload))


def to_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_text(text: str) -> bytes:
    """ValueError (binascii.Error is one) or TypeError for what is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
