"""Group statistics: counters kept by the stream handler, read in one request, recounted daily.

Counting. A group's `totalContacts` and `activeContacts` follow its Membership items: +1 on
an INSERT, -1 on a REMOVE, and `activeContacts` moves when a membership's contact status
changes (chalicelib.groups.memberships.refresh_contact copies a contact's new status onto its memberships, so
a contact's status change reaches its groups as Membership MODIFY records). Only Membership
records count, so a contact's change and its memberships can never be counted twice.

Exactly once. A stream batch may be delivered again (a retry, a replay), whole or from some
record on. Each record that moves a counter leaves a CounterMark (sk SEQ#<eventID>, 2-day
TTL) written with `attribute_not_exists` in the same TransactWriteItems as the counters'
ADD; a record already marked cancels the transaction, is dropped, and the rest is sent
again. The batch's records are summed per group first (`Batch.defer`), so a batch costs one
transaction per group per 98 records, not one write per record. The same transaction marks
the group in the day's GroupChange partition, which is how the daily recount finds the
groups that changed without a Scan.

Recount. `daily_recount` (scheduled, app.py) starts a recount job per group changed since its
last run; the job pages through the memberships, checks their snapshots against the contacts
and compares the count with the counters (chalicelib.flows.group_actions). It repairs a counter
only if the stream did not move it from the count's start to 15 minutes after its end (a record
still pending when counting began would otherwise count twice), and logs every drift it finds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.groups import upkeep
from chalicelib.models.groups import CounterMark, Group, GroupChange, GroupEngagement, RecountState
from chalicelib.platform import clock, ids
from chalicelib.platform.db import Item, connection
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change

ACTIVE = "ACTIVE"
MARK_TTL = timedelta(days=2)
CHANGE_TTL = timedelta(days=8)
# TransactWriteItems takes 100 actions: the counters, the day's change mark, 98 record marks.
MARKS_PER_TRANSACTION = 98
CONFLICT_RETRIES = 4
# Without a previous run, the recount looks this far back.
FIRST_RUN_LOOKBACK = timedelta(days=2)

Event = tuple[str, int, int]  # (stream eventID, total delta, active delta)


# ---- reading ------------------------------------------------------------------------------


def read(workspace_id: str, group_id: str) -> dict[str, Any]:
    """The group's statistics: the Group and its GroupEngagement in one BatchGetItem."""
    if not ids.is_id(group_id):
        raise NotFound("group not found")
    items = list(
        Item.batch_get([Group.key(workspace_id, group_id), GroupEngagement.key(workspace_id, group_id)])
    )
    group = next((item for item in items if isinstance(item, Group)), None)
    if group is None:
        raise NotFound("group not found")
    engagement = next((item for item in items if isinstance(item, GroupEngagement)), None)
    return view(group, engagement)


def view(group: Group, engagement: GroupEngagement | None) -> dict[str, Any]:
    total = max(0, int(group.totalContacts or 0))
    active = min(total, max(0, int(group.activeContacts or 0)))
    return {
        "type": group.groupType,
        "totalContacts": total,
        "activeContacts": active,
        "inactiveContacts": total - active,
        "linkedRunningCampaigns": max(0, int(engagement.linkedRunningCampaigns or 0)) if engagement else 0,
        "lastCampaignSentAt": engagement.lastCampaignSentAt if engagement else None,
        "averageEngagementRate": engagement_rate(engagement),
    }


def engagement_rate(engagement: GroupEngagement | None) -> float | None:
    """Opened (unique) per delivered email of the group's campaigns; None before any send."""
    if engagement is None:
        return None
    base = int(engagement.delivered or 0) or int(engagement.sent or 0)
    if base <= 0:
        return None
    return round(min(1.0, int(engagement.opened or 0) / base), 4)


# ---- counting from the stream -------------------------------------------------------------


def counts(image: Mapping[str, Any] | None) -> tuple[int, int]:
    """What one membership image adds to (total, active): nothing while its contact is
    archived (the snapshot's archivedAt), so archiving a member takes it out of the counts
    and unarchiving puts it back, as Membership MODIFY records."""
    if image is None or image.get("archivedAt"):
        return 0, 0
    return 1, int(image.get("status", ACTIVE) == ACTIVE)


def membership_delta(change: Change) -> tuple[int, int]:
    """How a Membership record moves (total, active)."""
    old = counts(change.old) if change.event_name != "INSERT" else (0, 0)
    new = counts(change.new) if change.event_name != "REMOVE" else (0, 0)
    return new[0] - old[0], new[1] - old[1]


def membership_changed(change: Change, batch: Batch) -> None:
    total, active = membership_delta(change)
    if not total and not active:
        return
    image = change.image
    pending: dict[tuple[str, str], list[Event]] = batch.data.setdefault("group_counters", {})
    pending.setdefault((str(image["workspaceId"]), str(image["groupId"])), []).append(
        (change.event_id, total, active)
    )
    batch.defer("group_counters", lambda: apply(pending))


def apply(pending: dict[tuple[str, str], list[Event]]) -> None:
    for (workspace_id, group_id), events in pending.items():
        for start in range(0, len(events), MARKS_PER_TRANSACTION):
            apply_once(workspace_id, group_id, events[start : start + MARKS_PER_TRANSACTION])


def apply_once(workspace_id: str, group_id: str, events: list[Event]) -> int:
    """Add these records' deltas to the group's counters, skipping records already counted.
    Returns how many records were counted now."""
    remaining = list(events)
    attempt = 0
    while remaining:
        try:
            _transact(workspace_id, group_id, remaining)
            return len(remaining)
        except TransactWriteError as error:
            codes = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            # Puts (the marks) come first in the request, then the two updates.
            if len(codes) > len(remaining) and codes[len(remaining)] == "ConditionalCheckFailed":
                logger.debug("counters of a deleted group not kept", extra={"group_id": group_id})
                return 0
            counted = {
                i for i, code in enumerate(codes[: len(remaining)]) if code == "ConditionalCheckFailed"
            }
            if counted:
                remaining = [event for i, event in enumerate(remaining) if i not in counted]
                continue
            attempt += 1
            if "TransactionConflict" in codes and attempt <= CONFLICT_RETRIES:
                time.sleep(0.05 * 2**attempt)  # another batch is counting the same group
                continue
            raise
    return 0


def _transact(workspace_id: str, group_id: str, events: list[Event]) -> None:
    now = clock.now()
    stamp = clock.iso(now)
    group = Group(*Group.key(workspace_id, group_id))
    change = GroupChange(*GroupChange.key(now.date().isoformat(), workspace_id, group_id))
    with TransactWrite(connection=connection()) as transaction:
        for event_id, _, _ in events:
            mark = CounterMark(*CounterMark.key(workspace_id, group_id, event_id), ttl=now + MARK_TTL)
            transaction.save(mark, condition=CounterMark.pk.does_not_exist())
        transaction.update(
            group,
            [
                Group.totalContacts.add(sum(event[1] for event in events)),
                Group.activeContacts.add(sum(event[2] for event in events)),
                Group.countedAt.set(stamp),
            ],
            condition=Group.pk.exists(),
        )
        transaction.update(
            change,
            [
                GroupChange.type.set(GroupChange),  # an UpdateItem creates it: name its type
                GroupChange.workspaceId.set(workspace_id),
                GroupChange.groupId.set(group_id),
                GroupChange.changedAt.set(stamp),
                GroupChange.ttl.set(now + CHANGE_TTL),
            ],
        )


# ---- the daily recount --------------------------------------------------------------------


def daily_recount(now: datetime | None = None) -> int:
    """Start a recount job for every group whose counters changed since the last run.
    Returns how many were started."""
    started_at = now or clock.now()
    try:
        since = datetime.fromisoformat(RecountState.get(*RecountState.key()).lastRunAt.replace("Z", "+00:00"))
    except DoesNotExist:
        since = started_at - FIRST_RUN_LOOKBACK
    started = 0
    for workspace_id, group_id in changed_groups(since, started_at):
        if upkeep.start_recount(workspace_id, group_id) is not None:
            started += 1
    RecountState(*RecountState.key(), lastRunAt=clock.iso(started_at)).save()
    logger.info("daily group recount started", extra={"groups": started, "since": clock.iso(since)})
    return started


def changed_groups(since: datetime, until: datetime) -> Iterable[tuple[str, str]]:
    """(workspace, group) whose counters changed in [since, until], from the day partitions."""
    seen: set[tuple[str, str]] = set()
    day = since.date()
    while day <= until.date():
        for shard in range(GroupChange.SHARDS):
            for item in GroupChange.query(
                GroupChange.partition(day.isoformat(), shard),
                filter_condition=GroupChange.changedAt >= clock.iso(since),
            ):
                key = (item.workspaceId, item.groupId)
                if key not in seen:
                    seen.add(key)
                    yield key
        day += timedelta(days=1)
