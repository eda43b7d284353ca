"""The contact timeline's items (GET /api/v1/contacts/{id}/activity)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.schemas.common import ApiModel

ActivityType = Literal[
    "joinedGroup",
    "enrolled",
    "emailSent",
    "opened",
    "clicked",
    "bounced",
    "unsubscribed",
    "replied",
    "consentGiven",
    "consentRequested",
    "consentConfirmed",
    "consentWithdrawn",
    "archived",
    "unarchived",
]


class ActivityView(ApiModel):
    type: ActivityType
    at: str
    campaign_id: str | None = None
    group_id: str | None = None
    step_id: str | None = None
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="subject (emailSent), url (clicked), reason, source (enrolled, consent*), "
        "text and ip (consent*), deliveredAt...",
    )


class ActivityPage(ApiModel):
    items: list[ActivityView]
    next_cursor: str | None = None
