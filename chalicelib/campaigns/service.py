"""Campaigns: create, read, edit, delete, and the state machine
DRAFT → RUNNING ⇄ PAUSED → COMPLETED.

Every write that changes what enrollment must know (status, groups, exclusions, re-enrollment
policy) rewrites the campaign's CampaignLink items in the same transaction, so "the RUNNING
campaigns linked to a group" is one Query of the group's partition and is never stale. The
same transaction moves GroupEngagement.linkedRunningCampaigns. What a transition sets off
(the launch's enrollment jobs, releasing parked steps on resume or completion, removing a
deleted campaign's items) is started by the campaign's own stream record
(chalicelib/campaigns/launch.py), so a transition that committed is never left half done.

Decisions where the brief left a choice:
- COMPLETED comes only from PATCH {"status": "COMPLETED"} (from RUNNING or PAUSED): with
  dynamic groups new members may join at any time, so "all enrollments finished" is not an
  end a campaign can detect. Active enrollments then stop with stopReason
  "campaignCompleted" when their next step comes up.
- What can change when: name always; fromEmail and steps in DRAFT and PAUSED; groups and
  re-enrollment policy in DRAFT only (a running campaign's audience is fixed by its launch).
- DELETE only in DRAFT or COMPLETED; the campaign's enrollments, counters and parked steps
  are then removed in pages through the jobs queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.campaigns import stats as campaign_stats
from chalicelib.campaigns import steps as campaign_steps
from chalicelib.deliverability import senders
from chalicelib.models import keys
from chalicelib.models.campaigns import Campaign, CampaignLink
from chalicelib.models.groups import Group, GroupEngagement
from chalicelib.platform import clock, ids
from chalicelib.platform.db import cancellation_reasons, connection, is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound, ValidationFailed, field_error
from chalicelib.platform.paged_query import cursor_page

if TYPE_CHECKING:
    from chalicelib.schemas.campaigns import CampaignCreate, CampaignPatch

DRAFT, RUNNING, PAUSED, COMPLETED = "DRAFT", "RUNNING", "PAUSED", "COMPLETED"

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "launch": (frozenset({DRAFT}), RUNNING),
    "pause": (frozenset({RUNNING}), PAUSED),
    "resume": (frozenset({PAUSED}), RUNNING),
    "complete": (frozenset({RUNNING, PAUSED}), COMPLETED),
}
EDITABLE: dict[str, frozenset[str]] = {
    "name": frozenset({DRAFT, RUNNING, PAUSED, COMPLETED}),
    "from_email": frozenset({DRAFT, PAUSED}),
    "steps": frozenset({DRAFT, PAUSED}),
    "include_group_ids": frozenset({DRAFT}),
    "exclude_group_ids": frozenset({DRAFT}),
    "reenrollment": frozenset({DRAFT}),
    "stop_when_leaving": frozenset({DRAFT, RUNNING, PAUSED}),
}


# ---- reads ------------------------------------------------------------------------------


def get(ws: str, campaign_id: str) -> Campaign:
    try:
        return Campaign.get(*Campaign.key(ws, campaign_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("campaign not found") from None


def list_page(
    ws: str, limit: int, cursor: str | None, status: str | None
) -> tuple[list[Campaign], str | None]:
    # One Query a page: with a status filter, a page may hold fewer than `limit` (its cursor
    # goes on), never the whole partition read in one request.
    return cursor_page(
        Campaign,
        keys.workspace(ws),
        Campaign.sk.startswith("CAMPAIGN#"),
        limit=limit,
        filter_condition=(Campaign.status == status) if status else None,
        scope=f"campaigns:{ws}:{status or ''}",
        cursor=cursor,
    )


def view(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "fromEmail": campaign.fromEmail,
        "steps": [campaign_steps.to_wire(step) for step in campaign.steps],
        "includeGroupIds": list(campaign.includeGroupIds),
        "excludeGroupIds": list(campaign.excludeGroupIds),
        "reenrollment": campaign.reenrollment,
        "stopWhenLeaving": bool(campaign.stopWhenLeaving),
        "createdAt": campaign.createdAt,
        "updatedAt": campaign.updatedAt,
        "launchedAt": campaign.launchedAt,
        "completedAt": campaign.completedAt,
    }


# ---- writes -----------------------------------------------------------------------------


def create(ws: str, body: CampaignCreate) -> Campaign:
    _check_groups(ws, body.include_group_ids, body.exclude_group_ids)
    campaign_id = ids.new_id()
    now = clock.now_iso()
    campaign = Campaign(
        *Campaign.key(ws, campaign_id),
        id=campaign_id,
        workspaceId=ws,
        name=body.name,
        fromEmail=body.from_email,
        steps=campaign_steps.to_stored(body.steps, known_ids=set()),
        includeGroupIds=body.include_group_ids,
        excludeGroupIds=body.exclude_group_ids,
        reenrollment=body.reenrollment,
        stopWhenLeaving=body.stop_when_leaving,
        createdAt=now,
        updatedAt=now,
    )
    _commit(campaign, before=None)
    return campaign


def update(ws: str, campaign_id: str, patch: CampaignPatch) -> Campaign:
    campaign = get(ws, campaign_id)
    given = patch.model_fields_set - {"status"}
    for name in given:
        if campaign.status not in EDITABLE[name]:
            raise _conflict(campaign, f"{_wire(name)} cannot change while the campaign is {campaign.status}")
    before = _snapshot(campaign)
    if "include_group_ids" in given or "exclude_group_ids" in given:
        include = patch.include_group_ids if "include_group_ids" in given else list(campaign.includeGroupIds)
        exclude = patch.exclude_group_ids if "exclude_group_ids" in given else list(campaign.excludeGroupIds)
        both = sorted(set(include or []) & set(exclude or []))
        if both:
            raise field_error(
                "excludeGroupIds", f"a group cannot be both included and excluded: {', '.join(both)}"
            )
        _check_groups(ws, include or [], exclude or [])
        campaign.includeGroupIds, campaign.excludeGroupIds = include, exclude
    if "name" in given:
        campaign.name = patch.name
    if "from_email" in given:
        campaign.fromEmail = patch.from_email
    if "reenrollment" in given:
        campaign.reenrollment = patch.reenrollment
    if "stop_when_leaving" in given and patch.stop_when_leaving is not None:
        campaign.stopWhenLeaving = patch.stop_when_leaving
    if "steps" in given:
        campaign.steps = campaign_steps.to_stored(patch.steps or [], known_ids={s.id for s in campaign.steps})
    if patch.status == COMPLETED:
        _transition(campaign, "complete")
    campaign.updatedAt = clock.now_iso()
    _commit(campaign, before=before)
    return campaign


def launch(ws: str, campaign_id: str) -> Campaign:
    campaign = get(ws, campaign_id)
    before = _snapshot(campaign)
    _transition(campaign, "launch")
    problems = []
    if not campaign.includeGroupIds:
        problems.append({"field": "includeGroupIds", "message": "include at least one group to launch"})
    if not campaign_steps.email_count(list(campaign.steps)):
        problems.append({"field": "steps", "message": "add at least one email step to launch"})
    if not problems:
        try:
            senders.require_verified(ws, campaign.fromEmail)
        except ValidationFailed as unverified:
            problems.extend(unverified.details)
    if problems:
        raise ValidationFailed(f"{problems[0]['field']}: {problems[0]['message']}", problems)
    campaign.launchedAt = campaign.updatedAt = clock.now_iso()
    _commit(campaign, before=before)
    return campaign


def pause(ws: str, campaign_id: str) -> Campaign:
    return _act(ws, campaign_id, "pause")


def resume(ws: str, campaign_id: str) -> Campaign:
    paused = get(ws, campaign_id)
    if paused.status == "PAUSED":  # otherwise the transition's own 409 answers
        senders.require_verified(ws, paused.fromEmail)
    return _act(ws, campaign_id, "resume")


def delete(ws: str, campaign_id: str) -> None:
    campaign = get(ws, campaign_id)
    if campaign.status not in (DRAFT, COMPLETED):
        raise _conflict(campaign, f"a {campaign.status} campaign cannot be deleted; complete it first")
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.delete(campaign)
            for group_id, _role in _links_of(campaign):
                transaction.delete(CampaignLink(*CampaignLink.key(ws, group_id, campaign.id)))
    except TransactWriteError as error:
        raise _changed(error) from None


def forget_group(ws: str, group_id: str) -> list[str]:
    """Take a group that is being deleted out of every campaign that names it (include or
    exclude): its links go, its engagement counter is settled, the campaigns' enrollments
    carry on. One Query of the group's links, then each campaign's own write (retried when
    an edit raced it). Returns the campaigns' ids."""

    def without(campaign: Campaign) -> None:
        campaign.includeGroupIds = [g for g in campaign.includeGroupIds if g != group_id]
        campaign.excludeGroupIds = [g for g in campaign.excludeGroupIds if g != group_id]

    return _edit_linked(ws, group_id, without)


def replace_group(ws: str, group_id: str, by: str) -> list[str]:
    """Name group `by` instead of `group_id` in every campaign that names it (include or
    exclude; a group merged into another). Its links move in each campaign's own write
    (retried when an edit raced it); a campaign that would then include and exclude `by`
    only loses `group_id`. Run again, it finds no campaign. Returns the campaigns' ids."""

    def swapped(campaign: Campaign) -> None:
        include = _swap(campaign.includeGroupIds, group_id, by)
        exclude = _swap(campaign.excludeGroupIds, group_id, by)
        if by in include and by in exclude:
            include = [g for g in campaign.includeGroupIds if g != group_id]
            exclude = [g for g in campaign.excludeGroupIds if g != group_id]
        campaign.includeGroupIds, campaign.excludeGroupIds = include, exclude

    return _edit_linked(ws, group_id, swapped)


def _edit_linked(ws: str, group_id: str, edit: Callable[[Campaign], None]) -> list[str]:
    """`edit` each campaign linked to the group and commit it (links follow its group ids);
    an edit that raced ours is read again and redone, up to three times. The campaigns' ids."""
    links = CampaignLink.query(keys.group_partition(ws, group_id), CampaignLink.sk.startswith("CAMPAIGN#"))
    changed = []
    for link in links:
        for _ in range(3):
            try:
                campaign = get(ws, link.campaignId)
            except NotFound:
                break
            before = _snapshot(campaign)
            edit(campaign)
            campaign.updatedAt = clock.now_iso()
            try:
                _commit(campaign, before=before)
            except Conflict:
                continue
            changed.append(campaign.id)
            break
    return changed


def _swap(group_ids: list[str], old: str, new: str) -> list[str]:
    return list(dict.fromkeys(new if g == old else g for g in group_ids))


def roles_of(ws: str, group_id: str) -> dict[str, str]:
    """campaign id -> the role ("include" | "exclude") the group has in it (one Query)."""
    links = CampaignLink.query(keys.group_partition(ws, group_id), CampaignLink.sk.startswith("CAMPAIGN#"))
    return {link.campaignId: link.role for link in links}


# ---- internals --------------------------------------------------------------------------


def _act(ws: str, campaign_id: str, action: str) -> Campaign:
    campaign = get(ws, campaign_id)
    before = _snapshot(campaign)
    _transition(campaign, action)
    campaign.updatedAt = clock.now_iso()
    _commit(campaign, before=before)
    return campaign


def _transition(campaign: Campaign, action: str) -> None:
    allowed, target = TRANSITIONS[action]
    if campaign.status not in allowed:
        raise _conflict(
            campaign,
            f"cannot {action} a {campaign.status} campaign (allowed from {', '.join(sorted(allowed))})",
        )
    campaign.status = target
    if target == COMPLETED:
        campaign.completedAt = clock.now_iso()


def _conflict(campaign: Campaign, message: str) -> Conflict:
    return Conflict(message, [{"field": "status", "status": campaign.status, "campaignId": campaign.id}])


def _wire(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_groups(ws: str, include: list[str], exclude: list[str]) -> None:
    """422 naming every group id that is not a group of this workspace (one BatchGetItem)."""
    wanted = list(dict.fromkeys([*include, *exclude]))
    if not wanted:
        return
    found = {group.id for group in Group.batch_get([Group.key(ws, gid) for gid in wanted])}
    details = [
        {"field": f"{field}.{i}", "message": "group not found", "groupId": gid}
        for field, values in (("includeGroupIds", include), ("excludeGroupIds", exclude))
        for i, gid in enumerate(values)
        if gid not in found
    ]
    if details:
        raise ValidationFailed(f"{details[0]['field']}: group {details[0]['groupId']} not found", details)


Snapshot = tuple[str, tuple[str, ...], tuple[str, ...], str]


def _snapshot(campaign: Campaign) -> Snapshot:
    """What the links depend on, before a change."""
    return (
        campaign.status,
        tuple(campaign.includeGroupIds),
        tuple(campaign.excludeGroupIds),
        campaign.reenrollment,
    )


def _links_of(campaign: Campaign) -> list[tuple[str, str]]:
    return [(g, "include") for g in campaign.includeGroupIds] + [
        (g, "exclude") for g in campaign.excludeGroupIds
    ]


def _commit(campaign: Campaign, before: Snapshot | None) -> None:
    """Save the campaign (version-checked) with its links and engagement counters in one
    transaction when any of them change; a plain conditional save otherwise."""
    after = _snapshot(campaign)
    if before == after:
        try:
            campaign.save()
        except PutError as error:
            if is_conditional_failure(error):
                raise _changed(error) from None
            raise
        return
    ws = campaign.workspaceId
    was_running = before is not None and before[0] == RUNNING
    running = campaign.status == RUNNING
    old_include = set(before[1]) if before else set()
    old_groups = old_include | (set(before[2]) if before else set())
    links = _links_of(campaign)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(campaign)
            for group_id, role in links:
                link = CampaignLink(
                    *CampaignLink.key(ws, group_id, campaign.id),
                    campaignId=campaign.id,
                    role=role,
                    status=campaign.status,
                    excludeGroupIds=list(campaign.excludeGroupIds),
                    reenrollment=campaign.reenrollment,
                    launchedAt=campaign.launchedAt,
                )
                transaction.save(link)
            for group_id in old_groups - {g for g, _ in links}:
                transaction.delete(CampaignLink(*CampaignLink.key(ws, group_id, campaign.id)))
            for group_id in old_include | set(campaign.includeGroupIds):
                delta = int(running and group_id in campaign.includeGroupIds) - int(
                    was_running and group_id in old_include
                )
                if delta:
                    engagement = GroupEngagement(*GroupEngagement.key(ws, group_id))
                    transaction.update(engagement, actions=campaign_stats.running_actions(delta))
    except TransactWriteError as error:
        raise _changed(error) from None


def _changed(error: Exception) -> Exception:
    """A lost race with another edit becomes a 409; anything else is not ours to explain."""
    if is_conditional_failure(error) or "ConditionalCheckFailed" in cancellation_reasons(error):
        return Conflict("the campaign changed meanwhile; read it again and retry", [{"field": "version"}])
    if "TransactionConflict" in cancellation_reasons(error):
        return Conflict("the campaign is being changed by another request; retry", [{"field": "version"}])
    return error
