"""A contact's timeline: joined a group, enrolled, each email sent, opened, clicked, bounced,
unsubscribed, replied, archived, unarchived, and its consent given, requested, confirmed or
withdrawn. `GET /api/v1/contacts/{id}/activity` reads it newest first, one Query.

The items are written where the event happens: tracking, unsubscribe and the SES handlers
write theirs in the same transaction as the counters they move; joining a group and being
enrolled are copied from the Membership and Enrollment stream records, consent from the
Contact's (reactions below).
An erased (anonymised) or deleted contact loses its timeline.

Public:
- `item(ws, contact_id, kind, sk, at=None, **fields) -> Activity` (not saved)
- `email_sk(campaign_id, run, step_id) -> str` and the other sk builders
- `timeline(ws, contact_id, limit, cursor) -> dict` ({"items", "nextCursor"})
- `erase(ws, contact_id) -> int`
"""

from __future__ import annotations

from typing import Any

from chalicelib.models.activity import Activity
from chalicelib.platform import clock, pagination
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change

JOINED_GROUP = "joinedGroup"
ENROLLED = "enrolled"
EMAIL_SENT = "emailSent"
OPENED = "opened"
CLICKED = "clicked"
BOUNCED = "bounced"
UNSUBSCRIBED = "unsubscribed"
REPLIED = "replied"
CONSENT_GIVEN = "consentGiven"
CONSENT_REQUESTED = "consentRequested"  # a double opt-in's confirmation email is on its way
CONSENT_CONFIRMED = "consentConfirmed"
CONSENT_WITHDRAWN = "consentWithdrawn"
ARCHIVED = "archived"
UNARCHIVED = "unarchived"

# Attributes shown under "details" in the API, when set.
_DETAILS = (
    "subject",
    "url",
    "reason",
    "source",
    "deliveredAt",
    "bouncedAt",
    "complainedAt",
    "text",
    "ip",
)


def email_sk(campaign_id: str, run: int, step_id: str) -> str:
    """The emailSent item of one email of one enrollment (what its links point at)."""
    return f"EMAIL#{campaign_id}#{run}#{step_id}"


def per_email_sk(kind: str, campaign_id: str, run: int, step_id: str) -> str:
    """An event that counts once per email: opened, clicked, unsubscribed (link)."""
    return f"{kind.upper()}#{campaign_id}#{run}#{step_id}"


def item(ws: str, contact_id: str, kind: str, sk: str, at: str | None = None, **fields: Any) -> Activity:
    moment = at or clock.now_iso()
    partition = Activity.partition(ws, contact_id)
    return Activity(
        partition,
        sk,
        gsi1pk=partition,
        gsi1sk=f"{moment}#{sk}",
        workspaceId=ws,
        contactId=contact_id,
        kind=kind,
        at=moment,
        **{name: value for name, value in fields.items() if value is not None},
    )


# ---- reading ----------------------------------------------------------------------------


def timeline(ws: str, contact_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of the timeline, newest first: one Query of gsi1."""
    scope = f"activity:{ws}:{contact_id}"
    start = pagination.decode(cursor, scope)
    partition = Activity.partition(ws, contact_id)
    results = Activity.gsi1.query(
        partition,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start,
    )
    items = [view(found) for found in results if isinstance(found, Activity)]
    last_key = results.last_evaluated_key if len(items) >= limit else None
    return {"items": items, "nextCursor": pagination.encode(last_key, scope)}


def view(found: Activity) -> dict[str, Any]:
    details = {name: getattr(found, name) for name in _DETAILS if getattr(found, name) is not None}
    return {
        "type": found.kind,
        "at": found.at,
        "campaignId": found.campaignId,
        "groupId": found.groupId,
        "stepId": found.stepId,
        "details": details,
    }


# ---- erasing ----------------------------------------------------------------------------


def erase(ws: str, contact_id: str) -> int:
    """Delete the contact's timeline (Query the partition, BatchWriteItem by 25)."""
    removed = 0
    with Activity.batch_write() as batch:
        for found in Activity.query(
            Activity.partition(ws, contact_id), attributes_to_get=["pk", "sk", "type"]
        ):
            batch.delete(found)
            removed += 1
    return removed


# ---- stream reactions -------------------------------------------------------------------
# A batch's items are written together at its end (BatchWriteItem, 25 a request); each is
# idempotent by its key, so a record delivered again writes the same item again.

_PENDING = "activity.items"


def _later(batch: Batch, found: Activity) -> None:
    pending: dict[tuple[str, str], Activity] = batch.data.setdefault(_PENDING, {})
    pending[(found.pk, found.sk)] = found
    batch.defer(_PENDING, lambda: _write(list(pending.values())))


def _write(items: list[Activity]) -> None:
    with Activity.batch_write() as writer:
        for found in items:
            writer.save(found)


def on_membership(change: Change, batch: Batch) -> None:
    member = change.new
    if change.event_name != "INSERT" or not member:
        return
    ws, contact_id, group_id = member["workspaceId"], member["contactId"], member["groupId"]
    joined = str(member.get("joinedAt") or clock.now_iso())
    _later(batch, item(ws, contact_id, JOINED_GROUP, f"JOINED#{group_id}#{joined}", joined, groupId=group_id))


def on_enrollment(change: Change, batch: Batch) -> None:
    new = change.new
    if not new or (change.event_name == "MODIFY" and not change.changed("run")):
        return
    if change.event_name not in ("INSERT", "MODIFY"):
        return
    ws, contact_id, campaign_id = new["workspaceId"], new["contactId"], new["campaignId"]
    run = int(new.get("run") or 1)
    at = str(new.get("enrolledAt") or clock.now_iso())
    enrolled = item(
        ws,
        contact_id,
        ENROLLED,
        f"ENROLLED#{campaign_id}#{run}",
        at,
        campaignId=campaign_id,
        groupId=new.get("viaGroupId"),
        run=run,
        source=new.get("source"),
    )
    _later(batch, enrolled)


def on_contact(change: Change, batch: Batch) -> None:
    """Erasure (anonymizedAt newly set) and deletion take the timeline with them; a change
    of the consent's status is an entry; archiving and unarchiving are entries too (keyed by
    their moment: a replay writes the same item)."""
    _consent(change, batch)
    if change.event_name == "MODIFY" and change.changed("archivedAt"):
        new = change.new or {}
        at = str(new.get("archivedAt") or new.get("updatedAt") or clock.now_iso())
        kind = ARCHIVED if new.get("archivedAt") else UNARCHIVED
        _later(batch, item(str(new["workspaceId"]), str(new["id"]), kind, f"{kind.upper()}#{at}", at))
    erased = (
        change.event_name == "MODIFY"
        and change.changed("anonymizedAt")
        and (change.new or {}).get("anonymizedAt")
    )
    if change.event_name == "REMOVE" or erased:
        image = change.image
        ws, contact_id = str(image["workspaceId"]), str(image["id"])
        pending: dict[tuple[str, str], Activity] = batch.data.get(_PENDING, {})
        for key in [key for key in pending if key[0] == Activity.partition(ws, contact_id)]:
            del pending[key]  # this batch's items of the contact must not outlive the erasure
        removed = erase(ws, contact_id)
        logger.info("contact timeline erased", extra={"contact_id": image["id"], "items": removed})


_CONSENT_KINDS = {"GRANTED": CONSENT_GIVEN, "PENDING": CONSENT_REQUESTED, "WITHDRAWN": CONSENT_WITHDRAWN}


def _consent(change: Change, batch: Batch) -> None:
    if change.event_name not in ("INSERT", "MODIFY") or not change.new or change.new.get("anonymizedAt"):
        return
    new = change.new.get("consent") or {}
    old = (change.old or {}).get("consent") or {}
    status = new.get("status")
    if status == old.get("status") or status not in _CONSENT_KINDS:
        return
    kind = (
        CONSENT_CONFIRMED
        if status == "GRANTED" and old.get("status") == "PENDING"
        else _CONSENT_KINDS[status]
    )
    at = str(new.get("at") or change.new.get("updatedAt") or clock.now_iso())
    ws, contact_id = str(change.new["workspaceId"]), str(change.new["id"])
    entry = item(
        ws,
        contact_id,
        kind,
        f"CONSENT#{at}#{status}",
        at,
        source=new.get("source"),
        text=new.get("text"),
        ip=new.get("ip"),
    )
    _later(batch, entry)
