"""Opaque cursors: a DynamoDB LastEvaluatedKey, signed so a client cannot forge or move it.

The signature binds the cursor to the workspace and to the list it came from, so a cursor
from another workspace or another list is refused like a tampered one.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.platform import signing
from chalicelib.platform.errors import field_error


def encode(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return signing.to_text(signing.sign(scope, payload) + payload)


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    """The key to resume from; 422 on a cursor that was altered or belongs elsewhere."""
    if not cursor:
        return None
    try:
        raw = signing.from_text(cursor)
        signature, payload = raw[: signing.SIG_BYTES], raw[signing.SIG_BYTES :]
        if not signing.verify(scope, payload, signature):
            raise ValueError("bad signature")
        value = json.loads(payload)
        if not isinstance(value, dict):
            raise ValueError("not a key")
        return value
    except (ValueError, TypeError):
        raise field_error("cursor", "the cursor is not valid for this list") from None
