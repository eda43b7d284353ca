"""Workspace and API-key items."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.platform.db import Item


def workspace_pk(workspace_id: str) -> str:
    return f"WS#{workspace_id}"


class Workspace(Item, discriminator="Workspace"):
    """pk WS#<id>, sk #META. contactCount is kept exact by the contact writes' transactions."""

    id = UnicodeAttribute()
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    defaultRegion = UnicodeAttribute(default="FR")
    contactCount = NumberAttribute(default=0)
    # Live (not revoked) full-scope API keys; absent on workspaces made before keys had scopes,
    # which have exactly one key: read as 1 (chalicelib/workspaces/keys.py).
    fullKeys = NumberAttribute(null=True)
    createdAt = UnicodeAttribute()
    # Campaigns enroll only contacts whose consent is GRANTED (docs/consent.md).
    requireConsent = BooleanAttribute(null=True)

    @staticmethod
    def key(workspace_id: str) -> tuple[str, str]:
        return workspace_pk(workspace_id), "#META"


class ApiKey(Item, discriminator="ApiKey"):
    """pk APIKEY#<sha256 of the key>, sk #META: the key itself is never stored; gsi1
    WS#<ws>#KEYS / KEY#<id> lists a workspace's keys and finds one by its id.

    A key made before keys had names and scopes has only workspaceId and createdAt: the first
    time it authenticates it is given an id, a name, scope `full` and its gsi1 keys, in place
    (chalicelib/workspaces/keys.py)."""

    workspaceId = UnicodeAttribute()
    createdAt = UnicodeAttribute()
    id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    scope = UnicodeAttribute(null=True)
    prefix = UnicodeAttribute(null=True)  # the first characters of the key, to tell keys apart
    lastUsedAt = UnicodeAttribute(null=True)  # to the minute: written at most once a minute
    revokedAt = UnicodeAttribute(null=True)

    @staticmethod
    def key(key_hash: str) -> tuple[str, str]:
        return f"APIKEY#{key_hash}", "#META"

    @staticmethod
    def list_partition(ws: str) -> str:
        return f"{workspace_pk(ws)}#KEYS"

    @staticmethod
    def list_sort(key_id: str) -> str:
        return f"KEY#{key_id}"


class WorkspaceRequest(Item, discriminator="WorkspaceRequest"):
    """pk ADMIN#IDEMPOTENCY, sk WORKSPACE#<Idempotency-Key>: which workspace a creation with
    this key made (24 h TTL). Written in the creation's own transaction; the API key is not
    kept, so a replay cannot show it again."""

    workspaceId = UnicodeAttribute()
    bodyHash = UnicodeAttribute()

    @staticmethod
    def key(idempotency_key: str) -> tuple[str, str]:
        return "ADMIN#IDEMPOTENCY", f"WORKSPACE#{idempotency_key}"
