"""Bodies of /api/v1/keys (docs/api.md, API keys)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.schemas.common import ApiModel, ListQuery, Page

Scope = Literal["full", "read"]


class KeyCreate(ApiModel):
    """POST /api/v1/keys: a `full` key may do everything; a `read` key only reads (GET)."""

    name: str = Field(min_length=1, max_length=200)
    scope: Scope


class KeyView(ApiModel):
    id: str
    name: str
    scope: Scope
    prefix: str | None = Field(description="the key's first characters, to tell keys apart")
    created_at: str
    last_used_at: str | None = Field(description="to within a minute or two: stamped once a minute at most")
    revoked_at: str | None


class KeyCreated(KeyView):
    api_key: str = Field(description="the secret: shown once, only its hash is stored")


class KeyPage(Page[KeyView]):
    pass


class KeyListQuery(ListQuery):
    pass
