"""A contact's engagement facts: for each event kind, the last time it happened for any
campaign and for each of the contact's latest campaigns, kept on the Contact item (its
`engagement` map) so a filter's engagement condition reads nothing but the contact.

    engagement = {
        "rev": 7,                                   # +1 a write; writes are conditioned on it
        "opened": {
            "last": "2026-12-06T10:00:00.000Z",     # any campaign
            "campaigns": {"<campaign id>": "2026-12-06T10:00:00.000Z", ...},  # at most 20
            "dropped": "2026-11-02T09:00:00.000Z",  # the latest time of a campaign let go
        },
        "sent": {...}, "clicked": {...}, "replied": {...}, "bounced": {...}, "unsubscribed": {...},
    }

Written from the timeline's stream (each event is recorded once as an `Activity` item, its
INSERT is the one record here): a batch's events are merged per contact, the batch's contacts
read (one BatchGetItem of their facts, 100 a request), and each contact whose facts move gets
one UpdateItem of the whole map, conditioned on the `rev` it was merged on (a concurrent
writer, the backfill or another shard, makes it read again and merge again). A time only ever
moves forward (the merge keeps the later of two), so a replayed record or an older event
delivered after a newer one changes nothing.

Bounded: per kind, the 20 campaigns of the latest times (a weekly newsletter's last five
months; at most ~6.6 KB for the six kinds). A campaign let go was last engaged with at or before
`dropped`: a condition on it then reads "no", which is exact for a `withinLast` window that
starts after `dropped` (docs/segments.md).

An engagement-only change of the contact is not a change of the contact (`engagement_only`):
no `updatedAt` or `revision` bump, no `contact.updated` webhook, no snapshot refresh.

Times are clock.iso strings (fixed width, UTC, milliseconds): they compare as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.contacts import activity
from chalicelib.models.contacts import Contact
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change

MAX_CAMPAIGNS = 20
ATTRIBUTE = "engagement"
# Activity kinds (chalicelib.contacts.activity) -> the filters' event names.
EVENTS = {
    activity.EMAIL_SENT: "sent",
    activity.OPENED: "opened",
    activity.CLICKED: "clicked",
    activity.REPLIED: "replied",
    activity.BOUNCED: "bounced",
    activity.UNSUBSCRIBED: "unsubscribed",
}
_RETRIES = 5
_PENDING = "engagement.events"


@dataclass(frozen=True)
class Event:
    event: str  # sent | opened | clicked | replied | bounced | unsubscribed
    campaign_id: str | None
    at: str


# ---- reading ------------------------------------------------------------------------------


def facts_of(contact: Mapping[str, Any]) -> dict[str, Any]:
    """The facts of a contact (an item's attribute values or a stream image), {} when none."""
    facts = contact.get(ATTRIBUTE)
    if facts is not None and not isinstance(facts, Mapping) and hasattr(facts, "as_dict"):
        facts = facts.as_dict()  # an item's MapAttribute (a stream image has a dict)
    return dict(facts) if isinstance(facts, Mapping) else {}


def last_time(contact: Mapping[str, Any], event: str, campaign_id: str | None = None) -> str | None:
    """When the contact last had `event` (for this campaign, or any); None when never (or,
    for a campaign let go, not among its latest 20)."""
    kind = facts_of(contact).get(event)
    if not isinstance(kind, Mapping):
        return None
    if campaign_id is None:
        found = kind.get("last")
    else:
        campaigns = kind.get("campaigns")
        found = campaigns.get(campaign_id) if isinstance(campaigns, Mapping) else None
    return str(found) if found else None


def engagement_only(change: Change) -> bool:
    """A Contact MODIFY that changed nothing but its engagement facts."""
    if change.event_name != "MODIFY" or change.old is None or change.new is None:
        return False
    names = (set(change.old) | set(change.new)) - {ATTRIBUTE}
    return change.changed(ATTRIBUTE) and not any(change.changed(name) for name in names)


# ---- merging ------------------------------------------------------------------------------


def merge(facts: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any] | None:
    """The facts with these events in, or None when they move nothing (a replay, an older
    event). A time never goes back: each is the later of the two."""
    merged = {name: _copy(value) for name, value in facts.items()}
    moved = False
    for event in events:
        kind = merged.setdefault(event.event, {})
        if _later(event.at, kind.get("last")):
            kind["last"] = event.at
            moved = True
        if event.campaign_id is None:
            continue
        campaigns: dict[str, str] = kind.setdefault("campaigns", {})
        if not _later(event.at, campaigns.get(event.campaign_id)):
            continue
        dropped = kind.get("dropped")
        if event.campaign_id not in campaigns and dropped is not None and event.at <= dropped:
            continue  # older than what was let go already: it would be let go at once
        campaigns[event.campaign_id] = event.at
        moved = True
        _bound(kind, campaigns)
    if not moved:
        return None
    merged["rev"] = int(merged.get("rev") or 0) + 1
    return merged


def _later(candidate: str, current: Any) -> bool:
    return current is None or candidate > str(current)


def _bound(kind: dict[str, Any], campaigns: dict[str, str]) -> None:
    """Keep the MAX_CAMPAIGNS latest campaigns; remember the latest time let go."""
    while len(campaigns) > MAX_CAMPAIGNS:
        oldest = min(campaigns, key=lambda cid: (campaigns[cid], cid))
        at = campaigns.pop(oldest)
        if _later(at, kind.get("dropped")):
            kind["dropped"] = at


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


# ---- writing ------------------------------------------------------------------------------


def record(workspace_id: str, events_by_contact: Mapping[str, list[Event]]) -> int:
    """Merge these events into their contacts' facts: one BatchGetItem of the facts (100 a
    request), one conditional UpdateItem per contact whose facts move. Returns the writes."""
    if not events_by_contact:
        return 0
    keys = [Contact.key(workspace_id, cid) for cid in events_by_contact]
    current = {
        item.id: facts_of(item.attribute_values)
        for item in Contact.batch_get(
            keys, consistent_read=True, attributes_to_get=["pk", "sk", "id", ATTRIBUTE]
        )
    }
    written = 0
    for contact_id, events in events_by_contact.items():
        if contact_id not in current:
            continue  # deleted (or never there): its facts go with it
        written += _write(workspace_id, contact_id, current[contact_id], events)
    return written


def _write(workspace_id: str, contact_id: str, facts: dict[str, Any], events: list[Event]) -> int:
    for _ in range(_RETRIES):
        merged = merge(facts, events)
        if merged is None:
            return 0
        seen = facts.get("rev")
        condition = Contact.pk.exists() & (
            Contact.engagement["rev"] == seen if seen is not None else Contact.engagement.does_not_exist()
        )
        try:
            Contact(*Contact.key(workspace_id, contact_id)).update(
                actions=[Contact.engagement.set(merged)], condition=condition
            )
            return 1
        except UpdateError as error:
            if not is_conditional_failure(error):
                raise
        # Another writer moved the facts (or the contact is gone): read them again.
        found = list(
            Contact.batch_get(
                [Contact.key(workspace_id, contact_id)],
                consistent_read=True,
                attributes_to_get=["pk", "sk", "id", ATTRIBUTE],
            )
        )
        if not found:
            return 0
        facts = facts_of(found[0].attribute_values)
    raise RuntimeError(f"engagement facts of {contact_id} kept moving: the batch comes again")


def forget(workspace_id: str, contact_id: str) -> None:
    """Remove the contact's facts (GDPR erasure: they go with its timeline)."""
    try:
        Contact(*Contact.key(workspace_id, contact_id)).update(
            actions=[Contact.engagement.remove()], condition=Contact.engagement.exists()
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise


# ---- stream reactions ---------------------------------------------------------------------


def on_activity(change: Change, batch: Batch) -> None:
    """An event recorded on a timeline: merged into its contact's facts at the batch's end."""
    new = change.new
    if change.event_name != "INSERT" or not new or str(new.get("kind")) not in EVENTS:
        return
    ws, contact_id = str(new["workspaceId"]), str(new["contactId"])
    campaign = new.get("campaignId")
    event = Event(EVENTS[str(new["kind"])], str(campaign) if campaign else None, str(new["at"]))
    pending: dict[str, dict[str, list[Event]]] = batch.data.setdefault(_PENDING, {})
    pending.setdefault(ws, {}).setdefault(contact_id, []).append(event)
    batch.defer(_PENDING, lambda: _record_all(pending))


def _record_all(pending: dict[str, dict[str, list[Event]]]) -> None:
    for workspace_id, events in pending.items():
        written = record(workspace_id, events)
        logger.debug("engagement facts", extra={"contacts": len(events), "written": written})


def on_contact(change: Change, batch: Batch) -> None:
    """An erased (anonymised) contact loses its facts with its timeline."""
    new = change.new or {}
    if change.event_name == "MODIFY" and change.changed("anonymizedAt") and new.get("anonymizedAt"):
        ws, contact_id = str(new["workspaceId"]), str(new["id"])
        pending: dict[str, dict[str, list[Event]]] = batch.data.get(_PENDING, {})
        pending.get(ws, {}).pop(contact_id, None)
        forget(ws, contact_id)
