"""The token inside a double opt-in's confirmation link (`/c/{token}`).

It names the workspace, the form and the contact, and the moment it was issued (seconds), is
signed with HMAC-SHA256 under the deployment secret (its own purpose prefix, so no other
token of Cohort reads as one), and base64url-encoded: about 100 characters. `read` tells a
token that is not ours (altered, truncated, another key: None) from one of ours that is older
than its validity (`expired`); neither needs a DynamoDB request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.platform import ids, signing

VALIDITY = timedelta(days=7)

_VERSION = 1
_PURPOSE = "cohort-confirm"
_PAYLOAD_BYTES = 1 + 3 * ids.BYTES + 5


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
        payload += ids.to_bytes(value)
    payload += int(issued_at.timestamp()).to_bytes(5, "big")
    return signing.to_text(payload + signing.sign(_PURPOSE, payload))


def read(token: str) -> Confirmation | None:
    """What a token says, or None when it is not one we signed."""
    if len(token) > 200:
        return None
    try:
        raw = signing.from_text(token)
    except (ValueError, TypeError):
        return None
    if signing.to_text(raw) != token:
        return None  # the same bytes spelt otherwise (padding bits): only the minted spelling
    payload, signature = raw[: -signing.SIG_BYTES], raw[-signing.SIG_BYTES :]
    if len(payload) != _PAYLOAD_BYTES or not signing.verify(_PURPOSE, payload, signature):
        return None
    if payload[0] != _VERSION:
        return None
    at = 1
    fields = []
    for _ in range(3):
        fields.append(ids.from_bytes(payload[at : at + ids.BYTES]))
        at += ids.BYTES
    issued = datetime.fromtimestamp(int.from_bytes(payload[at:], "big"), UTC)
    return Confirmation(fields[0], fields[1], fields[2], issued)
