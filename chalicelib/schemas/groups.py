"""Group, membership, statistics and bulk-action bodies (docs/api.md, section Groups)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.schemas.common import ApiModel, ListQuery
from chalicelib.schemas.contacts import MAX_TAGS_PER_CONTACT, ContactStatus, Tag
from chalicelib.schemas.filters import FilterNode

MAX_MEMBERS_PER_CALL = 1000
MAX_GROUPS_PER_CONTACT = 500
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class GroupType(StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


def normalise_color(value: str | None) -> str | None:
    """`#rrggbb` (lowercased) or a CSS named color (lowercased); anything else is refused."""
    if value is None:
        return None
    if _HEX_COLOR.match(value):
        return value.lower()
    # cold start: heavy library, loaded on first use
    import webcolors

    name = value.lower()
    try:
        webcolors.name_to_hex(name, spec=webcolors.CSS3)
    except ValueError:
        # CSS Color 4 added one name that webcolors' CSS3 list lacks.
        if name != "rebeccapurple":
            raise ValueError("must be #rrggbb or a CSS color name such as 'teal'") from None
    return name


class GroupCreate(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    type: GroupType = GroupType.STATIC
    color: str | None = None
    # Membership kept by Cohort (docs/segments.md): DYNAMIC follows every contact change,
    # STATIC takes the contacts that match at creation.
    rules: FilterNode | None = None

    _color = field_validator("color")(normalise_color)


class GroupPatch(ApiModel):
    """Only the fields sent change; `description` and `color` may be set to null to clear them."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    type: GroupType | None = None
    color: str | None = None
    # New rules (the members follow as a diff), or null: the group's members are by hand again.
    rules: FilterNode | None = None

    _color = field_validator("color")(normalise_color)

    @model_validator(mode="after")
    def _something_to_change(self) -> GroupPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, description, type, color, rules")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        if "type" in self.model_fields_set and self.type is None:
            raise ValueError("type cannot be null")
        return self


class GroupView(ApiModel):
    id: str
    name: str
    description: str | None
    type: GroupType
    color: str | None
    member_count: int
    created_at: str
    updated_at: str
    rules: dict[str, Any] | None = None
    membership_status: Literal["BUILDING", "READY"] | None = None


class GroupPage(ApiModel):
    items: list[GroupView]
    next_cursor: str | None = None


class DeleteQuery(ApiModel):
    force: bool = False


class MembersAdd(ApiModel):
    """Up to 1,000 contact ids and emails together; duplicates count once."""

    contact_ids: list[str] = Field(default_factory=list, max_length=MAX_MEMBERS_PER_CALL)
    emails: list[str] = Field(default_factory=list, max_length=MAX_MEMBERS_PER_CALL)

    @model_validator(mode="after")
    def _bounded(self) -> MembersAdd:
        if not self.contact_ids and not self.emails:
            raise ValueError("send contactIds and/or emails")
        if len(self.contact_ids) + len(self.emails) > MAX_MEMBERS_PER_CALL:
            raise ValueError(f"at most {MAX_MEMBERS_PER_CALL} contactIds and emails per call")
        return self


class InvalidValue(ApiModel):
    value: str
    reason: str


class MembersReport(ApiModel):
    added: int
    already_member: int
    created: int
    invalid: list[InvalidValue]


class MembersRemove(ApiModel):
    contact_ids: list[str] = Field(min_length=1, max_length=MAX_MEMBERS_PER_CALL)


class RemoveReport(ApiModel):
    removed: int
    not_member: int


class MembersQuery(ListQuery):
    q: str | None = Field(default=None, max_length=200)
    status: ContactStatus | None = None


class MemberView(ApiModel):
    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    status: str
    joined_at: str


class MemberPage(ApiModel):
    items: list[MemberView]
    next_cursor: str | None = None


class GroupStats(ApiModel):
    type: GroupType
    total_contacts: int
    active_contacts: int
    inactive_contacts: int
    linked_running_campaigns: int
    last_campaign_sent_at: str | None
    average_engagement_rate: float | None


class GroupAction(ApiModel):
    """One model for the three actions; what each needs is checked by chalicelib.flows.group_actions."""

    action: Literal["applyTags", "addToCampaign", "deleteContacts"]
    tags: list[Tag] | None = Field(default=None, min_length=1, max_length=MAX_TAGS_PER_CONTACT)
    campaign_id: str | None = None
    confirm: bool | None = None


MAX_MERGE_SOURCES = 50


class GroupMerge(ApiModel):
    """POST /groups/{id}/merge: the groups whose members join this one."""

    source_group_ids: list[str] = Field(min_length=1, max_length=MAX_MERGE_SOURCES)
    delete_sources: bool = False


class JobAccepted(ApiModel):
    job_id: str


class ContactGroupView(ApiModel):
    id: str
    name: str | None
    color: str | None
    type: GroupType
    joined_as: GroupType
    joined_at: str


class ContactGroupPage(ApiModel):
    items: list[ContactGroupView]
    next_cursor: str | None = None


class ContactGroupsSet(ApiModel):
    group_ids: list[str] = Field(max_length=MAX_GROUPS_PER_CONTACT)


class ContactGroupsReport(ApiModel):
    group_ids: list[str]
    added: int
    removed: int
