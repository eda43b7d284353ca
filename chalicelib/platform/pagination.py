"""Opaque cursors: a DynamoDB LastEvaluatedKey, signed so a client cannot forge or move it.

The signature binds the cursor to the workspace and to the list it came from, so a cursor
from another workspace or another list is refused like a tampered one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.platform import config
from chalicelib.platform.errors import field_error

_SIG_BYTES = 16


def encode(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    signature = _sign(payload, scope)
    return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    """The key to resume from; 422 on a cursor that was altered or belongs elsewhere."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
        if not hmac.compare_digest(signature, _sign(payload, scope)):
            raise ValueError("bad signature")
        value = json.loads(payload)
        if not isinstance(value, dict):
            raise ValueError("not a key")
        return value
    except (ValueError, TypeError):
        raise field_error("cursor", "the cursor is not valid for this list") from None


def _sign(payload: bytes, scope: str) -> bytes:
    return hmac.new(config.secret(), scope.encode() + b"\0" + payload, hashlib.sha256).digest()[:_SIG_BYTES]
