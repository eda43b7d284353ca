"""Groups: create, list, read, change and delete; names unique per workspace (case-insensitive).

A name is unique because a GroupName item (sk GROUPNAME#<casefolded>) is written in the same
transaction as the group; a rename swaps that item in one transaction too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models import keys
from chalicelib.models.campaigns import CampaignLink
from chalicelib.models.groups import Group, GroupName, RuleGroup
from chalicelib.platform import clock, ids
from chalicelib.platform.db import connection
from chalicelib.platform.errors import Conflict, NotFound
from chalicelib.platform.paged_query import cursor_page

if TYPE_CHECKING:
    from chalicelib.schemas.groups import GroupCreate, GroupPatch


def get(workspace_id: str, group_id: str, *, consistent: bool = False) -> Group:
    if not ids.is_id(group_id):
        raise NotFound("group not found")
    try:
        return Group.get(*Group.key(workspace_id, group_id), consistent_read=consistent)
    except DoesNotExist:
        raise NotFound("group not found") from None


def get_many(workspace_id: str, group_ids: list[str]) -> dict[str, Group]:
    """The groups that exist among `group_ids` (BatchGetItem, 100 keys a request)."""
    wanted = {gid for gid in group_ids if ids.is_id(gid)}
    found = Group.batch_get([Group.key(workspace_id, gid) for gid in wanted])
    return {group.id: group for group in found}


def require_all(workspace_id: str, group_ids: list[str]) -> dict[str, Group]:
    """Every group of `group_ids`, or 404 naming the unknown ones (other workspaces' included)."""
    found = get_many(workspace_id, group_ids)
    unknown = sorted({gid for gid in group_ids if gid not in found})
    if unknown:
        raise NotFound("group not found", [{"field": "groupIds", "unknownIds": unknown[:100]}])
    return found


def view(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "type": group.groupType,
        "color": group.color,
        "memberCount": max(0, int(group.totalContacts or 0)),
        "createdAt": group.createdAt,
        "updatedAt": group.updatedAt,
        "rules": json.loads(group.rules) if group.rules else None,
        "membershipStatus": group.membershipStatus,
    }


def require_manual(group: Group) -> None:
    """409 for a rule group: its members are Cohort's to keep, never added or removed by hand."""
    if group.rules:
        raise Conflict(
            "this group's members are kept by its rules; change the rules instead",
            [{"field": "groupId", "groupId": group.id, "reason": "ruleGroup"}],
        )


def create(workspace_id: str, body: GroupCreate, rules: str | None = None) -> Group:
    """A new group; with `rules` (a checked filter as JSON) a rule group, BUILDING until its
    build (chalicelib.segments.membership) has evaluated the existing contacts."""
    now = clock.now_iso()
    group_id = ids.new_id()
    group = Group(
        *Group.key(workspace_id, group_id),
        id=group_id,
        workspaceId=workspace_id,
        name=body.name,
        description=body.description,
        groupType=body.type.value,
        color=body.color,
        createdAt=now,
        updatedAt=now,
        rules=rules,
        membershipStatus="BUILDING" if rules else None,
        rulesBuild=ids.new_id() if rules else None,
    )
    name = GroupName(*GroupName.key(workspace_id, body.name), groupId=group_id)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(group, condition=Group.pk.does_not_exist())
            transaction.save(name, condition=GroupName.pk.does_not_exist(), return_values="ALL_OLD")
            if rules:
                rule = RuleGroup(
                    *RuleGroup.key(workspace_id, group_id), groupId=group_id, groupType=group.groupType
                )
                rule.rules = rules
                transaction.save(rule)
    except TransactWriteError as error:
        _raise_name_taken(error, workspace_id, body.name, put_index=1)
        raise
    return group


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[Group], str | None]:
    return cursor_page(
        Group,
        keys.workspace(workspace_id),
        Group.sk.startswith("GROUP#"),
        limit=limit,
        scope=f"{workspace_id}:groups",
        cursor=cursor,
    )


def update(
    workspace_id: str,
    group_id: str,
    patch: GroupPatch,
    rules: tuple[str | None] | None = None,
    reached: Sequence[tuple[str, str | None]] = (),
) -> tuple[Group, Group]:
    """Change the fields sent; returns (before, after). A new type applies to memberships
    written from now on; the existing ones keep the type they were written with (their
    INSERT already happened). `rules`: (checked rules as JSON,) to set them (a new build,
    BUILDING), (None,) to make the group's members by hand again. `reached`: the groups the
    new rules reach, with their rules as read (None: none), checked unchanged in the same
    transaction (409 else): two changes at once cannot close a loop of rule groups."""
    group = get(workspace_id, group_id, consistent=True)
    sent = patch.model_fields_set
    actions: list[Any] = [Group.updatedAt.set(clock.now_iso())]
    if "name" in sent and patch.name is not None and patch.name != group.name:
        actions.append(Group.name.set(patch.name))
    if "description" in sent:
        actions.append(
            Group.description.set(patch.description) if patch.description else Group.description.remove()
        )
    if "type" in sent and patch.type is not None:
        actions.append(Group.groupType.set(patch.type.value))
    if "color" in sent:
        actions.append(Group.color.set(patch.color) if patch.color else Group.color.remove())
    if rules is not None and rules[0]:
        build = ids.new_id()
        actions += [
            Group.rules.set(rules[0]),
            Group.rulesBuild.set(build),
            Group.membershipStatus.set("BUILDING"),
        ]
    elif rules is not None:
        actions += [Group.rules.remove(), Group.rulesBuild.remove(), Group.membershipStatus.remove()]
    group_type = patch.type.value if "type" in sent and patch.type is not None else group.groupType
    renamed = patch.name is not None and patch.name.casefold() != group.name.casefold()
    # The name read is the one whose GroupName item we hold: a concurrent rename fails this.
    unchanged_name = Group.name == group.name
    try:
        with TransactWrite(connection=connection()) as transaction:
            if renamed:
                assert patch.name is not None
                transaction.delete(GroupName(*GroupName.key(workspace_id, group.name)))
                transaction.save(
                    GroupName(*GroupName.key(workspace_id, patch.name), groupId=group_id),
                    condition=GroupName.pk.does_not_exist(),
                    return_values="ALL_OLD",
                )
            transaction.update(group, actions, condition=Group.pk.exists() & unchanged_name)
            # The workspace's index of rule groups follows the rules and the type (the stream
            # evaluates DYNAMIC rule groups only).
            new_rules = rules[0] if rules is not None else group.rules
            rule = RuleGroup(*RuleGroup.key(workspace_id, group_id), groupId=group_id, groupType=group_type)
            if new_rules:
                rule.rules = new_rules
                if new_rules != group.rules or group_type != group.groupType:
                    transaction.save(rule)
            elif group.rules:
                transaction.delete(rule)
            for other, seen in reached:
                still = RuleGroup.rules == seen if seen is not None else RuleGroup.pk.does_not_exist()
                transaction.condition_check(RuleGroup, *RuleGroup.key(workspace_id, other), condition=still)
    except TransactWriteError as error:
        if renamed and patch.name is not None:
            _raise_name_taken(error, workspace_id, patch.name, put_index=1)
        if "ConditionalCheckFailed" in _codes(error):
            raise Conflict("the group changed meanwhile; read it again and retry") from None
        raise
    return group, get(workspace_id, group_id, consistent=True)


def running_campaigns(workspace_id: str, group_id: str) -> list[str]:
    """Ids of the RUNNING campaigns linked to the group (one Query of its CAMPAIGN# links)."""
    links = CampaignLink.query(
        keys.group_partition(workspace_id, group_id),
        CampaignLink.sk.startswith("CAMPAIGN#"),
        filter_condition=CampaignLink.status == "RUNNING",
    )
    return [link.campaignId for link in links]


def _codes(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in (error.cancellation_reasons or [])]


def _raise_name_taken(error: TransactWriteError, workspace_id: str, name: str, put_index: int) -> None:
    """Turn a failed GroupName condition into 409 with the id of the group holding the name."""
    reasons = error.cancellation_reasons or []
    reason = reasons[put_index] if len(reasons) > put_index else None
    if reason is None or reason.code != "ConditionalCheckFailed":
        return
    existing = ((reason.raw_item or {}).get("groupId") or {}).get("S")
    if existing is None:
        try:
            existing = GroupName.get(*GroupName.key(workspace_id, name)).groupId
        except DoesNotExist:
            existing = None
    raise Conflict(
        f"a group named {json.dumps(name)} already exists",
        [{"field": "name", "existingGroupId": existing}],
    )
