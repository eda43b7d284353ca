"""A campaign's steps: their shapes on the wire, their validation, wait durations, and where
an enrollment stands in them.

Steps are stored with a stable `id`: clients send it back when they edit the steps (while
DRAFT or PAUSED) and an enrollment remembers the id of the step it is at, so inserting or
removing steps before it neither re-sends a step it passed nor skips one ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.campaigns import personalisation
from chalicelib.models.campaigns import StepMap
from chalicelib.platform import ids
from chalicelib.schemas.common import ApiModel

MAX_STEPS = 50
MAX_WAIT_SECONDS = 365 * 86400
# A campaign item holds its steps and must stay under DynamoDB's 400 KB item limit.
MAX_STEPS_CHARS = 300_000
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
START = "start"


class EmailStep(ApiModel):
    type: Literal["email"]
    id: str | None = Field(default=None, max_length=40)
    subject: str = Field(min_length=1, max_length=500)
    body_text: str = Field(min_length=1, max_length=100_000)
    body_html: str | None = Field(default=None, max_length=200_000)

    @field_validator("subject", "body_text", "body_html")
    @classmethod
    def _merge_tags(cls, value: str | None) -> str | None:
        wrong = personalisation.problems(value or "")
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


# ---- stored form ------------------------------------------------------------------------


def to_stored(steps: list[EmailStep | WaitStep], known_ids: set[str]) -> list[StepMap]:
    """Stored steps; a step keeps its id when it is one of `known_ids`, else gets a new one
    (an id the client made up is not trusted to point at an existing step)."""
    stored = []
    for step in steps:
        step_id = step.id if step.id in known_ids else ids.new_id()
        if isinstance(step, EmailStep):
            stored.append(
                StepMap(
                    id=step_id,
                    type="email",
                    subject=step.subject,
                    bodyText=step.body_text,
                    bodyHtml=step.body_html,
                )
            )
        else:
            stored.append(StepMap(id=step_id, type="wait", unit=step.unit, amount=getattr(step, step.unit)))
    return stored


def to_wire(step: StepMap) -> dict[str, object]:
    if step.type == "email":
        body: dict[str, object] = {
            "id": step.id,
            "type": "email",
            "subject": step.subject,
            "bodyText": step.bodyText,
        }
        if step.bodyHtml is not None:
            body["bodyHtml"] = step.bodyHtml
        return body
    return {"id": step.id, "type": "wait", str(step.unit): int(step.amount or 0)}


def wait_seconds(step: StepMap) -> int:
    return int(step.amount or 0) * UNIT_SECONDS.get(str(step.unit), 0) if step.type == "wait" else 0


def email_count(steps: list[StepMap]) -> int:
    return sum(1 for step in steps if step.type == "email")


# ---- where an enrollment stands ---------------------------------------------------------


@dataclass(frozen=True)
class Next:
    """The next email step from some position, and how long to wait before it."""

    index: int
    step: StepMap
    wait: int


def position(steps: list[StepMap], step_id: str, index: int) -> int:
    """The index of the step an enrollment is at: found by id when it still exists (steps
    were inserted or removed before it), else the same index (the step was replaced)."""
    if step_id != START:
        for i, step in enumerate(steps):
            if step.id == step_id:
                return i
    return index


def next_email(steps: list[StepMap], start: int) -> Next | None:
    """The first email step at or after `start`, with the waits before it added up; None
    when no email step is left (the enrollment is complete)."""
    wait = 0
    for i in range(max(0, start), len(steps)):
        step = steps[i]
        if step.type == "email":
            return Next(index=i, step=step, wait=wait)
        wait += wait_seconds(step)
    return None
