"""Bodies of /api/v1/contacts and /api/v1/tags."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from chalicelib.schemas.common import ApiModel, ListQuery, Page

MAX_TAGS_PER_CONTACT = 20
MAX_TAG_LENGTH = 64
MAX_GROUPS = 50


class ContactStatus(StrEnum):
    UNCONFIRMED = "UNCONFIRMED"  # a double opt-in form's lead until it confirms (below ACTIVE)
    ACTIVE = "ACTIVE"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    BOUNCED = "BOUNCED"
    REPLIED = "REPLIED"
    BLOCKED = "BLOCKED"


class PipelineStage(StrEnum):
    LEAD = "LEAD"
    QUALIFIED = "QUALIFIED"
    PROPOSAL = "PROPOSAL"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"


# The same values as plain literals, for query strings: their JSON schema is an inline enum,
# which the OpenAPI query parameters can carry (an Enum class would be a $ref).
StatusName = Literal["UNCONFIRMED", "ACTIVE", "UNSUBSCRIBED", "BOUNCED", "REPLIED", "BLOCKED"]
ConsentStatus = Literal["GRANTED", "PENDING", "NONE", "WITHDRAWN"]
StageName = Literal["LEAD", "QUALIFIED", "PROPOSAL", "NEGOTIATION", "WON", "LOST"]


TAG_SEPARATORS = ",;|"  # what separates tags in a CSV cell (chalicelib.exchange.column_mapping)


def _clean_tag(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("a tag cannot hold control characters")
    if any(ch in TAG_SEPARATORS for ch in value):
        # Else an exported file would split it into several tags when imported back.
        raise ValueError(f"a tag cannot hold {' '.join(TAG_SEPARATORS)} (they separate tags in CSV files)")
    return value


Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH), AfterValidator(_clean_tag)]


def _unique(values: list[str] | None) -> list[str] | None:
    """Duplicates dropped, first occurrence's order kept."""
    return list(dict.fromkeys(values)) if values is not None else None


def _instant(value: str) -> str:
    """An ISO-8601 moment with its offset, given back as the API writes times (UTC, Z)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ValueError("must be an ISO-8601 date and time, e.g. 2026-12-06T10:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must say its offset from UTC (e.g. a trailing Z)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None


class ConsentInput(ApiModel):
    """A contact's consent as a client states it: `at` defaults to now, `source` to the
    request's ("api" for the API); `text` is what the person agreed to, `ip` where from."""

    status: ConsentStatus
    at: Annotated[str, AfterValidator(_instant)] | None = None
    source: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    ip: Annotated[str, AfterValidator(_ip)] | None = Field(default=None, max_length=64)


class ConsentView(ApiModel):
    status: ConsentStatus
    at: str | None = None
    source: str | None = None
    text: str | None = None
    ip: str | None = None


class ContactFields(ApiModel):
    """The fields a client may write. An empty string means "no value", like a missing field."""

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=50)
    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS_PER_CONTACT, description=f"at most {MAX_TAGS_PER_CONTACT} tags"
    )
    status: ContactStatus | None = None
    pipeline_stage: PipelineStage | None = None
    source: str | None = Field(default=None, max_length=100)
    consent: ConsentInput | None = None

    @field_validator("email", "phone", "first_name", "last_name", "company", "title", "source", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("tags", mode="after")
    @classmethod
    def _dedupe_tags(cls, value: list[str] | None) -> list[str] | None:
        return _unique(value)


class ContactCreate(ContactFields):
    """POST /contacts and /contacts/sync; `groupId`/`groupIds` name groups to join."""

    group_id: str | None = Field(default=None, max_length=26)
    group_ids: list[Annotated[str, Field(min_length=1, max_length=26)]] | None = Field(
        default=None, max_length=MAX_GROUPS
    )


class ContactPatch(ContactFields):
    """PATCH /contacts/{id}: given fields change (null clears), tags are replaced, customFields
    merged key by key (null removes a key; customFields: null removes them all). A status and
    a pipeline stage always have a value: null is refused."""

    @field_validator("status", "pipeline_stage", "consent", mode="after")
    @classmethod
    def _always_set(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared: give one of its values")
        return value


class ContactView(ApiModel):
    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    custom_fields: dict[str, Any]
    tags: list[str]
    status: ContactStatus
    status_reason: str | None = None
    pipeline_stage: PipelineStage
    source: str | None
    consent: ConsentView
    created_at: str
    updated_at: str
    anonymized_at: str | None = None
    score: int = Field(default=0, description="the sum of the live score awards (read-only)")
    archived: bool = Field(default=False, description="left out of lists, searches, counts and enrollment")
    archived_at: str | None = None


class LeftOut(ApiModel):
    """A value of the input that was left out of the contact, and why."""

    field: str
    value: str
    reason: str


class ContactCreated(ContactView):
    warnings: list[LeftOut] = Field(
        default_factory=list, description="values left out of the contact (absent when none was)"
    )


class SyncAnswer(ApiModel):
    contact: ContactView
    result: str = Field(description="created | updated")
    warnings: list[LeftOut] = Field(default_factory=list, description="values left out of the contact")
    unarchived: bool = Field(
        default=False, description="the contact was archived and this sync unarchived it"
    )


class ContactPage(Page[ContactView]):
    pass


class ContactListQuery(ListQuery):
    status: StatusName | None = None
    tag: Tag | None = None
    group_id: str | None = Field(default=None, max_length=26)
    pipeline_stage: StageName | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100, description="prefix of email or name")
    archived: bool = Field(default=False, description="true: the archived contacts instead")


class TagView(ApiModel):
    tag: str
    contact_count: int


class TagPage(Page[TagView]):
    pass


class TagRename(ApiModel):
    """POST /tags/rename: every contact with `from` gets `to` instead; when `to` already
    exists the two tags merge."""

    from_: Tag = Field(alias="from")
    to: Tag


class TagMerge(ApiModel):
    """POST /tags/merge: the `from` tags all become `into`."""

    from_: list[Tag] = Field(alias="from", min_length=1, max_length=50)
    into: Tag


class TagRenamed(ApiModel):
    tag: str
    merged: bool
    contacts_changed: int
    contact_count: int
    done: bool = Field(description="false when time ran out first: the same call goes on")
