"""A contact and its groups: create or sync one contact and put it in the groups its body
names (checked before anything is written, so a wrong group id changes nothing); delete one
and take it out of every group.

Requests, POST /contacts with k groups: BatchGetItem (the groups) + TransactWriteItems (the
contact) + BatchGetItem (already a member?) + BatchWriteItem (the memberships) = 4.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from chalicelib.contacts import salvage
from chalicelib.contacts import service as contacts
from chalicelib.contacts import sync as contact_sync
from chalicelib.contacts.input import ContactInput
from chalicelib.groups import memberships
from chalicelib.groups import service as groups
from chalicelib.models.contacts import Contact
from chalicelib.models.groups import Group


def _groups(workspace_id: str, group_ids: Sequence[str]) -> list[Group]:
    """The groups, in order; 404 (details: groupIds, unknownIds) unless every one exists."""
    wanted = list(dict.fromkeys(group_ids))
    found = groups.require_all(workspace_id, wanted) if wanted else {}
    for group in found.values():
        groups.require_manual(group)
    return [found[gid] for gid in wanted]


def _parsed(
    workspace_id: str, data: dict[str, Any], extra_tags: Sequence[str], leave_out: Collection[str]
) -> tuple[ContactInput, tuple[dict[str, str], ...]]:
    """The body parsed, `leave_out`'s refused values left out as warnings (salvage)."""
    region = lambda: contacts.workspace_region(workspace_id)  # noqa: E731
    return salvage.parse_salvaging(data, region, extra_tags, only=leave_out)


def create(
    workspace_id: str, data: dict[str, Any], *, source: str = "api"
) -> tuple[Contact, tuple[dict[str, str], ...]]:
    """POST /contacts: a new contact (422, 409, 402 as chalicelib.contacts.service.create),
    in the groups of its `groupId`/`groupIds` (404 before any write), and the warnings of
    the values left out of it (`salvage.SECONDARY`: a bad phone beside a valid email...)."""
    given, refused = _parsed(workspace_id, data, (), salvage.SECONDARY)
    joining = _groups(workspace_id, given.group_ids)
    contact, left_out = contacts.create(workspace_id, given, source=source)
    if joining:
        memberships.join(workspace_id, contact, joining)
    return contact, (*refused, *left_out)


def sync(
    workspace_id: str,
    data: dict[str, Any],
    *,
    source: str,
    extra_tags: Sequence[str] = (),
    group_ids: Sequence[str] = (),
    leave_out: Collection[str] = salvage.SECONDARY,
) -> contact_sync.SyncResult:
    """POST /contacts/sync and lead forms: create or update one contact
    (chalicelib.contacts.sync), then join `group_ids` and the body's groupId/groupIds (404
    before any write). `leave_out` (lead forms: only the phone): fields whose refused value,
    beside a usable identity, is left out and reported in `warnings` instead of a 422."""
    given, refused = _parsed(workspace_id, data, extra_tags, leave_out)
    joining = _groups(workspace_id, [*given.group_ids, *group_ids])
    synced = contact_sync.sync_one(workspace_id, given, source=source, extra_tags=extra_tags, refused=refused)
    if joining:
        memberships.join(workspace_id, synced.contact, joining)
    return synced


def delete(workspace_id: str, contact_id: str) -> None:
    """Remove the contact and its copies, then its memberships (their REMOVE stream records
    let group counters follow; the Contact REMOVE record stops its enrollments)."""
    contacts.delete(workspace_id, contact_id)
    memberships.delete_for_contact(workspace_id, contact_id)
