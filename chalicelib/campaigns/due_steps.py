"""Scheduling steps: each step message after its wait, through the timers (an SQS delay up
to 15 minutes, a minute bucket beyond: chalicelib/timers/due.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.campaigns.step_messages import StepRef
from chalicelib.timers import due


def schedule(items: Iterable[tuple[StepRef, int]], now: datetime | None = None) -> None:
    """Each step after `wait` seconds. The timer's key is the step of the enrollment's run,
    so scheduling it twice for the same minute is one timer."""
    due.schedule(
        (
            due.Due(
                queue=due.STEPS,
                key=f"{ref.ws}#{ref.campaign_id}#{ref.contact_id}#{ref.run}#{ref.step_id}",
                spread=ref.contact_id,
                message=ref.message(),
                wait=wait,
            )
            for ref, wait in items
        ),
        now,
    )
