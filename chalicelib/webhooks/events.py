"""The outbox: the table's stream says what happened, this turns it into webhook deliveries.

A change and its event never disagree: the event is read from the stream record of the
change itself (no second write in the request). For each record this reaction finds its
events (`events_of`), the workspace's endpoints that want them (cached: one Query per
workspace per 30 s) and, at the end of the batch, writes one log item per (event, endpoint)
(BatchWriteItem, 25 a request) and sends one SQS message per delivery (10 a request). A
record delivered twice by the stream writes the same items (the id is its sequence number)
and sends its messages again: at least once; receivers deduplicate by webhook-id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.contacts import activity
from chalicelib.contacts.engagement import engagement_only
from chalicelib.models.webhooks import WebhookDelivery, WebhookEndpoint
from chalicelib.platform import clock, config, queues
from chalicelib.platform.streams import Batch, Change
from chalicelib.webhooks import service

LOG_TTL = timedelta(days=30)
_PENDING = "webhooks.deliveries"

CONTACT_FIELDS = (
    "id",
    "email",
    "phone",
    "firstName",
    "lastName",
    "company",
    "title",
    "status",
    "statusReason",
    "pipelineStage",
    "tags",
    "customFields",
    "source",
    "consent",  # docs/consent.md
    "createdAt",
    "updatedAt",
    "score",
)
MEMBERSHIP_FIELDS = ("groupId", "contactId", "groupName", "email", "firstName", "lastName", "joinedAt")
ENROLLMENT_FIELDS = (
    "campaignId",
    "contactId",
    "run",
    "status",
    "source",
    "viaGroupId",
    "stopReason",
    "enrolledAt",
    "endedAt",
)
ACTIVITY_FIELDS = ("contactId", "campaignId", "stepId", "run", "groupId", "subject", "url", "at")
IMPORT_FIELDS = (
    "id",
    "status",
    "fileName",
    "groupId",
    "created",
    "updated",
    "warnings",
    "createdAt",
    "updatedAt",
)
EMAIL_EVENTS = {
    activity.EMAIL_SENT: "email.sent",
    activity.OPENED: "email.opened",
    activity.CLICKED: "email.clicked",
    activity.REPLIED: "email.replied",
}
STATUS_EVENTS = {"UNSUBSCRIBED": "contact.unsubscribed", "BOUNCED": "contact.bounced"}
ENDED_EVENTS = {"COMPLETED": "enrollment.completed", "STOPPED": "enrollment.stopped"}

Event = tuple[str, dict[str, Any]]


def on_change(change: Change, batch: Batch) -> None:
    """The stream reaction of every item type that has events (chalicelib.events.dispatch)."""
    image = change.image
    ws = str(image.get("workspaceId") or "")
    if not ws:
        return
    if change.item_type == "Webhook":
        service.forget(ws)
        return
    found = events_of(change)
    if not found:
        return
    endpoints = [e for e in service.endpoints_for(ws) if e.status == "ACTIVE"]
    if not endpoints:
        return
    now = clock.now()
    pending: list[WebhookDelivery] = batch.data.setdefault(_PENDING, [])
    base = _record_id(change.sequence_number)
    for index, (event_type, data) in enumerate(found):
        body = json.dumps(
            {"type": event_type, "timestamp": clock.iso(now), "data": data},
            separators=(",", ":"),
            default=_plain,
        )
        for endpoint in endpoints:
            if event_type in endpoint.events:
                pending.append(_delivery(endpoint, f"{base}{index:x}", event_type, body, now))
    if pending:
        batch.defer(_PENDING, lambda: flush(pending))


def flush(pending: list[WebhookDelivery]) -> None:
    """Log every delivery, then queue it (a log item always exists for a queued message)."""
    with WebhookDelivery.batch_write() as writer:
        for item in pending:
            writer.save(item)
    queues.send(
        config.webhooks_queue_url(),
        (service.message(item.workspaceId, item.endpointId, item.id, 1) for item in pending),
    )


def events_of(change: Change) -> list[Event]:
    """The events a change of the table is, with their data (none for most changes)."""
    kind, new, old = change.event_name, change.new or {}, change.old or {}
    image = change.image
    if change.item_type == "Contact":
        if kind == "INSERT":
            return [("contact.created", _pick(new, CONTACT_FIELDS))]
        if kind == "REMOVE":
            return [("contact.deleted", {"id": old.get("id")})]
        if engagement_only(change):
            return []  # its engagement facts moved: the event itself has its own webhook
        found: list[Event] = [("contact.updated", _pick(new, CONTACT_FIELDS))]
        status = str(new.get("status"))
        if change.changed("status") and status in STATUS_EVENTS:
            found.append((STATUS_EVENTS[status], _pick(new, CONTACT_FIELDS)))
        return found
    if change.item_type == "Membership":
        if kind == "INSERT":
            return [("group.member_joined", _pick(new, MEMBERSHIP_FIELDS))]
        if kind == "REMOVE":
            return [("group.member_left", _pick(old, MEMBERSHIP_FIELDS))]
        return []
    if change.item_type == "Enrollment":
        status = str(new.get("status"))
        if kind == "INSERT" or (kind == "MODIFY" and change.changed("run") and status == "ACTIVE"):
            return [("enrollment.started", _pick(new, ENROLLMENT_FIELDS))]
        if kind == "MODIFY" and change.changed("status") and status in ENDED_EVENTS:
            return [(ENDED_EVENTS[status], _pick(new, ENROLLMENT_FIELDS))]
        return []
    if change.item_type == "Activity":
        event_type = EMAIL_EVENTS.get(str(image.get("kind")))
        if kind == "INSERT" and event_type:
            return [(event_type, _pick(new, ACTIVITY_FIELDS))]
        return []
    if change.item_type == "Import":
        if kind == "MODIFY" and change.changed("status") and new.get("status") == "COMPLETED":
            return [("import.completed", _pick(new, IMPORT_FIELDS))]
        return []
    return []


def _delivery(
    endpoint: WebhookEndpoint, delivery_id: str, event_type: str, body: str, now: Any
) -> WebhookDelivery:
    return WebhookDelivery(
        *WebhookDelivery.key(endpoint.workspaceId, endpoint.id, delivery_id),
        id=delivery_id,
        workspaceId=endpoint.workspaceId,
        endpointId=endpoint.id,
        event=event_type,
        payload=body,
        status="PENDING",
        attempts=0,
        nextAttemptAt=clock.iso(now),
        createdAt=clock.iso(now),
        ttl=now + LOG_TTL,
    )


def _record_id(sequence_number: str) -> str:
    """Fixed-width hex of the stream sequence number: sorts as the records came."""
    if sequence_number.isdigit():
        return f"{int(sequence_number):034x}"
    return hashlib.sha256(sequence_number.encode()).hexdigest()[:34]


def _pick(image: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(image[name]) for name in fields if image.get(name) is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value
