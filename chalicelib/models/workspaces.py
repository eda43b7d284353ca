"""Workspace and API-key items."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

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
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(workspace_id: str) -> tuple[str, str]:
        return workspace_pk(workspace_id), "#META"


class ApiKey(Item, discriminator="ApiKey"):
    """pk APIKEY#<sha256 of the key>, sk #META: the key itself is never stored."""

    workspaceId = UnicodeAttribute()
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(key_hash: str) -> tuple[str, str]:
        return f"APIKEY#{key_hash}", "#META"


class WorkspaceRequest(Item, discriminator="WorkspaceRequest"):
    """pk ADMIN#IDEMPOTENCY, sk WORKSPACE#<Idempotency-Key>: which workspace a creation with
    this key made (24 h TTL). Written in the creation's own transaction; the API key is not
    kept, so a replay cannot show it again."""

    workspaceId = UnicodeAttribute()
    bodyHash = UnicodeAttribute()

    @staticmethod
    def key(idempotency_key: str) -> tuple[str, str]:
        return "ADMIN#IDEMPOTENCY", f"WORKSPACE#{idempotency_key}"
