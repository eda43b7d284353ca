"""A membership's copy of its contact (and of its group), so that the members of a group and
the groups of a contact are each one Query with nothing else to read; and keeping the copy
fresh, conditioned on the contact's revision so a late or replayed change never wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.contacts.identity import search_tokens
from chalicelib.models import keys
from chalicelib.models.contacts import PERSONAL_FIELDS, ContactData
from chalicelib.models.groups import Group, Membership
from chalicelib.platform.db import is_conditional_failure

# The contact attributes a membership copies, as named on both items.
SNAPSHOT_FIELDS = (*PERSONAL_FIELDS, "status", "archivedAt")
# Separates the search tokens in `search`: `contains(search, SEP + q)` is "q is a prefix of
# one of the tokens" (the contacts list's `q`), in the same Query as the member page.
SEARCH_SEPARATOR = "\x1f"


def search_text(email: str | None, first_name: str | None, last_name: str | None) -> str | None:
    tokens = sorted(search_tokens(email, first_name, last_name))
    return "".join(SEARCH_SEPARATOR + token for token in tokens) or None


def snapshot_of(contact: Mapping[str, Any]) -> dict[str, Any]:
    """The membership attributes that copy the contact (None = absent)."""
    values = {name: contact.get(name) or None for name in SNAPSHOT_FIELDS}
    values["status"] = values["status"] or "ACTIVE"
    values["search"] = search_text(values["email"], values["firstName"], values["lastName"])
    values["contactRevision"] = int(contact.get("revision") or 0)
    return values


def contact_values(contact: ContactData) -> dict[str, Any]:
    return dict(contact.attribute_values)


def status_key(snapshot: Mapping[str, Any]) -> str:
    """The membership's gsi2 "status": the contact's, or ARCHIVED while it is archived."""
    return Membership.ARCHIVED if snapshot.get("archivedAt") else str(snapshot["status"])


def new_membership(workspace_id: str, group: Group, contact: Mapping[str, Any], joined_at: str) -> Membership:
    contact_id = str(contact["id"])
    snapshot = snapshot_of(contact)
    return Membership(
        *Membership.key(workspace_id, group.id, contact_id),
        workspaceId=workspace_id,
        groupId=group.id,
        groupType=group.groupType,
        contactId=contact_id,
        joinedAt=joined_at,
        gsi1pk=keys.contact_partition(workspace_id, contact_id),
        gsi1sk=f"GROUP#{group.id}",
        gsi2pk=Membership.status_partition(workspace_id, group.id, status_key(snapshot)),
        gsi2sk=f"MEMBER#{contact_id}",
        groupName=group.name,
        groupColor=group.color,
        currentGroupType=group.groupType,
        **{name: value for name, value in snapshot.items() if value is not None},
    )


def snapshot_stale(membership: Membership, contact: Mapping[str, Any]) -> bool:
    snapshot = snapshot_of(contact)
    return any(
        getattr(membership, name) != value for name, value in snapshot.items() if name != "contactRevision"
    )


def refresh_membership(membership: Membership, contact: Mapping[str, Any]) -> bool:
    """Copy the contact's values onto one membership; False when it was not older.

    Conditioned on the snapshot's revision being older, so a replayed or late stream record
    never puts back an older state (and a replay writes nothing, so nothing fires twice).
    """
    snapshot = snapshot_of(contact)
    actions: list[Any] = [
        getattr(Membership, name).set(value) if value is not None else getattr(Membership, name).remove()
        for name, value in snapshot.items()
    ]
    status_partition = Membership.status_partition(
        membership.workspaceId, membership.groupId, status_key(snapshot)
    )
    actions.append(Membership.gsi2pk.set(status_partition))
    newer = Membership.contactRevision.does_not_exist() | (
        Membership.contactRevision < snapshot["contactRevision"]
    )
    try:
        membership.update(actions, condition=Membership.pk.exists() & newer)
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
        return False
    return True


def refresh_group(membership: Membership, group: Group) -> None:
    """Copy the group's current name, color and type onto one membership (rename job)."""
    actions: list[Any] = [
        Membership.groupName.set(group.name),
        Membership.groupColor.set(group.color) if group.color else Membership.groupColor.remove(),
        Membership.currentGroupType.set(group.groupType),
    ]
    try:
        membership.update(actions, condition=Membership.pk.exists())
    except UpdateError as error:
        if not is_conditional_failure(error):  # removed meanwhile: nothing to refresh
            raise
