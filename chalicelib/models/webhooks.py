"""Webhook endpoints and their delivery log."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item

ENDPOINT_PREFIX = "WEBHOOK#"
DELIVERY_PREFIX = "DLV#"


class WebhookEndpoint(Item, discriminator="Webhook"):
    """pk WS#<ws>, sk WEBHOOK#<id>: a URL that receives the workspace's events, signed with
    `secret` (whsec_...). `failingSince` is the first failed attempt since the last success;
    five days of it disable the endpoint (status DISABLED, `disabledReason`)."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    url = UnicodeAttribute()
    # PynamoDB types ListAttribute(of=UnicodeAttribute) as list[UnicodeAttribute]: annotated list[str].
    events: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    description = UnicodeAttribute(null=True)
    secret = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | DISABLED
    failingSince = UnicodeAttribute(null=True)
    disabledAt = UnicodeAttribute(null=True)
    disabledReason = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, endpoint_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"{ENDPOINT_PREFIX}{endpoint_id}"


class WebhookDelivery(Item, discriminator="WebhookDelivery"):
    """pk WS#<ws>#WEBHOOK#<endpoint>, sk DLV#<delivery id>: one event for one endpoint, its
    body as signed and its attempts. The id is the stream record's sequence number (hex,
    fixed width) and the event's index in it: a Query backwards lists newest first, and a
    record delivered twice by the stream writes the same item. TTL: 30 days."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    endpointId = UnicodeAttribute()
    event = UnicodeAttribute()
    payload = UnicodeAttribute()  # the JSON body, exactly as POSTed
    status = UnicodeAttribute(default="PENDING")  # PENDING | DELIVERED | FAILED
    attempts = NumberAttribute(default=0)
    lastStatusCode = NumberAttribute(null=True)
    lastError = UnicodeAttribute(null=True)
    nextAttemptAt = UnicodeAttribute(null=True)
    deliveredAt = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()

    @staticmethod
    def partition(ws: str, endpoint_id: str) -> str:
        return f"{keys.workspace(ws)}#WEBHOOK#{endpoint_id}"

    @staticmethod
    def key(ws: str, endpoint_id: str, delivery_id: str) -> tuple[str, str]:
        return WebhookDelivery.partition(ws, endpoint_id), f"{DELIVERY_PREFIX}{delivery_id}"
