"""Memberships: who is in which group. Every join goes through `add_pairs` (one consistent
BatchGetItem of the keys, then the missing ones written under `attribute_not_exists`),
whatever the caller: a group's new members, one contact's groups, an import's page, a form's
lead.

A Membership item (models/groups.py) sits in its group's partition (the members: one Query)
and on gsi1 under its contact (the contact's groups: one Query), with a snapshot of the
contact and of the group (chalicelib.groups.snapshots). The contact part is refreshed here
when the contact changes (stream reaction on Contact), the group part by a job when the group
is renamed (chalicelib.groups.upkeep).

Adding 1,000 contacts costs ~30 requests. A contact that is already a member is never
written again, even by two adds at once, so its membership's stream INSERT (what enrolls it
in campaigns) happens exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.contacts.service import read_items
from chalicelib.groups import service as groups
from chalicelib.groups.members import contact_memberships, existing_members, member_page, require_contacts
from chalicelib.groups.snapshots import SNAPSHOT_FIELDS, contact_values, new_membership, refresh_membership
from chalicelib.models.contacts import Contact, ContactData
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import clock
from chalicelib.platform.db import cancellation_reasons, connection, is_conditional_failure
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change


def add_pairs(workspace_id: str, pairs: Sequence[tuple[Group, Mapping[str, Any]]]) -> tuple[int, int]:
    """Put each (group, contact) membership that does not exist yet: (added, alreadyMember)."""
    wanted = {(group.id, str(contact["id"])): (group, contact) for group, contact in pairs}
    if not wanted:
        return 0, 0
    keys_ = [Membership.key(workspace_id, gid, cid) for gid, cid in wanted]
    present = {(m.groupId, m.contactId) for m in Membership.batch_get(keys_, consistent_read=True)}
    now = clock.now_iso()
    new = [new_membership(workspace_id, g, c, now) for key, (g, c) in wanted.items() if key not in present]
    # Those another add wrote between our read and our write are members already too.
    added = len(put_new_memberships(new))
    return added, len(wanted) - added


# Memberships a TransactWriteItems puts at most (DynamoDB's limit: 100 actions).
MEMBERS_PER_TRANSACTION = 100
TRANSACTION_RETRIES = 4


def put_new_memberships(items: Sequence[Membership]) -> list[Membership]:
    """Write each membership under `attribute_not_exists(pk)` and return those written.

    One item: a conditional PutItem. More: TransactWriteItems of 100 conditional puts (a
    BatchWriteItem cannot carry a condition); a transaction cancelled by members added
    meanwhile is sent again without them. 1,000 new members cost 10 requests (the batch
    writes cost 40), at twice the write units of plain puts."""
    if len(items) == 1:
        try:
            items[0].save(condition=Membership.pk.does_not_exist())
        except PutError as error:
            if is_conditional_failure(error):
                return []
            raise
        return list(items)
    written: list[Membership] = []
    for start in range(0, len(items), MEMBERS_PER_TRANSACTION):
        remaining = list(items[start : start + MEMBERS_PER_TRANSACTION])
        attempt = 0
        while remaining:
            try:
                with TransactWrite(connection=connection()) as transaction:
                    for item in remaining:
                        transaction.save(item, condition=Membership.pk.does_not_exist())
            except TransactWriteError as error:
                codes = cancellation_reasons(error)
                members = {i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"}
                if members:
                    remaining = [item for i, item in enumerate(remaining) if i not in members]
                    continue
                attempt += 1
                if "TransactionConflict" in codes and attempt <= TRANSACTION_RETRIES:
                    time.sleep(0.05 * 2**attempt)  # another add writes some of these members
                    continue
                raise
            written += remaining
            remaining = []
    return written


def add_contacts(workspace_id: str, group: Group, contacts: Sequence[ContactData]) -> tuple[int, int]:
    """Add contacts already in hand (an import, a form's lead): (added, alreadyMember)."""
    return add_pairs(workspace_id, [(group, contact_values(contact)) for contact in contacts])


def join(workspace_id: str, contact: ContactData, to_groups: Iterable[Group]) -> int:
    """Put one contact in these (checked) groups; returns how many it joined."""
    values = contact_values(contact)
    return add_pairs(workspace_id, [(group, values) for group in to_groups])[0]


def remove(workspace_id: str, group_id: str, contact_ids: Sequence[str]) -> tuple[int, int]:
    """Remove these contacts from the group (never deletes them): (removed, notMember)."""
    groups.require_manual(groups.get(workspace_id, group_id))
    wanted = list(dict.fromkeys(contact_ids))
    require_contacts(workspace_id, wanted)
    return remove_members(workspace_id, group_id, wanted)


def remove_members(workspace_id: str, group_id: str, contact_ids: Sequence[str]) -> tuple[int, int]:
    """Delete the memberships of those of these contacts who are members: (removed, notMember).
    The caller checked the group and the contacts."""
    wanted = list(dict.fromkeys(contact_ids))
    members = existing_members(workspace_id, group_id, wanted)
    with Membership.batch_write() as batch:
        for contact_id in members:
            batch.delete(Membership(*Membership.key(workspace_id, group_id, contact_id)))
    return len(members), len(wanted) - len(members)


def remove_one(workspace_id: str, group_id: str, contact_id: str) -> None:
    groups.require_manual(groups.get(workspace_id, group_id))
    membership = Membership(*Membership.key(workspace_id, group_id, contact_id))
    try:
        membership.delete(condition=Membership.pk.exists())
    except DeleteError as error:
        if is_conditional_failure(error):
            raise NotFound("this contact is not a member of the group") from None
        raise


def delete_page(
    workspace_id: str, group_id: str, limit: int, start_key: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Delete up to `limit` memberships of a group; the key to go on from, None when done."""
    page = member_page(workspace_id, group_id, limit=limit, start_key=start_key, consistent=True)
    with Membership.batch_write() as batch:
        for membership in page.items:
            batch.delete(membership)
    return page.last_key


def delete_for_contact(workspace_id: str, contact_id: str) -> int:
    """Remove a contact from every group (when the contact is deleted)."""
    memberships = list(contact_memberships(workspace_id, contact_id))
    with Membership.batch_write() as batch:
        for membership in memberships:
            batch.delete(membership)
    return len(memberships)


def set_groups(workspace_id: str, contact_id: str, group_ids: Sequence[str]) -> tuple[list[str], int, int]:
    """Make the contact's groups exactly `group_ids`: (group ids, added, removed).

    Unknown contact or group (other workspaces' too): 404 before any write. Groups it stays
    in are not rewritten.
    """
    contact = require_contacts(workspace_id, [contact_id])[contact_id]
    wanted = list(dict.fromkeys(group_ids))
    target = groups.require_all(workspace_id, wanted)
    current = {m.groupId for m in contact_memberships(workspace_id, contact_id)}
    leaving = sorted(current - set(wanted))
    # Joining or leaving a rule group by hand: 409 (its rules keep its members).
    joining = [group for gid, group in target.items() if gid not in current]
    for group in [*joining, *(groups.get_many(workspace_id, leaving).values() if leaving else [])]:
        groups.require_manual(group)
    added, _ = add_pairs(workspace_id, [(target[gid], contact) for gid in wanted])
    with Membership.batch_write() as batch:
        for group_id in leaving:
            batch.delete(Membership(*Membership.key(workspace_id, group_id, contact_id)))
    return sorted(wanted), added, len(leaving)


def refresh_contact(workspace_id: str, contact: Mapping[str, Any]) -> int:
    """Copy the contact's new values onto each of its memberships; returns how many changed."""
    memberships = contact_memberships(workspace_id, str(contact["id"]))
    return sum(refresh_membership(membership, contact) for membership in memberships)


def contact_changed(change: Change, batch: Batch) -> None:
    """A contact changed: refresh its memberships' snapshots; deleted: leave its groups."""
    image = change.image
    workspace_id = image.get("workspaceId")
    if not workspace_id or not image.get("id"):
        return
    if change.event_name == "MODIFY" and any(change.changed(name) for name in SNAPSHOT_FIELDS):
        refreshed = refresh_contact(str(workspace_id), change.image)
        logger.debug("membership snapshots refreshed", extra={"contact_id": image["id"], "count": refreshed})
    elif change.event_name == "REMOVE":
        removed = delete_for_contact(str(workspace_id), str(image["id"]))
        if removed:
            logger.info("memberships of a deleted contact removed", extra={"contact_id": image["id"]})


_FRESH = "memberships.fresh"


def membership_inserted(change: Change, batch: Batch) -> None:
    """A membership was written: check its snapshot against its contact as it is now.

    An add reads the contact, then writes the membership. A contact change made in between is
    copied onto the contact's memberships by `contact_changed`, through the contact's groups
    on gsi1; if that runs before the membership exists, it cannot see it. This record comes
    after the membership's write, so a strongly consistent read of the contact now sees that
    change (a later change sees the membership in turn): whatever the interleaving, one of the
    two refreshes it. The batch's new memberships cost one BatchGetItem (100 contacts a request)
    and a write only for a stale snapshot (conditional on its revision, as every refresh)."""
    image = change.new
    if change.event_name != "INSERT" or not image or not image.get("contactId"):
        return
    pending: list[dict[str, Any]] = batch.data.setdefault(_FRESH, [])
    pending.append(image)
    batch.defer(_FRESH, lambda: _refresh_stale(pending))


def _refresh_stale(images: list[dict[str, Any]]) -> None:
    refresh_stale(images)


def refresh_stale(images: list[dict[str, Any]]) -> int:
    """Refresh the memberships (stream images) whose contact has a newer revision than their
    snapshot; returns how many were refreshed. Emptied as it goes (a batch's deferred work)."""
    wanted = {(str(i["workspaceId"]), str(i["contactId"])) for i in images if i.get("workspaceId")}
    found = read_items(Contact.key(ws, contact_id) for ws, contact_id in sorted(wanted))
    refreshed = 0
    for image in list(images):
        ws, group_id, contact_id = str(image["workspaceId"]), str(image["groupId"]), str(image["contactId"])
        contact = found.get(Contact.key(ws, contact_id))
        values = dict(contact.attribute_values) if contact is not None else {}
        if int(values.get("revision") or 0) > int(image.get("contactRevision") or 0):
            key = Membership.key(ws, group_id, contact_id)
            membership = Membership(*key, workspaceId=ws, groupId=group_id)
            refreshed += refresh_membership(membership, values)
        images.remove(image)
    if refreshed:
        logger.info("membership snapshots caught up with their contacts", extra={"count": refreshed})
    return refreshed
