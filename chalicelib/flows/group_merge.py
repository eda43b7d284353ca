"""Merging groups (API.md "Group merge"): every member of the sources joins the target, the
campaigns that named a source name the target instead, and the sources are deleted on
request; a resumable paged job (chalicelib.groups.jobs) whatever the sizes.

- Start: every check before anything is written: the target and each source exist in the
  workspace (404), none is a rule group (409: Cohort keeps its members), none is the target
  (409), all have the target's type (409), and no campaign would end up including and
  excluding the target (409). Then one Job item and its first message.
- Pages: the sources' members in turn, each page's contacts read in one BatchGetItem and
  joined through `memberships.add_pairs` (conditional puts): a member already in the target
  stays once, a page run again adds nobody twice, and a DYNAMIC target enrolls each new
  member exactly as any join does (the membership INSERT), nobody twice.
- Finish (run again if it crashed; both steps find nothing left the second time): the
  campaigns are re-pointed, then, with `deleteSources`, the sources go through the group
  deletion flow (their memberships, never the contacts).

A member joining a source while the job runs may be read after its page went by: it stays in
that source (a merge run again takes it; with `deleteSources` it leaves with the source).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist

from chalicelib.campaigns import service as campaigns
from chalicelib.contacts.service import get_many
from chalicelib.flows import groups as group_flows
from chalicelib.groups import jobs, memberships
from chalicelib.groups import service as groups
from chalicelib.groups.snapshots import contact_values
from chalicelib.models.groups import Group, Membership
from chalicelib.models.jobs import Job
from chalicelib.platform.errors import Conflict, NotFound
from chalicelib.platform.logs import logger

if TYPE_CHECKING:
    from chalicelib.schemas.groups import GroupMerge

MERGE = "mergeGroups"


def start(workspace_id: str, target_id: str, body: GroupMerge) -> str:
    """Check the merge and start its job; returns the job id. Nothing is written on a 4xx."""
    target = groups.get(workspace_id, target_id, consistent=True)
    source_ids = list(dict.fromkeys(body.source_group_ids))
    if target_id in source_ids:
        raise Conflict(
            "a group cannot be merged into itself",
            [{"field": "sourceGroupIds", "groupId": target_id, "reason": "target"}],
        )
    sources = groups.require_all(workspace_id, source_ids)
    for group in (target, *(sources[gid] for gid in source_ids)):
        groups.require_manual(group)  # a rule group's members are Cohort's
    other_type = [gid for gid in source_ids if sources[gid].groupType != target.groupType]
    if other_type:
        raise Conflict(
            f"only groups of the target's type ({target.groupType}) can be merged into it",
            [{"field": "sourceGroupIds", "groupId": gid, "reason": "type"} for gid in other_type],
        )
    _refuse_include_and_exclude(workspace_id, [target_id, *source_ids])
    total = sum(max(0, int(sources[gid].totalContacts or 0)) for gid in source_ids)
    params = {"sources": source_ids, "deleteSources": body.delete_sources}
    job = jobs.start(workspace_id, MERGE, target_id, total=total, params=params)
    logger.info("group merge started", extra={"group_id": target_id, "sources": source_ids, "job_id": job.id})
    return job.id


def _refuse_include_and_exclude(workspace_id: str, group_ids: list[str]) -> None:
    """409 when a campaign includes one of these groups and excludes another: merged, it
    would include and exclude the target."""
    roles: dict[str, set[str]] = {}
    for group_id in group_ids:
        for campaign_id, role in campaigns.roles_of(workspace_id, group_id).items():
            roles.setdefault(campaign_id, set()).add(role)
    both = sorted(cid for cid, found in roles.items() if len(found) > 1)
    if both:
        raise Conflict(
            "a campaign includes one of these groups and excludes another; change it first",
            [{"field": "sourceGroupIds", "campaignIds": both}],
        )


def _sources(job: Job) -> list[str]:
    return [str(gid) for gid in jobs.params(job)["sources"]]


def merge_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    """One page of a source's members joins the target (conditional puts: once each)."""
    try:
        target = Group.get(*Group.key(job.workspaceId, job.groupId))
    except DoesNotExist:
        errors = [{"contactId": m.contactId, "reason": "the target group was deleted"} for m in members]
        return jobs.PageResult(processed=len(members), errors=errors)
    contacts = get_many(job.workspaceId, [m.contactId for m in members])
    added, already = memberships.add_pairs(
        job.workspaceId, [(target, contact_values(contact)) for contact in contacts.values()]
    )
    return jobs.PageResult(processed=len(members), counts={"added": added, "alreadyMember": already})


def finish(job: Job) -> None:
    """Re-point the campaigns, then delete the sources when asked. Idempotent."""
    delete_sources = bool(jobs.params(job).get("deleteSources"))
    for source_id in _sources(job):
        campaigns.replace_group(job.workspaceId, source_id, job.groupId)
        if delete_sources:
            with contextlib.suppress(NotFound):  # deleted already (a finish run again)
                group_flows.delete_group(job.workspaceId, source_id, force=True)
    logger.info("groups merged", extra={"group_id": job.groupId, "job_id": job.id, **jobs.state(job)})


MERGE_KIND = jobs.Kind(merge_page, page_size=200, consistent=True, finish=finish, groups=_sources)
