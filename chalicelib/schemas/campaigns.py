"""Campaign bodies, their enrollments and their overview."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from chalicelib.schemas.common import ApiModel, ListQuery
from chalicelib.schemas.steps import Step, check_size

MAX_GROUPS = 20

Steps = Annotated[list[Step], AfterValidator(check_size)]
GroupIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=MAX_GROUPS)]
Status = Literal["DRAFT", "RUNNING", "PAUSED", "COMPLETED"]
Reenrollment = Literal["never", "afterExit"]


_DOMAIN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


def _sender(value: str) -> str:
    """A well-formed address. Its domain may be a reserved one (the local stack sends from
    cohort.local): whether SES may send from it is checked at launch, against SES itself."""
    # Imported here: email_validator is not needed to load the API (cold start).
    from email_validator import EmailNotValidError, validate_email

    local, at, domain = value.rpartition("@")
    domain = domain.lower()
    if not at or not _DOMAIN.match(domain):
        raise ValueError("must be an email address such as news@yourcompany.com")
    try:
        checked = validate_email(f"{local}@example.com", check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return f"{checked.local_part}@{domain}"


def _distinct(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


class _GroupsCheck(ApiModel):
    @model_validator(mode="after")
    def _no_overlap(self) -> Any:
        include = getattr(self, "include_group_ids", None) or []
        exclude = getattr(self, "exclude_group_ids", None) or []
        both = sorted(set(include) & set(exclude))
        if both:
            raise ValueError(f"a group cannot be both included and excluded: {', '.join(both)}")
        return self


class CampaignCreate(_GroupsCheck):
    name: str = Field(min_length=1, max_length=200)
    from_email: str = Field(min_length=3, max_length=320)
    steps: Steps = Field(default_factory=list)
    include_group_ids: Annotated[GroupIds, AfterValidator(_distinct)] = Field(default_factory=list)
    exclude_group_ids: Annotated[GroupIds, AfterValidator(_distinct)] = Field(default_factory=list)
    reenrollment: Reenrollment = "never"
    stop_when_leaving: bool = False

    @field_validator("from_email")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        return _sender(value)


class CampaignPatch(_GroupsCheck):
    """Only the fields given change. `status` accepts only COMPLETED: the other transitions
    are the launch, pause and resume actions."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    from_email: str | None = Field(default=None, min_length=3, max_length=320)
    steps: Steps | None = None
    include_group_ids: Annotated[GroupIds, AfterValidator(_distinct)] | None = None
    exclude_group_ids: Annotated[GroupIds, AfterValidator(_distinct)] | None = None
    reenrollment: Reenrollment | None = None
    stop_when_leaving: bool | None = None
    status: Literal["COMPLETED"] | None = None

    @field_validator("from_email")
    @classmethod
    def _check_sender(cls, value: str | None) -> str | None:
        return None if value is None else _sender(value)

    @model_validator(mode="after")
    def _not_null(self) -> CampaignPatch:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CampaignView(ApiModel):
    id: str
    name: str
    status: Status
    from_email: str
    steps: list[dict[str, Any]]
    include_group_ids: list[str]
    exclude_group_ids: list[str]
    reenrollment: Reenrollment
    stop_when_leaving: bool = False
    created_at: str
    updated_at: str
    launched_at: str | None = None
    completed_at: str | None = None


class CampaignListQuery(ListQuery):
    status: Status | None = None


class EnrollmentListQuery(ListQuery):
    status: Literal["ACTIVE", "COMPLETED", "STOPPED"] | None = None


class EnrollmentView(ApiModel):
    campaign_id: str
    contact_id: str
    status: Literal["ACTIVE", "COMPLETED", "STOPPED"]
    current_step: int
    next_step_at: str | None
    enrolled_at: str
    source: str
    via_group_id: str | None
    stop_reason: str | None
    emails_sent: int
    run: int
    campaign_name: str | None = None


class Rates(ApiModel):
    sent: int
    opened: int
    clicked: int
    open_rate: float
    click_rate: float
    # Deliverability outcomes (chalicelib.deliverability.engagement) and their rates per email sent.
    delivered: int
    bounced: int
    soft_bounced: int
    complained: int
    unsubscribed: int
    replied: int
    delivered_rate: float
    bounced_rate: float
    soft_bounced_rate: float
    complained_rate: float
    unsubscribed_rate: float
    replied_rate: float


class GroupOverview(Rates):
    group_id: str
    name: str | None
    dynamic: bool | None
    included: bool
    contacts: int


class Totals(Rates):
    enrolled: int


class CampaignOverview(ApiModel):
    campaign_id: str
    status: Status
    totals: Totals
    groups: list[GroupOverview]


class CampaignPage(ApiModel):
    items: list[CampaignView]
    next_cursor: str | None = None


class EnrollmentPage(ApiModel):
    items: list[EnrollmentView]
    next_cursor: str | None = None
