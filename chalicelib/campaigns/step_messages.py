"""Step messages: what a message on the steps queue says (`StepRef`, one enrollment at one
step) and sending them, each with its own delay (`send`, `start`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.models.campaigns import Enrollment
from chalicelib.platform import config, queues

STEP_KIND = "campaign.step"
SEND_WORKERS = 10


@dataclass(frozen=True)
class StepRef:
    """One enrollment at one step: the body of a step message and its idempotency key."""

    ws: str
    campaign_id: str
    contact_id: str
    run: int
    step: int
    step_id: str

    @classmethod
    def start_of(cls, enrollment: Enrollment) -> StepRef:
        return cls(
            ws=enrollment.workspaceId,
            campaign_id=enrollment.campaignId,
            contact_id=enrollment.contactId,
            run=int(enrollment.run),
            step=int(enrollment.currentStep),
            step_id=enrollment.currentStepId,
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> StepRef:
        return cls(
            ws=str(message["ws"]),
            campaign_id=str(message["campaignId"]),
            contact_id=str(message["contactId"]),
            run=int(message["run"]),
            step=int(message["step"]),
            step_id=str(message["stepId"]),
        )

    def message(self) -> dict[str, Any]:
        return {
            "kind": STEP_KIND,
            "ws": self.ws,
            "campaignId": self.campaign_id,
            "contactId": self.contact_id,
            "run": self.run,
            "step": self.step,
            "stepId": self.step_id,
        }

    def at(self, index: int, step_id: str) -> StepRef:
        return replace(self, step=index, step_id=step_id)

    def matches(self, enrollment: Enrollment | None) -> bool:
        return (
            enrollment is not None
            and enrollment.status == "ACTIVE"
            and int(enrollment.run) == self.run
            and int(enrollment.currentStep) == self.step
            and enrollment.currentStepId == self.step_id
        )

    def ahead_of(self, enrollment: Enrollment | None) -> bool:
        """This message is for a later step than the enrollment has recorded yet: the step
        before it scheduled it and is still being recorded (or will be, on its redelivery)."""
        return (
            enrollment is not None
            and enrollment.status == "ACTIVE"
            and int(enrollment.run) == self.run
            and int(enrollment.currentStep) < self.step
        )

    def condition(self) -> Condition:
        """The same test, as a write condition."""
        condition: Condition = (
            (Enrollment.status == "ACTIVE")
            & (Enrollment.run == self.run)
            & (Enrollment.currentStep == self.step)
            & (Enrollment.currentStepId == self.step_id)
        )
        return condition

    def enrollment(self) -> Enrollment:
        return Enrollment(*Enrollment.key(self.ws, self.campaign_id, self.contact_id))


def start(enrollments: Iterable[Enrollment]) -> int:
    """Send the first-step message of each enrollment (SendMessageBatch, 10 a call)."""
    return send([(StepRef.start_of(e).message(), 0) for e in enrollments])


def send(messages: list[tuple[dict[str, Any], int]]) -> int:
    """Step messages to the steps queue, each after its delay in seconds (15 minutes at most),
    10 a call and the calls side by side (a launch page sends 10); returns the number of calls."""
    return queues.send_each(config.steps_queue_url(), messages, workers=SEND_WORKERS)
