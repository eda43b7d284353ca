"""Reading memberships: a group's members (its partition, or gsi2 by status) and a
contact's groups (gsi1), each one Query a page, answered from the membership's snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from chalicelib.contacts import service as contacts
from chalicelib.contacts.identity import fold
from chalicelib.groups import service as groups
from chalicelib.groups.snapshots import SEARCH_SEPARATOR, contact_values
from chalicelib.models import keys
from chalicelib.models.groups import Membership
from chalicelib.platform import ids, pagination
from chalicelib.platform.errors import NotFound
from chalicelib.platform.paged_query import Page, query_page


def contacts_by_id(workspace_id: str, contact_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The contacts among `contact_ids` that exist in the workspace, as attribute dicts."""
    found = contacts.get_many(workspace_id, [cid for cid in contact_ids if ids.is_id(cid)])
    return {cid: contact_values(contact) for cid, contact in found.items()}


def require_contacts(workspace_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every contact of `contact_ids`, or 404 naming the unknown ones (other workspaces' too)."""
    found = contacts_by_id(workspace_id, contact_ids)
    unknown = sorted({cid for cid in contact_ids if cid not in found})
    if unknown:
        raise NotFound("contact not found", [{"field": "contactIds", "unknownIds": unknown[:100]}])
    return found


def existing_members(workspace_id: str, group_id: str, contact_ids: Iterable[str]) -> set[str]:
    """Which of these contacts are members already (consistent BatchGetItem of the keys)."""
    keys_ = [Membership.key(workspace_id, group_id, cid) for cid in contact_ids]
    return {m.contactId for m in Membership.batch_get(keys_, consistent_read=True)} if keys_ else set()


def contact_memberships(workspace_id: str, contact_id: str) -> Iterable[Membership]:
    """Every membership of a contact (gsi1; pages followed)."""
    found = Membership.gsi1.query(
        keys.contact_partition(workspace_id, contact_id), Membership.gsi1sk.startswith("GROUP#")
    )
    return cast("Iterable[Membership]", found)  # GROUP# items of a contact's gsi1 are memberships


def contact_groups_page(
    workspace_id: str, contact_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the contact's groups: one Query on gsi1 (a second read only to tell an
    unknown contact, 404, from one in no group)."""
    scope = f"{workspace_id}:contact-groups:{contact_id}"
    page = query_page(
        Membership,
        keys.contact_partition(workspace_id, contact_id),
        Membership.gsi1sk.startswith("GROUP#"),
        index="gsi1",
        limit=limit,
        start_key=pagination.decode(cursor, scope),
    )
    if not page.items and cursor is None:
        require_contacts(workspace_id, [contact_id])
    return [contact_group_view(m) for m in page.items], pagination.encode(page.last_key, scope)


def contact_group_view(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.groupId,
        "name": membership.groupName,
        "color": membership.groupColor,
        "type": membership.currentGroupType or membership.groupType,
        "joinedAs": membership.groupType,
        "joinedAt": membership.joinedAt,
    }


def member_page(
    workspace_id: str,
    group_id: str,
    *,
    limit: int,
    start_key: dict[str, Any] | None = None,
    status: str | None = None,
    q: str | None = None,
    consistent: bool = False,
    unarchived: bool = False,
) -> Page[Membership]:
    """One Query: the group's partition, or its members of one status on gsi2; `q` filters.
    `unarchived`: leave out the members whose contact is archived (a FilterExpression on the
    group's partition: a membership's key cannot move; by status they are out already)."""
    filter_condition: Any = None
    if q:
        filter_condition = Membership.search.contains(SEARCH_SEPARATOR + fold(q))
    if unarchived and not status:
        live = Membership.archivedAt.does_not_exist()
        filter_condition = live if filter_condition is None else filter_condition & live
    if status:
        return query_page(
            Membership,
            Membership.status_partition(workspace_id, group_id, status),
            Membership.gsi2sk.startswith("MEMBER#"),
            index="gsi2",
            limit=limit,
            filter_condition=filter_condition,
            start_key=start_key,
        )
    return query_page(
        Membership,
        keys.group_partition(workspace_id, group_id),
        Membership.sk.startswith("MEMBER#"),
        limit=limit,
        filter_condition=filter_condition,
        start_key=start_key,
        consistent=consistent,
    )


def members_page(
    workspace_id: str, group_id: str, *, limit: int, cursor: str | None, q: str | None, status: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of members as the API lists them (archived contacts left out). A page filtered
    by `q`, or one that passed archived members, may hold fewer than `limit` items while
    `nextCursor` is set: follow it until null."""
    scope = f"{workspace_id}:members:{group_id}:{status or ''}:{q or ''}"
    page = member_page(
        workspace_id,
        group_id,
        limit=limit,
        start_key=pagination.decode(cursor, scope),
        status=status,
        q=q,
        unarchived=True,
    )
    if not page.items and page.last_key is None and cursor is None:
        groups.get(workspace_id, group_id)  # 404 for an unknown group, [] for an empty one
    return [member_view(m) for m in page.items], pagination.encode(page.last_key, scope)


def member_view(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.contactId,
        "email": membership.email,
        "phone": membership.phone,
        "firstName": membership.firstName,
        "lastName": membership.lastName,
        "company": membership.company,
        "title": membership.title,
        "status": membership.status,
        "joinedAt": membership.joinedAt,
    }
