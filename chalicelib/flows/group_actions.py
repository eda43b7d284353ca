"""Bulk actions on a whole group, run as jobs (chalicelib.groups.jobs) page by page over its members:

- `applyTags`: add tags to every member contact;
- `addToCampaign`: handed to the campaign engine's own job (chalicelib.campaigns.enrollment);
- `deleteContacts`: delete every member contact from the workspace (needs `"confirm": true`);

and the group's own upkeep, run the same way: removing the memberships of a deleted group,
copying a renamed group's name onto its memberships, and the daily recount of its counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from chalicelib.groups import jobs, memberships
from chalicelib.groups import service as groups
from chalicelib.models.groups import Group, Membership
from chalicelib.models.jobs import Job
from chalicelib.platform import clock, config, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import ApiError, NotFound, field_error
from chalicelib.platform.logs import logger

if TYPE_CHECKING:
    from chalicelib.schemas.groups import GroupAction

ACTIVE = "ACTIVE"
# A drift found by a recount is repaired this much later, and only if the counters did not
# move meanwhile: a membership written before the count whose stream record was not applied
# yet is counted by the recount but not yet by the counters; repaired at once, the record's
# +1 would then come on top. SQS's longest delay, far beyond the stream's usual lag.
SETTLE_SECONDS = 900
CONFIRM_KIND = "group.recount.confirm"


def start(workspace_id: str, group_id: str, action: GroupAction) -> str:
    """Check the action's arguments and start its job; returns the job id."""
    group = groups.get(workspace_id, group_id)
    total = max(0, int(group.totalContacts or 0))
    if action.action == "applyTags":
        tags = _tags(action.tags)
        return jobs.start(workspace_id, "applyTags", group_id, total=total, params={"tags": tags}).id
    if action.action == "addToCampaign":
        if not action.campaign_id:
            raise field_error("campaignId", "is required for addToCampaign")
        from chalicelib.campaigns import enrollment

        # The campaign engine's own paged job (404 unknown campaign, 409 unless RUNNING/PAUSED).
        return enrollment.enroll_group(workspace_id, action.campaign_id, group_id, source="manual")
    if action.confirm is not True:
        raise field_error(
            "confirm", "must be true: this deletes every contact of the group from the workspace"
        )
    return jobs.start(workspace_id, "deleteContacts", group_id, total=total).id


def _tags(given: Sequence[str] | None) -> list[str]:
    """The tags (checked like a contact's by the schema), duplicates dropped."""
    if not given:
        raise field_error("tags", "is required for applyTags")
    return list(dict.fromkeys(given))


# ---- the actions' pages -------------------------------------------------------------------


@jobs.kind("applyTags", page_size=200)
def apply_tags_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    from chalicelib.contacts.service import MAX_ATTEMPTS, get_many, merged_tags
    from chalicelib.contacts.store import WriteRejected, commit, pack, plan, state_of

    tags = [str(tag) for tag in jobs.params(job)["tags"]]
    errors: list[dict[str, str]] = []
    pending = [m.contactId for m in members]
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            break
        writes = []
        for contact in get_many(job.workspaceId, pending).values():
            before = state_of(contact)
            if before.get("anonymizedAt") or set(tags) <= set(before["tags"]):
                continue
            try:
                after = {**before, "tags": merged_tags(before["tags"], tags), "updatedAt": clock.now_iso()}
            except ApiError as error:
                errors.append({"contactId": contact.id, "reason": error.message})
                continue
            writes.append(plan(before, after))
        retry: list[str] = []
        for batch in pack(writes):
            try:
                commit(job.workspaceId, batch)
            except WriteRejected:
                # Someone changed one of these contacts meanwhile: read them again.
                retry.extend(write.contact_id for write in batch)
        pending = retry
    errors.extend({"contactId": cid, "reason": "kept changing; tags not applied"} for cid in pending)
    return jobs.PageResult(processed=len(members), errors=errors)


@jobs.kind("deleteContacts", page_size=200)
def delete_contacts_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    from chalicelib.contacts import service as contacts

    errors: list[dict[str, str]] = []
    for member in members:
        try:
            contacts.delete(job.workspaceId, member.contactId)
        except NotFound:
            pass  # deleted already (a page run again, or by someone else)
        except ApiError as error:
            errors.append({"contactId": member.contactId, "reason": error.message})
    return jobs.PageResult(processed=len(members), errors=errors)


# ---- upkeep -------------------------------------------------------------------------------


def start_member_cleanup(workspace_id: str, group: Group, start_key: dict[str, Any]) -> str:
    """Remove the remaining memberships of a deleted group."""
    total = max(0, int(group.totalContacts or 0) - groups.INLINE_DELETE_MEMBERS)
    return jobs.start(workspace_id, "memberCleanup", group.id, total=total, start_key=start_key).id


@jobs.kind("memberCleanup", page_size=500, consistent=True)
def member_cleanup_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    with Membership.batch_write() as batch:
        for member in members:
            batch.delete(member)
    return jobs.PageResult(processed=len(members))


def refresh_member_snapshots(group: Group) -> str:
    """Copy the group's new name, color and type onto its memberships (a contact's groups)."""
    total = max(0, int(group.totalContacts or 0))
    return jobs.start(group.workspaceId, "refreshGroup", group.id, total=total).id


@jobs.kind("refreshGroup", page_size=500)
def refresh_group_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    try:
        group = groups.get(job.workspaceId, job.groupId, consistent=True)
    except NotFound:
        return jobs.PageResult(processed=len(members))  # deleted meanwhile: its cleanup follows
    for member in members:
        memberships.refresh_group(member, group)
    return jobs.PageResult(processed=len(members))


def start_recount(workspace_id: str, group_id: str) -> str | None:
    """Recount a group's members; None if the group is gone. The counters as they are now
    are the baseline: the repair happens only if the stream has not moved them since."""
    try:
        group = groups.get(workspace_id, group_id, consistent=True)
    except NotFound:
        return None
    baseline = {"total": int(group.totalContacts or 0), "active": int(group.activeContacts or 0)}
    return jobs.start(
        workspace_id, "recount", group_id, total=baseline["total"], params={"baseline": baseline}
    ).id


@jobs.kind("recount", page_size=500, consistent=True, finish=lambda job: finish_recount(job))
def recount_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    """Count the members as their snapshots say (what the counters follow), and mend what
    the snapshots got wrong; the stream then moves the counters for each mend, so the count
    stays the one to compare with."""
    contacts = memberships.contacts_by_id(job.workspaceId, [m.contactId for m in members])
    active = 0
    for member in members:
        active += member.status == ACTIVE
        contact = contacts.get(member.contactId)
        if contact is None:
            logger.warning("membership of a deleted contact removed", extra={"contact_id": member.contactId})
            member.delete()
        elif memberships.snapshot_stale(member, contact):
            memberships.refresh_membership(member, contact)
    return jobs.PageResult(processed=len(members), counts={"total": len(members), "active": active})


def finish_recount(job: Job) -> None:
    totals = jobs.state(job)
    counted = {"total": totals.get("total", 0), "active": totals.get("active", 0)}
    baseline = {name: int(value) for name, value in jobs.params(job)["baseline"].items()}
    extra = {
        "group_id": job.groupId,
        "workspace_id": job.workspaceId,
        "counted": counted,
        "baseline": baseline,
    }
    if counted == baseline:
        logger.info("group counters checked: no drift", extra=extra)
        return
    message = {
        "kind": CONFIRM_KIND,
        "workspaceId": job.workspaceId,
        "groupId": job.groupId,
        "counted": counted,
        "baseline": baseline,
    }
    queues.send(config.jobs_queue_url(), [message], SETTLE_SECONDS)
    logger.info("group counters differ from the count; repair once the stream has settled", extra=extra)


@queues.handles(CONFIRM_KIND)
def confirm_repair(message: dict[str, Any]) -> None:
    """Set the counters to the recount's figures, unless the stream moved them since the
    count began (then the difference was lag, or the next recount will see it again)."""
    counted, baseline = message["counted"], message["baseline"]
    extra = {"group_id": message["groupId"], "counted": counted, "baseline": baseline}
    group = Group(*Group.key(message["workspaceId"], message["groupId"]))
    try:
        group.update(
            [Group.totalContacts.set(counted["total"]), Group.activeContacts.set(counted["active"])],
            condition=Group.pk.exists()
            & (Group.totalContacts == baseline["total"])
            & (Group.activeContacts == baseline["active"]),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
        logger.info("group counters moved since the recount; left to the next run", extra=extra)
        return
    logger.warning("group counters drifted; repaired", extra=extra)
