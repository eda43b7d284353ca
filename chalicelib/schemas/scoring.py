"""Scoring bodies (API.md "Scoring"): rules, a contact's score, a recompute."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chalicelib.schemas.common import ApiModel, ListQuery
from chalicelib.schemas.contacts import StatusName, Tag
from chalicelib.schemas.filters import FilterNode

ScoreEvent = Literal[
    "opened", "clicked", "replied", "formSubmitted", "joinedGroup", "tagAdded", "statusChanged"
]
Repeat = Literal["once", "everyTime"]
MAX_POINTS = 1000
# What narrows each event (a campaign for emails, a group for joins...): anything else is refused.
EVENT_FILTERS: dict[str, tuple[str, ...]] = {
    "opened": ("campaign_id",),
    "clicked": ("campaign_id",),
    "replied": ("campaign_id",),
    "formSubmitted": ("form_id",),
    "joinedGroup": ("group_id",),
    "tagAdded": ("tag",),
    "statusChanged": ("status",),
}
_NARROWING = ("campaign_id", "group_id", "form_id", "tag", "status")


class RuleWhen(ApiModel):
    """`{"event", campaignId?, groupId?, formId?, tag?, status?}` or `{"matches": filter}`."""

    event: ScoreEvent | None = None
    campaign_id: str | None = Field(default=None, min_length=1, max_length=26)
    group_id: str | None = Field(default=None, min_length=1, max_length=26)
    form_id: str | None = Field(default=None, min_length=1, max_length=26)
    tag: Tag | None = None
    status: StatusName | None = None
    matches: FilterNode | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RuleWhen:
        if (self.event is None) == (self.matches is None):
            raise ValueError("give exactly one of event or matches")
        given = [name for name in _NARROWING if getattr(self, name) is not None]
        allowed = EVENT_FILTERS.get(self.event or "", ())
        wrong = [name for name in given if name not in allowed]
        if wrong:
            what = f"the event {self.event}" if self.event else "a matches rule"
            raise ValueError(f"{what} cannot be narrowed by {', '.join(wrong)}")
        return self


class Expiry(ApiModel):
    days: int = Field(ge=1, le=3650)


class RuleCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    points: int = Field(ge=-MAX_POINTS, le=MAX_POINTS, description="-1000...1000, not 0")
    when: RuleWhen
    repeat: Repeat = "everyTime"
    max_per_contact: int | None = Field(default=None, ge=1, le=10000)
    expires_after: Expiry | None = None
    active: bool = True

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        return _points(value)

    @field_validator("repeat")
    @classmethod
    def _repeat_fits(cls, value: str, info: ValidationInfo) -> str:
        when = info.data.get("when")
        problem = problem_of(value, None, when.matches is not None if when else False)
        if problem and problem[0] == "repeat":
            raise ValueError(problem[1])
        return value

    @field_validator("max_per_contact")
    @classmethod
    def _limit_fits(cls, value: int | None, info: ValidationInfo) -> int | None:
        when = info.data.get("when")
        problem = problem_of(
            info.data.get("repeat", "everyTime"), value, when.matches is not None if when else False
        )
        if problem and problem[0] == "maxPerContact":
            raise ValueError(problem[1])
        return value


class RulePatch(ApiModel):
    """Given fields change; null clears maxPerContact or expiresAfter."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    points: int | None = Field(default=None, ge=-MAX_POINTS, le=MAX_POINTS)
    when: RuleWhen | None = None
    repeat: Repeat | None = None
    max_per_contact: int | None = Field(default=None, ge=1, le=10000)
    expires_after: Expiry | None = None
    active: bool | None = None

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int | None) -> int | None:
        return None if value is None else _points(value)

    @model_validator(mode="after")
    def _something(self) -> RulePatch:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


def _points(value: int) -> int:
    if value == 0:
        raise ValueError("points cannot be 0")
    return value


def problem_of(repeat: str, max_per_contact: int | None, matches: bool) -> tuple[str, str] | None:
    """What is wrong with this combination, as (field, message), or None."""
    if matches and repeat != "everyTime":
        return "repeat", "a matches rule holds its points while matching: repeat is everyTime"
    if matches and max_per_contact is not None:
        return "maxPerContact", "a matches rule holds its points while matching: no maxPerContact"
    if max_per_contact is not None and repeat == "once":
        return "maxPerContact", "maxPerContact goes with repeat everyTime (once is at most one)"
    return None


class RuleView(ApiModel):
    id: str
    name: str
    points: int
    when: dict[str, Any]
    repeat: Repeat
    max_per_contact: int | None = None
    expires_after: dict[str, int] | None = None
    active: bool
    created_at: str
    updated_at: str


class RulePage(ApiModel):
    items: list[RuleView]
    next_cursor: str | None = None


class RuleQuery(ListQuery):
    pass


class AwardView(ApiModel):
    rule_id: str
    points: int
    at: str
    expires_at: str | None = None


class ScoreView(ApiModel):
    score: int
    awards: list[AwardView] = Field(description="the live awards, newest first")


class RecomputeBody(ApiModel):
    rule_id: str | None = Field(default=None, min_length=1, max_length=26)


class RecomputeAccepted(ApiModel):
    job_id: str
