"""Bodies of /api/v1/webhooks."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from chalicelib.schemas.common import ApiModel, ListQuery

EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.unsubscribed",
    "contact.bounced",
    "group.member_joined",
    "group.member_left",
    "enrollment.started",
    "enrollment.completed",
    "enrollment.stopped",
    "email.sent",
    "email.opened",
    "email.clicked",
    "email.replied",
    "import.completed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


class WebhookCreate(ApiModel):
    url: str = Field(
        min_length=1, description="http(s) URL, at most 2,000 characters; public on deployed stages"
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)


class WebhookView(ApiModel):
    id: str
    url: str
    events: list[str]
    description: str | None = None
    status: Literal["ACTIVE", "DISABLED"]
    failing_since: str | None = None
    disabled_at: str | None = None
    disabled_reason: str | None = None
    created_at: str


class WebhookCreated(WebhookView):
    secret: str = Field(description="whsec_...: shown only here; verifies webhook-signature")


class WebhookPage(ApiModel):
    items: list[WebhookView]
    next_cursor: str | None = None


class WebhookQuery(ListQuery):
    """`?limit=&cursor=` of the endpoints."""


class DeliveryQuery(ListQuery):
    """`?limit=&cursor=` of an endpoint's deliveries, newest first."""


class DeliveryView(ApiModel):
    id: str
    event: str
    status: Literal["PENDING", "DELIVERED", "FAILED"]
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    created_at: str


class DeliveryPage(ApiModel):
    items: list[DeliveryView]
    next_cursor: str | None = None
