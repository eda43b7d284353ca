"""A group's own upkeep, run as jobs (chalicelib.groups.jobs) page by page over its members:
removing the memberships of a deleted group, copying a renamed group's name onto its
memberships, and the daily recount of its counters (with its delayed repair message).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.groups import jobs, snapshots
from chalicelib.groups.members import contacts_by_id
from chalicelib.models.groups import Group, Membership
from chalicelib.models.jobs import Job
from chalicelib.platform import config, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.logs import logger

ACTIVE = "ACTIVE"
# A drift found by a recount is repaired this much later, and only if the counters did not
# move meanwhile: a membership written before the count whose stream record was not applied
# yet is counted by the recount but not yet by the counters; repaired at once, the record's
# +1 would then come on top. SQS's longest delay, far beyond the stream's usual lag.
SETTLE_SECONDS = 900
CONFIRM_KIND = "group.recount.confirm"
MEMBER_CLEANUP, REFRESH_GROUP, RECOUNT = "memberCleanup", "refreshGroup", "recount"


def _group(workspace_id: str, group_id: str) -> Group | None:
    try:
        return Group.get(*Group.key(workspace_id, group_id), consistent_read=True)
    except DoesNotExist:
        return None


def start_member_cleanup(workspace_id: str, group: Group, start_key: dict[str, Any], total: int) -> str:
    """Remove the remaining memberships (about `total`) of a deleted group."""
    return jobs.start(workspace_id, MEMBER_CLEANUP, group.id, total=total, start_key=start_key).id


def member_cleanup_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    with Membership.batch_write() as batch:
        for member in members:
            batch.delete(member)
    return jobs.PageResult(processed=len(members))


def refresh_member_snapshots(group: Group) -> str:
    """Copy the group's new name, color and type onto its memberships (a contact's groups)."""
    total = max(0, int(group.totalContacts or 0))
    return jobs.start(group.workspaceId, REFRESH_GROUP, group.id, total=total).id


def refresh_group_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    group = _group(job.workspaceId, job.groupId)
    if group is None:
        return jobs.PageResult(processed=len(members))  # deleted meanwhile: its cleanup follows
    for member in members:
        snapshots.refresh_group(member, group)
    return jobs.PageResult(processed=len(members))


def start_recount(workspace_id: str, group_id: str) -> str | None:
    """Recount a group's members; None if the group is gone. The counters as they are now
    are the baseline: the repair happens only if the stream has not moved them since."""
    group = _group(workspace_id, group_id)
    if group is None:
        return None
    baseline = {"total": int(group.totalContacts or 0), "active": int(group.activeContacts or 0)}
    return jobs.start(
        workspace_id, RECOUNT, group_id, total=baseline["total"], params={"baseline": baseline}
    ).id


def recount_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    """Count the members as their snapshots say (what the counters follow), and mend what
    the snapshots got wrong; the stream then moves the counters for each mend, so the count
    stays the one to compare with."""
    contacts = contacts_by_id(job.workspaceId, [m.contactId for m in members])
    total = active = 0
    for member in members:
        live = not member.archivedAt  # archived members are out of the counters
        total += live
        active += live and member.status == ACTIVE
        contact = contacts.get(member.contactId)
        if contact is None:
            logger.warning("membership of a deleted contact removed", extra={"contact_id": member.contactId})
            member.delete()
        elif snapshots.snapshot_stale(member, contact):
            snapshots.refresh_membership(member, contact)
    return jobs.PageResult(processed=len(members), counts={"total": total, "active": active})


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


def confirm_repair(message: dict[str, Any], attempt: int = 1) -> None:
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


# What each kind of job does with a page of members (the dispatch table names them).
MEMBER_CLEANUP_KIND = jobs.Kind(member_cleanup_page, page_size=500, consistent=True)
REFRESH_GROUP_KIND = jobs.Kind(refresh_group_page, page_size=500)
RECOUNT_KIND = jobs.Kind(recount_page, page_size=500, consistent=True, finish=finish_recount)
