"""Who gets enrolled in which campaign, and the conditional writes that make it happen once.

`enroll` serves every path: a contact joining a DYNAMIC group (stream reaction below), the
pages of a launch or of the groups' addToCampaign action (chalicelib/campaigns/launch.py). For a set of
contacts and target campaigns it reads, in one BatchGetItem, the contacts, their current
enrollments in those campaigns and their memberships in the campaigns' excluded groups;
decides eligibility; then writes each new enrollment with a PutItem conditioned on it not
existing (or, for re-enrollment afterExit, on it having ended in the run we read), several
at once. A replayed record therefore never enrolls twice.

Why single conditional puts and not TransactWriteItems (one request per 100): a transaction
is all or nothing, so one contact enrolled meanwhile fails the 99 others; it costs twice the
write units; and moto copies the whole table for each transaction, which makes a launch on
the local stack slow down as the table grows (10,000 items: 25 s per transaction here).

Eligible = the contact exists, has a valid email, is ACTIVE, has a GRANTED consent when its
workspace requires consent (requireConsent), is not anonymised, is not on
the suppression list (address, domain, erased person: chalicelib.deliverability.suppression), is in none of
the campaign's excluded groups, and is not already enrolled.

An enrollment that exists but never ran its first step (its first-step message may have been
lost in a crash after the write) gets its first-step message again: the step runner ignores
duplicates, so this can only heal, never send twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.campaigns import eligibility, step_messages
from chalicelib.campaigns import service as campaigns
from chalicelib.campaigns import stats as campaign_stats
from chalicelib.campaigns import steps as campaign_steps
from chalicelib.campaigns.eligibility import Ineligible
from chalicelib.deliverability import suppression
from chalicelib.models import keys
from chalicelib.models.campaigns import Campaign, CampaignLink, Enrollment
from chalicelib.models.contacts import Contact
from chalicelib.models.groups import Membership
from chalicelib.models.workspaces import Workspace
from chalicelib.platform import clock, pagination
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.paged_query import query_page
from chalicelib.platform.streams import Batch, Change

# Conditional puts in flight at once: a page of 100 costs the latency of ~7 round trips.
PUT_WORKERS = 16
ALREADY_ENROLLED = Ineligible.ALREADY_ENROLLED.value


@dataclass(frozen=True)
class Target:
    """One campaign to enroll into, as its CampaignLink (or the campaign) describes it."""

    campaign_id: str
    exclude_group_ids: tuple[str, ...] = ()
    reenroll: bool = False  # reenrollment afterExit, and the path is a dynamic-group join


@dataclass
class Outcome:
    created: list[Enrollment] = field(default_factory=list)
    # Enrollments whose first step must be (re)sent: the created ones and the found-unstarted.
    to_start: list[Enrollment] = field(default_factory=list)
    # (contact id, campaign id, reason) of every pair not enrolled.
    skipped: list[tuple[str, str, str]] = field(default_factory=list)


def enroll(
    ws: str,
    contact_ids: list[str],
    targets: list[Target],
    *,
    source: str,
    via_group_id: str | None,
    joined_at: str | None = None,
    emails: Mapping[str, str | None] | None = None,
) -> Outcome:
    """Write the enrollments of every eligible (contact, target); sends nothing (the caller
    counts what was created, then calls step_messages.start(outcome.to_start)).

    `emails` ({contact id: email}, the memberships' snapshots) lets the suppression check
    join the one BatchGetItem; a contact whose email it did not tell costs one more."""
    outcome = Outcome()
    if not contact_ids or not targets:
        return outcome
    excluded = sorted({g for t in targets for g in t.exclude_group_ids})
    checks = suppression.checks_for(ws, [e for e in (emails or {}).values() if e])
    # The workspace rides along: its requireConsent setting, at no extra request.
    wanted = [Workspace.key(ws), *(Contact.key(ws, c) for c in contact_ids)]
    wanted += [Enrollment.key(ws, t.campaign_id, c) for c in contact_ids for t in targets]
    wanted += [Membership.key(ws, g, c) for c in contact_ids for g in excluded]
    wanted += [key for entries in checks.values() for key, _ in entries]
    # Two addresses of one domain share keys, and DynamoDB refuses duplicates in a batch.
    found = list(Item.batch_get(list(dict.fromkeys(wanted)), consistent_read=True))
    contacts = {item.id: item for item in found if isinstance(item, Contact)}
    require_consent = any(isinstance(item, Workspace) and item.requireConsent for item in found)
    existing = {(item.campaignId, item.contactId): item for item in found if isinstance(item, Enrollment)}
    memberships = {(item.groupId, item.contactId) for item in found if isinstance(item, Membership)}
    blocked = suppression.reasons(checks, {(item.pk, item.sk) for item in found})
    unchecked = [c.email for c in contacts.values() if c.email and c.email not in checks]
    if unchecked:
        blocked.update(suppression.suppressed(ws, unchecked))

    now = clock.now_iso()
    writes: list[tuple[Enrollment, Any]] = []
    for contact_id in contact_ids:
        contact = contacts.get(contact_id)
        reason = ineligible(contact, require_consent=require_consent)
        if reason is None and contact is not None:
            reason = blocked.get(str(contact.email))
        if reason:
            outcome.skipped += [(contact_id, t.campaign_id, reason) for t in targets]
            continue
        for target in targets:
            if any((g, contact_id) in memberships for g in target.exclude_group_ids):
                outcome.skipped.append((contact_id, target.campaign_id, Ineligible.EXCLUDED.value))
                continue
            old = existing.get((target.campaign_id, contact_id))
            if old is None:
                condition = Enrollment.pk.does_not_exist()
                run = 1
            elif target.reenroll and old.status != "ACTIVE" and (joined_at or "") > old.enrolledAt:
                # A rejoin after the enrollment ended: the next run, unless another writer
                # started one since we read it.
                condition = (Enrollment.run == int(old.run)) & (Enrollment.status == old.status)
                run = int(old.run) + 1
            else:
                if _unstarted(old):
                    outcome.to_start.append(old)
                outcome.skipped.append((contact_id, target.campaign_id, ALREADY_ENROLLED))
                continue
            item = _new(ws, target.campaign_id, contact_id, run, now, source, via_group_id)
            writes.append((item, condition))

    created, raced = _write(writes)
    outcome.created += created
    outcome.to_start += created + raced
    outcome.skipped += [(e.contactId, e.campaignId, ALREADY_ENROLLED) for e in raced]
    return outcome


def ineligible(contact: Contact | None, *, require_consent: bool = False) -> str | None:
    """Why this contact cannot be enrolled, or None (chalicelib.campaigns.eligibility)."""
    values = None if contact is None else contact.attribute_values
    return eligibility.reason(values, missing=Ineligible.CONTACT_NOT_FOUND, require_consent=require_consent)


def _unstarted(enrollment: Enrollment) -> bool:
    return (
        enrollment.status == "ACTIVE"
        and enrollment.currentStepId == campaign_steps.START
        and enrollment.claimedAt is None
    )


def _new(
    ws: str,
    campaign_id: str,
    contact_id: str,
    run: int,
    now: str,
    source: str,
    via_group_id: str | None,
) -> Enrollment:
    gsi1pk, gsi1sk = Enrollment.contact_key(ws, campaign_id, contact_id)
    return Enrollment(
        *Enrollment.key(ws, campaign_id, contact_id),
        gsi1pk=gsi1pk,
        gsi1sk=gsi1sk,
        workspaceId=ws,
        campaignId=campaign_id,
        contactId=contact_id,
        run=run,
        enrolledAt=now,
        nextStepAt=now,
        source=source,
        viaGroupId=via_group_id,
    )


def _write(writes: list[tuple[Enrollment, Any]]) -> tuple[list[Enrollment], list[Enrollment]]:
    """Put each enrollment under its condition. Returns (created, raced): `raced` were
    written by someone else between our read and our write (their first step is sent again:
    harmless, and it heals a writer that crashed before sending it)."""
    if len(writes) <= 1:
        results = [_put(item, condition) for item, condition in writes]
    else:
        with ThreadPoolExecutor(max_workers=min(PUT_WORKERS, len(writes))) as pool:
            results = list(pool.map(lambda write: _put(*write), writes))
    created = [item for (item, _), done in zip(writes, results, strict=True) if done]
    raced = [item for (item, _), done in zip(writes, results, strict=True) if not done]
    return created, raced


def _put(item: Enrollment, condition: Any) -> bool:
    try:
        item.save(condition=condition)
    except PutError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


# ---- launch and the groups' addToCampaign action -------------------------------------


def enroll_contacts(
    workspace_id: str,
    campaign_id: str,
    contact_ids: list[str],
    *,
    source: str,
    via_group_id: str | None,
    emails: Mapping[str, str | None] | None = None,
) -> list[dict[str, str]]:
    """Enroll these members of group `via_group_id` (one page of a launch or addToCampaign
    job); returns one {"contactId", "reason"} per contact not enrolled for a reason other
    than already being enrolled (the job's report). Idempotent: a page run again enrolls,
    counts and sends nothing twice, and re-sends only first steps that never ran."""
    return enroll_counted(
        workspace_id, campaign_id, contact_ids, source=source, via_group_id=via_group_id, emails=emails
    )[1]


def enroll_counted(
    workspace_id: str,
    campaign_id: str,
    contact_ids: list[str],
    *,
    source: str,
    via_group_id: str | None,
    emails: Mapping[str, str | None] | None = None,
) -> tuple[int, list[dict[str, str]]]:
    """enroll_contacts, with how many it enrolled (none through a group: a bulk action on a
    filter, counted by no group's row of the campaign's stats)."""
    try:
        campaign = campaigns.get(workspace_id, campaign_id)
    except NotFound:
        return 0, [{"contactId": c, "reason": "campaignDeleted"} for c in contact_ids]
    if campaign.status not in (campaigns.RUNNING, campaigns.PAUSED):
        return 0, [{"contactId": c, "reason": f"campaign{campaign.status.title()}"} for c in contact_ids]
    target = Target(campaign_id, tuple(campaign.excludeGroupIds))
    outcome = enroll(
        workspace_id, contact_ids, [target], source=source, via_group_id=via_group_id, emails=emails
    )
    campaign_stats.add_enrolled(workspace_id, campaign_id, via_group_id, len(outcome.created))
    step_messages.start(outcome.to_start)
    return len(outcome.created), [
        {"contactId": c, "reason": reason} for c, _, reason in outcome.skipped if reason != ALREADY_ENROLLED
    ]


# ---- stream reactions -------------------------------------------------------------------


def on_membership(change: Change, batch: Batch) -> None:
    """A contact joined a DYNAMIC group: enroll it in the RUNNING campaigns that include it.
    It left a group: stop its enrollments that came through it in campaigns that say
    `stopWhenLeaving`."""
    if change.event_name == "REMOVE" and change.old:
        _left(change.old)
        return
    member = change.new
    if change.event_name != "INSERT" or not member or member.get("groupType") != "DYNAMIC":
        return
    ws, group_id, contact_id = member["workspaceId"], member["groupId"], member["contactId"]
    links = CampaignLink.query(
        keys.group_partition(ws, group_id),
        CampaignLink.sk.startswith("CAMPAIGN#"),
        filter_condition=(CampaignLink.role == "include") & (CampaignLink.status == campaigns.RUNNING),
    )
    joined = str(member.get("joinedAt") or "")
    targets = [
        Target(link.campaignId, tuple(link.excludeGroupIds), link.reenrollment == "afterExit")
        for link in links
        if not launched_after(link, joined)
    ]
    outcome = enroll(
        ws,
        [contact_id],
        targets,
        source="dynamicGroup",
        via_group_id=group_id,
        joined_at=member.get("joinedAt"),
        emails={contact_id: member.get("email")},
    )
    # Counted before the first steps are sent: if sending fails, this record is delivered
    # again but its enrollments exist by then (not counted twice), while the batch's deferred
    # work still runs for the records up to this one (chalicelib/platform/streams.py).
    counts = _pending_counts(batch)
    for item in outcome.created:
        counts[(ws, item.campaignId, group_id)] += 1
    batch.defer(_COUNTS, lambda: _flush(counts))
    step_messages.start(outcome.to_start)


def launched_after(link: CampaignLink, joined_at: str) -> bool:
    """The member joined by the campaign's launch moment: the launch job enrolls it (source
    "launch"), not this reaction, even when this record is read after the launch."""
    return bool(link.launchedAt and joined_at and joined_at <= link.launchedAt)


_COUNTS = "enrollment.counts"


def _pending_counts(batch: Batch) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = batch.data.setdefault(_COUNTS, Counter())
    return counts


def _flush(counts: Counter[tuple[str, str, str]]) -> None:
    """One UpdateItem per (campaign, group) counter for the whole batch."""
    for (ws, campaign_id, group_id), count in list(counts.items()):
        campaign_stats.add_enrolled(ws, campaign_id, group_id, count)
        del counts[(ws, campaign_id, group_id)]


def on_contact(change: Change, batch: Batch) -> None:
    """Stop the contact's active enrollments when it can no longer receive campaign email."""
    reason = _stop_reason(change)
    if reason is None:
        return
    image = change.image
    stop_all(str(image["workspaceId"]), str(image["id"]), reason)


def _stop_reason(change: Change) -> str | None:
    return eligibility.stop_on_change(change.event_name, change.old, change.new)


def _left(member: dict[str, Any]) -> None:
    """Stop (leftGroup) the contact's ACTIVE enrollments through this group whose campaign
    says stopWhenLeaving: one Query of its enrollments, one BatchGetItem of their campaigns."""
    ws, group_id, contact_id = str(member["workspaceId"]), str(member["groupId"]), str(member["contactId"])
    through = [e for e in _active_enrollments(ws, contact_id) if getattr(e, "viaGroupId", None) == group_id]
    if not through:
        return
    found = Campaign.batch_get([Campaign.key(ws, cid) for cid in {e.campaignId for e in through}])
    stopping = {c.id for c in found if c.stopWhenLeaving and not _moved(ws, contact_id, group_id, c)}
    now = clock.now_iso()
    for item in through:
        if item.campaignId not in stopping:
            continue
        try:
            item.update(
                actions=[
                    Enrollment.status.set("STOPPED"),
                    Enrollment.stopReason.set(Ineligible.LEFT_GROUP.value),
                    Enrollment.endedAt.set(now),
                    Enrollment.nextStepAt.remove(),
                ],
                condition=Enrollment.status == "ACTIVE",
            )
        except UpdateError as error:
            if not is_conditional_failure(error):
                raise


def _moved(ws: str, contact_id: str, group_id: str, campaign: Campaign) -> bool:
    """The campaign no longer names the group the contact left (it was merged into another,
    chalicelib.flows.group_merge) and the contact is in a group the campaign includes: it
    moved with its group rather than left. One BatchGetItem, only in that rare case."""
    included = list(campaign.includeGroupIds or [])
    if group_id in included or not included:
        return False
    return any(True for _ in Membership.batch_get([Membership.key(ws, g, contact_id) for g in included]))


def stop_all(ws: str, contact_id: str, reason: str) -> int:
    """Stop every ACTIVE enrollment of a contact (one Query on gsi1, one update each)."""
    stopped = 0
    now = clock.now_iso()
    for item in _active_enrollments(ws, contact_id):
        try:
            item.update(
                actions=[
                    Enrollment.status.set("STOPPED"),
                    Enrollment.stopReason.set(reason),
                    Enrollment.endedAt.set(now),
                    Enrollment.nextStepAt.remove(),
                ],
                condition=Enrollment.status == "ACTIVE",
            )
            stopped += 1
        except UpdateError as error:
            if not is_conditional_failure(error):
                raise
    if stopped:
        logger.info(
            "enrollments stopped", extra={"contact_id": contact_id, "reason": reason, "count": stopped}
        )
    return stopped


def _active_enrollments(ws: str, contact_id: str) -> Iterable[Any]:
    return Item.gsi1.query(
        keys.contact_partition(ws, contact_id),
        Enrollment.gsi1sk.startswith("ENROLL#"),
        filter_condition=Enrollment.status == "ACTIVE",
    )


# ---- reading ----------------------------------------------------------------------------


def view(item: Enrollment, campaign_name: str | None = None) -> dict[str, Any]:
    return {
        "campaignId": item.campaignId,
        "campaignName": campaign_name,
        "contactId": item.contactId,
        "status": item.status,
        "currentStep": int(item.currentStep),
        "nextStepAt": item.nextStepAt if item.status == "ACTIVE" else None,
        "enrolledAt": item.enrolledAt,
        "source": item.source,
        "viaGroupId": item.viaGroupId,
        "stopReason": item.stopReason,
        "emailsSent": int(item.emailsSent or 0),
        "run": int(item.run),
    }


def campaign_page(
    ws: str, campaign_id: str, limit: int, cursor: str | None, status: str | None
) -> tuple[list[Enrollment], str | None]:
    """A page of the campaign's enrollments, by contact id (one Query of its partition)."""
    scope = f"enrollments:{ws}:{campaign_id}:{status or ''}"
    # One Query a page (a status filter may give a short page whose cursor goes on), never
    # PynamoDB's iteration over the partition until `limit` items match.
    page = query_page(
        Enrollment,
        keys.campaign_partition(ws, campaign_id),
        Enrollment.sk.startswith("ENROLL#"),
        limit=limit,
        filter_condition=(Enrollment.status == status) if status else None,
        start_key=pagination.decode(cursor, scope),
    )
    return page.items, pagination.encode(page.last_key, scope)


def contact_page(
    ws: str, contact_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the contact's enrollments (one Query on gsi1) with their campaigns' names
    (one BatchGetItem); 404 when the contact is not in the workspace."""
    if not list(Item.batch_get([Contact.key(ws, contact_id)])):
        raise NotFound("contact not found")
    scope = f"contact-enrollments:{ws}:{contact_id}"
    results = Item.gsi1.query(
        keys.contact_partition(ws, contact_id),
        Item.gsi1sk.startswith("ENROLL#"),
        limit=limit,
        page_size=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
    )
    items = [item for item in results if isinstance(item, Enrollment)]
    wanted = {Campaign.key(ws, item.campaignId) for item in items}
    names = {c.id: c.name for c in Campaign.batch_get(wanted)} if wanted else {}
    return [view(item, names.get(item.campaignId)) for item in items], pagination.encode(
        results.last_evaluated_key, scope
    )
