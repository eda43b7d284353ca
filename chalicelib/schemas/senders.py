"""Bodies of /api/v1/senders (docs/api.md, Sender identities)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.schemas.campaigns import _DOMAIN, _sender
from chalicelib.schemas.common import ApiModel, ListQuery, Page

Status = Literal["PENDING", "VERIFIED", "FAILED"]


class SenderCreate(ApiModel):
    """POST /api/v1/senders: `{"email"}` (one address) or `{"domain"}` (every address of it)."""

    email: str | None = Field(default=None, min_length=3, max_length=320)
    domain: str | None = Field(default=None, min_length=3, max_length=253)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else _sender(value)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = value.lower().rstrip(".")
        if not _DOMAIN.match(domain):
            raise ValueError("must be a domain name such as yourcompany.com")
        return domain

    @model_validator(mode="after")
    def _one_of(self) -> SenderCreate:
        if (self.email is None) == (self.domain is None):
            raise ValueError("send either email (an address) or domain, not both")
        return self


class DkimRecord(ApiModel):
    name: str
    type: str
    value: str


class SenderView(ApiModel):
    id: str
    identity: str
    type: Literal["email", "domain"]
    status: Status = Field(description="read from SES on every answer")
    dkim_records: list[DkimRecord] = Field(
        description="the DNS records (CNAME) that let SES sign the domain's mail with DKIM"
    )
    dkim_status: str | None = Field(default=None, description="SES's DKIM status, as SES names it")
    created_at: str


class SenderPage(Page[SenderView]):
    pass


class SenderListQuery(ListQuery):
    pass
