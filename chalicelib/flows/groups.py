"""Changing and deleting a group: they span the group, its memberships (which copy its name,
color and type) and the campaigns that name it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynamodb.transactions import TransactWrite

from chalicelib.campaigns import service as campaigns
from chalicelib.groups import memberships, upkeep
from chalicelib.groups import service as groups
from chalicelib.models.groups import Group, GroupEngagement, GroupName, RuleGroup
from chalicelib.platform import db
from chalicelib.platform.errors import Conflict
from chalicelib.platform.logs import logger
from chalicelib.segments import membership

if TYPE_CHECKING:
    from chalicelib.schemas.groups import GroupCreate, GroupPatch

# Members a DELETE removes before answering; a bigger group's memberships go to a job.
INLINE_DELETE_MEMBERS = 500


def create_group(workspace_id: str, body: GroupCreate) -> Group:
    """POST /groups: a group; with `rules`, a rule group whose members Cohort keeps: the rules
    are checked first (422 at their path, nothing written), then its build evaluates the
    existing contacts (BUILDING, then READY)."""
    rules_json = membership.checked_rules(workspace_id, body.rules)[0] if body.rules is not None else None
    group = groups.create(workspace_id, body, rules_json)
    if rules_json:
        membership.start_build(group, first=True)
    return group


def update_group(workspace_id: str, group_id: str, patch: GroupPatch) -> Group:
    """PATCH /groups/{id}: change the group, then copy a new name, color or type onto its
    memberships (a job: a contact's groups are listed from them). New rules are checked (422,
    nothing written) and applied by a new build as a diff; null rules make the members the
    client's again, as they are."""
    rules: tuple[str | None] | None = None
    reached: Sequence[tuple[str, str | None]] = ()  # the groups new rules reach, as read
    if "rules" in patch.model_fields_set and patch.rules is not None:
        text, reached = membership.checked_rules(workspace_id, patch.rules, group_id)
        rules = (text,)
    elif "rules" in patch.model_fields_set:
        rules = (None,)
    before, updated = groups.update(workspace_id, group_id, patch, rules, reached)
    if rules is not None and rules[0]:
        membership.start_build(updated)  # joins and leaves, never emptied then refilled
    if (updated.name, updated.color, updated.groupType) != (before.name, before.color, before.groupType):
        upkeep.refresh_member_snapshots(updated)
    return updated


def delete_group(workspace_id: str, group_id: str, *, force: bool) -> str | None:
    """Delete the group, its name and its memberships (never the contacts), and take it out
    of the campaigns that include or exclude it.

    A group that a RUNNING campaign uses is refused (409) unless `force`. The group and its
    name go at once; members beyond the first page are removed by a job, whose id is
    returned (None when nothing was left to do).
    """
    group = groups.get(workspace_id, group_id, consistent=True)
    running = groups.running_campaigns(workspace_id, group_id)
    if running and not force:
        raise Conflict(
            "a RUNNING campaign uses this group; pause it first or delete with ?force=true",
            [{"field": "groupId", "runningCampaignIds": running}],
        )
    campaigns.forget_group(workspace_id, group_id)  # first: it settles the engagement counter
    with TransactWrite(connection=db.connection()) as transaction:
        transaction.delete(group, condition=Group.pk.exists())
        transaction.delete(
            GroupName(*GroupName.key(workspace_id, group.name)),
            condition=GroupName.groupId == group_id,
        )
        transaction.delete(GroupEngagement(*GroupEngagement.key(workspace_id, group_id)))
        if group.rules:
            transaction.delete(RuleGroup(*RuleGroup.key(workspace_id, group_id)))
    logger.info("group deleted", extra={"group_id": group_id, "members": int(group.totalContacts or 0)})
    left = memberships.delete_page(workspace_id, group_id, INLINE_DELETE_MEMBERS)
    if not left:
        return None
    total = max(0, int(group.totalContacts or 0) - INLINE_DELETE_MEMBERS)
    return upkeep.start_member_cleanup(workspace_id, group, left, total)
