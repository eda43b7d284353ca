"""A campaign's steps as stored: from their wire shapes (chalicelib.schemas.steps), wait
durations, and where an enrollment stands in them.

Steps are stored with a stable `id`: clients send it back when they edit the steps (while
DRAFT or PAUSED) and an enrollment remembers the id of the step it is at, so inserting or
removing steps before it neither re-sends a step it passed nor skips one ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.models.campaigns import StepMap
from chalicelib.platform import ids
from chalicelib.schemas.steps import UNIT_SECONDS, EmailStep, WaitStep

START = "start"


# ---- stored form ------------------------------------------------------------------------


def to_stored(steps: list[EmailStep | WaitStep], known_ids: set[str]) -> list[StepMap]:
    """Stored steps; a step keeps its id when it is one of `known_ids`, else gets a new one
    (an id the client made up is not trusted to point at an existing step)."""
    stored = []
    for step in steps:
        step_id = step.id if step.id in known_ids else ids.new_id()
        # StepMap(...): MapAttribute.__init__ is untyped in PynamoDB.
        if isinstance(step, EmailStep):
            stored.append(
                StepMap(  # type: ignore[no-untyped-call]
                    id=step_id,
                    type="email",
                    subject=step.subject,
                    bodyText=step.body_text,
                    bodyHtml=step.body_html,
                )
            )
        else:
            stored.append(StepMap(id=step_id, type="wait", unit=step.unit, amount=getattr(step, step.unit)))  # type: ignore[no-untyped-call]
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
