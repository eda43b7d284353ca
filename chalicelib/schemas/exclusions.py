"""Bodies of /api/v1/exclusions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.schemas.common import ApiModel, ListQuery


class ExclusionCreate(ApiModel):
    value: str = Field(min_length=1, max_length=254, description="person@x.com, or @x.com for a whole domain")


class ExclusionDelete(ApiModel):
    value: str | None = Field(default=None, max_length=254)


class ExclusionQuery(ListQuery):
    q: str | None = Field(default=None, max_length=254, description="prefix of the value; @ lists domains")


class ExclusionView(ApiModel):
    value: str
    type: Literal["address", "domain"]
    created_at: str


class ExclusionPage(ApiModel):
    items: list[ExclusionView]
    next_cursor: str | None = None
