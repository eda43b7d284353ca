"""The tokens inside the links of a campaign email: open pixel, click, unsubscribe.

A token names one email of one enrollment (workspace, campaign, contact, run, step, and the
group the contact was enrolled through, which the counters need) and, for a click, the URL
that was in the email. It is packed in binary (ULIDs as 16 bytes), signed with HMAC-SHA256
under the deployment secret, and base64url-encoded: about 140 characters. Anything altered,
truncated or signed with another key fails the signature and reads as None (the routes
answer 404). Reading needs no DynamoDB request.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.platform import ids, signing

OPEN, CLICK, UNSUBSCRIBE = "o", "c", "u"
KINDS = frozenset({OPEN, CLICK, UNSUBSCRIBE})

_VERSION = 1
_PURPOSE = "cohort-link"  # keeps these signatures apart from the cursors' (same secret)
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
        payload += ids.to_bytes(value)
    payload += b"\x01" + ids.to_bytes(target.group_id) if target.group_id else b"\x00"
    payload += target.run.to_bytes(2, "big")
    if url is not None:
        encoded = url.encode()
        if len(encoded) > MAX_URL_BYTES:
            raise ValueError("the URL is too long for a tracked link")
        payload += encoded
    return signing.to_text(bytes(payload) + signing.sign(_PURPOSE, bytes(payload)))


def read(token: str, kind: str) -> Link | None:
    """The link a token stands for, or None when it is not a valid token of this kind."""
    try:
        raw = signing.from_text(token)
    except (ValueError, TypeError):
        return None
    payload, signature = raw[: -signing.SIG_BYTES], raw[-signing.SIG_BYTES :]
    if len(raw) <= signing.SIG_BYTES or not signing.verify(_PURPOSE, payload, signature):
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
        fields.append(ids.from_bytes(payload[at : at + ids.BYTES]))
        at += ids.BYTES
    group_id = None
    if payload[at] == 1:
        group_id = ids.from_bytes(payload[at + 1 : at + 1 + ids.BYTES])
        at += ids.BYTES
    at += 1
    run = int.from_bytes(payload[at : at + 2], "big")
    at += 2
    rest = payload[at:]
    url = rest.decode() if kind == CLICK else None
    if kind != CLICK and rest:
        return None
    workspace_id, campaign_id, contact_id, step_id = fields
    return Link(kind, Target(workspace_id, campaign_id, contact_id, run, step_id, group_id), url)
