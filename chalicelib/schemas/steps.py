"""A campaign's steps on the wire: their shapes and their validation (merge tags, one wait
unit, the size a campaign item can hold)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.schemas import templates
from chalicelib.schemas.common import ApiModel

MAX_STEPS = 50
MAX_WAIT_SECONDS = 365 * 86400
# A campaign item holds its steps and must stay under DynamoDB's 400 KB item limit.
MAX_STEPS_CHARS = 300_000
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class EmailStep(ApiModel):
    type: Literal["email"]
    id: str | None = Field(default=None, max_length=40)
    subject: str = Field(min_length=1, max_length=500)
    body_text: str = Field(min_length=1, max_length=100_000)
    body_html: str | None = Field(default=None, max_length=200_000)

    @field_validator("subject", "body_text", "body_html")
    @classmethod
    def _merge_tags(cls, value: str | None) -> str | None:
        wrong = templates.problems(value or "")
        if wrong:
            raise ValueError("; ".join(wrong))
        return value


class WaitStep(ApiModel):
    type: Literal["wait"]
    id: str | None = Field(default=None, max_length=40)
    seconds: int | None = Field(default=None, ge=1)
    minutes: int | None = Field(default=None, ge=1)
    hours: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_unit(self) -> WaitStep:
        given = [unit for unit in UNIT_SECONDS if getattr(self, unit) is not None]
        if len(given) != 1:
            raise ValueError("a wait step has exactly one of seconds, minutes, hours or days")
        if self.duration() > MAX_WAIT_SECONDS:
            raise ValueError("a wait step lasts at most 365 days")
        return self

    @property
    def unit(self) -> str:
        return next(unit for unit in UNIT_SECONDS if getattr(self, unit) is not None)

    def duration(self) -> int:
        unit = self.unit
        return int(getattr(self, unit)) * UNIT_SECONDS[unit]


Step = Annotated[EmailStep | WaitStep, Field(discriminator="type")]


def check_size(steps: list[EmailStep | WaitStep]) -> list[EmailStep | WaitStep]:
    """Used as an after-validator of a steps list (count and total size)."""
    if len(steps) > MAX_STEPS:
        raise ValueError(f"a campaign has at most {MAX_STEPS} steps")
    size = sum(
        len(s.subject) + len(s.body_text) + len(s.body_html or "") for s in steps if isinstance(s, EmailStep)
    )
    if size > MAX_STEPS_CHARS:
        raise ValueError(f"the steps' subjects and bodies total more than {MAX_STEPS_CHARS} characters")
    ids_given = [s.id for s in steps if s.id]
    if len(ids_given) != len(set(ids_given)):
        raise ValueError("two steps have the same id")
    return steps
