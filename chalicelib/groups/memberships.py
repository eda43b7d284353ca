"""Memberships: who is in which group, written in batches, listed in one Query each way.

A Membership item (models/groups.py) sits in its group's partition (the members: one Query)
and on gsi1 under its contact (the contact's groups: one Query). It carries a snapshot of
the contact and of the group so those Queries answer without reading anything else; the
contact part is refreshed here when the contact changes (stream reaction on Contact), the
group part by a job when the group is renamed (chalicelib.flows.group_actions).

Adds read through BatchGetItem (100 keys) and write each new membership under
`attribute_not_exists` (TransactWriteItems, 100 a request): adding 1,000 contacts costs ~30
requests. A contact that is already a member is never written again, even by two adds at
once, so its membership's stream INSERT (what enrolls it in campaigns) happens exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.groups import service as groups
from chalicelib.models import keys
from chalicelib.models.contacts import ContactData, ContactEmail
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import clock, ids, pagination
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.paged_query import FILTERED_READ, Page, query_page
from chalicelib.platform.streams import Batch, Change, reacts_to

# The contact attributes a membership copies, as named on both items.
SNAPSHOT_FIELDS = ("email", "phone", "firstName", "lastName", "company", "title", "status")
# Separates the search tokens in `search`: `contains(search, SEP + q)` is "q is a prefix of
# one of the tokens" (the contacts list's `q`), in the same Query as the member page.
SEARCH_SEPARATOR = "\x1f"
# Reasons given for emails that cannot join.
NOT_CREATED = "could not be created as a contact"


@dataclass
class AddReport:
    added: int = 0
    already_member: int = 0
    created: int = 0
    invalid: list[dict[str, str]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "alreadyMember": self.already_member,
            "created": self.created,
            "invalid": self.invalid,
        }


# ---- snapshots ----------------------------------------------------------------------------


def search_text(email: str | None, first_name: str | None, last_name: str | None) -> str | None:
    from chalicelib.contacts.identity import search_tokens

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
        gsi2pk=Membership.status_partition(workspace_id, group.id, snapshot["status"]),
        gsi2sk=f"MEMBER#{contact_id}",
        groupName=group.name,
        groupColor=group.color,
        currentGroupType=group.groupType,
        **{name: value for name, value in snapshot.items() if value is not None},
    )


# ---- reading contacts ---------------------------------------------------------------------


def contacts_by_id(workspace_id: str, contact_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The contacts among `contact_ids` that exist in the workspace, as attribute dicts."""
    from chalicelib.contacts import service as contacts

    found = contacts.get_many(workspace_id, [cid for cid in contact_ids if ids.is_id(cid)])
    return {cid: contact_values(contact) for cid, contact in found.items()}


def require_contacts(workspace_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every contact of `contact_ids`, or 404 naming the unknown ones (other workspaces' too)."""
    found = contacts_by_id(workspace_id, contact_ids)
    unknown = sorted({cid for cid in contact_ids if cid not in found})
    if unknown:
        raise NotFound("contact not found", [{"field": "contactIds", "unknownIds": unknown[:100]}])
    return found


def _contacts_by_email(workspace_id: str, emails: Iterable[str]) -> dict[str, dict[str, Any]]:
    """email -> contact for the emails some contact has (the EMAIL# items are whole copies)."""
    found = ContactEmail.batch_get([ContactEmail.key(workspace_id, email) for email in set(emails)])
    return {item.email: contact_values(item) for item in found if item.email}


# ---- adding -------------------------------------------------------------------------------


def add(
    workspace_id: str,
    group_id: str,
    contact_ids: Sequence[str] = (),
    emails: Sequence[str] = (),
    *,
    dry_run: bool = False,
) -> AddReport:
    """Add contacts by id and by email; unknown emails become contacts, invalid ones are
    reported. Unknown contact ids: 404 before anything is written. `dry_run` reports what
    would happen and writes nothing (members/validate)."""
    from chalicelib.contacts.identity import IdentityError, normalise_email

    group = groups.get(workspace_id, group_id)
    report = AddReport()
    normalised: dict[str, str] = {}  # email -> the value as given (first occurrence)
    for value in emails:
        try:
            normalised.setdefault(normalise_email(value), value)
        except IdentityError as error:
            report.invalid.append({"value": value, "reason": str(error)})
    by_email = _contacts_by_email(workspace_id, normalised) if normalised else {}
    wanted_ids = list(dict.fromkeys(contact_ids))
    contacts = require_contacts(workspace_id, wanted_ids) if wanted_ids else {}
    for contact in by_email.values():
        contacts.setdefault(contact["id"], contact)
    unknown = [email for email in normalised if email not in by_email]
    if unknown:
        contacts.update(_create_contacts(workspace_id, unknown, normalised, report, dry_run=dry_run))
    members = existing_members(workspace_id, group.id, contacts)
    newcomers = [contact for cid, contact in contacts.items() if cid not in members]
    report.added = len(newcomers) if dry_run else write_members(workspace_id, group, newcomers)
    # Those another add wrote between our read and our write are members already too.
    report.already_member = len(members) + len(newcomers) - report.added
    return report


def _create_contacts(
    workspace_id: str, emails: list[str], given: Mapping[str, str], report: AddReport, *, dry_run: bool
) -> dict[str, dict[str, Any]]:
    """Create a contact per unknown email (the contacts' own sync: plan limit, erased people,
    races with another writer...); what it refuses is reported, never dropped. `dry_run`:
    the same decisions, nothing written (the would-be contacts are returned by id only)."""
    from chalicelib.contacts import sync as contact_sync

    outcomes = contact_sync.sync_many(
        workspace_id,
        [{"email": email} for email in emails],
        update_existing=False,
        source="group",
        dry_run=dry_run,
    )
    joined: list[str] = []
    would_be: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        email = emails[outcome.index]
        if outcome.result == "created":
            report.created += 1
            if dry_run and outcome.contact_id:
                would_be[outcome.contact_id] = {"id": outcome.contact_id}
                continue
        # "skipped" with an id: the email's contact appeared meanwhile; it joins all the same.
        if outcome.contact_id and outcome.result != "failed":
            joined.append(outcome.contact_id)
        else:
            report.invalid.append({"value": given[email], "reason": outcome.reason or NOT_CREATED})
    return {**(contacts_by_id(workspace_id, joined) if joined else {}), **would_be}


def existing_members(workspace_id: str, group_id: str, contact_ids: Iterable[str]) -> set[str]:
    """Which of these contacts are members already (consistent BatchGetItem of the keys)."""
    keys_ = [Membership.key(workspace_id, group_id, cid) for cid in contact_ids]
    return {m.contactId for m in Membership.batch_get(keys_, consistent_read=True)} if keys_ else set()


def write_members(workspace_id: str, group: Group, contacts: Iterable[Mapping[str, Any]]) -> int:
    """Put a membership per contact, each only if it does not exist yet; returns how many
    were written. The caller has checked that none of them was a member when it read: one
    that another writer added since (two adds of one contact at once) is not written again,
    so exactly one add reports it `added` and its stream INSERT happens once."""
    now = clock.now_iso()
    items = [new_membership(workspace_id, group, contact, now) for contact in contacts]
    return len(put_new_memberships(items))


# Memberships a TransactWriteItems puts at most (DynamoDB's limit: 100 actions).
MEMBERS_PER_TRANSACTION = 100
TRANSACTION_RETRIES = 4


def put_new_memberships(items: Sequence[Membership]) -> list[Membership]:
    """Write each membership under `attribute_not_exists(pk)` and return those written.

    One item: a conditional PutItem. More: TransactWriteItems of 100 conditional puts (a
    BatchWriteItem cannot carry a condition); a transaction cancelled by members added
    meanwhile is sent again without them. 1,000 new members cost 10 requests (the batch
    writes cost 40), at twice the write units of plain puts."""
    from pynamodb.exceptions import PutError, TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.platform.db import cancellation_reasons, connection, is_conditional_failure

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
                    import time

                    time.sleep(0.05 * 2**attempt)  # another add writes some of these members
                    continue
                raise
            written += remaining
            remaining = []
    return written


def add_contacts(workspace_id: str, group: Group, contacts: Sequence[ContactData]) -> tuple[int, int]:
    """Add contacts already in hand (an import, a sync with groupIds): (added, alreadyMember)."""
    by_id = {contact.id: contact_values(contact) for contact in contacts}
    members = existing_members(workspace_id, group.id, by_id)
    added = write_members(workspace_id, group, [c for cid, c in by_id.items() if cid not in members])
    return added, len(by_id) - added


def join(workspace_id: str, contact: str | ContactData, group_ids: Sequence[str]) -> int:
    """Put one contact (its id, or the item in hand: one read less) in these groups; returns
    how many it joined. 404 for an unknown contact or group, before any write."""
    wanted = list(dict.fromkeys(group_ids))
    if not wanted:
        return 0
    found = groups.require_all(workspace_id, wanted)
    if isinstance(contact, str):
        values = require_contacts(workspace_id, [contact])[contact]
    else:
        values = contact_values(contact)
    contact_id = str(values["id"])
    members = {
        m.groupId
        for m in Membership.batch_get(
            [Membership.key(workspace_id, gid, contact_id) for gid in wanted], consistent_read=True
        )
    }
    now = clock.now_iso()
    joining = [found[gid] for gid in wanted if gid not in members]
    return len(put_new_memberships([new_membership(workspace_id, group, values, now) for group in joining]))


# ---- removing -----------------------------------------------------------------------------


def remove(workspace_id: str, group_id: str, contact_ids: Sequence[str]) -> tuple[int, int]:
    """Remove these contacts from the group (never deletes them): (removed, notMember)."""
    groups.get(workspace_id, group_id)
    wanted = list(dict.fromkeys(contact_ids))
    require_contacts(workspace_id, wanted)
    members = existing_members(workspace_id, group_id, wanted)
    with Membership.batch_write() as batch:
        for contact_id in members:
            batch.delete(Membership(*Membership.key(workspace_id, group_id, contact_id)))
    return len(members), len(wanted) - len(members)


def remove_one(workspace_id: str, group_id: str, contact_id: str) -> None:
    groups.get(workspace_id, group_id)
    from pynamodb.exceptions import DeleteError

    from chalicelib.platform.db import is_conditional_failure

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


# ---- a contact's groups -------------------------------------------------------------------


def contact_memberships(workspace_id: str, contact_id: str) -> Iterable[Membership]:
    """Every membership of a contact (gsi1; pages followed)."""
    return Membership.gsi1.query(
        keys.contact_partition(workspace_id, contact_id), Membership.gsi1sk.startswith("GROUP#")
    )


def set_groups(workspace_id: str, contact_id: str, group_ids: Sequence[str]) -> tuple[list[str], int, int]:
    """Make the contact's groups exactly `group_ids`: (group ids, added, removed).

    Unknown contact or group (other workspaces' too): 404 before any write. Groups it stays
    in are not rewritten.
    """
    contact = require_contacts(workspace_id, [contact_id])[contact_id]
    wanted = list(dict.fromkeys(group_ids))
    target = groups.require_all(workspace_id, wanted)
    current = {m.groupId for m in contact_memberships(workspace_id, contact_id)}
    present = {
        m.groupId
        for m in Membership.batch_get(
            [Membership.key(workspace_id, gid, contact_id) for gid in wanted], consistent_read=True
        )
    }
    joining = [target[gid] for gid in wanted if gid not in present]
    leaving = sorted(current - set(wanted))
    now = clock.now_iso()
    with Membership.batch_write() as batch:
        for group in joining:
            batch.save(new_membership(workspace_id, group, contact, now))
        for group_id in leaving:
            batch.delete(Membership(*Membership.key(workspace_id, group_id, contact_id)))
    return sorted(wanted), len(joining), len(leaving)


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


# ---- a group's members --------------------------------------------------------------------


def member_page(
    workspace_id: str,
    group_id: str,
    *,
    limit: int,
    start_key: dict[str, Any] | None = None,
    status: str | None = None,
    q: str | None = None,
    consistent: bool = False,
) -> Page[Membership]:
    """One Query: the group's partition, or its members of one status on gsi2; `q` filters."""
    filter_condition = None
    if q:
        from chalicelib.contacts.identity import fold

        filter_condition = Membership.search.contains(SEARCH_SEPARATOR + fold(q))
    if status:
        return query_page(
            Membership,
            Membership.status_partition(workspace_id, group_id, status),
            Membership.gsi2sk.startswith("MEMBER#"),
            index="gsi2",
            limit=limit,
            read_limit=FILTERED_READ if q else None,
            filter_condition=filter_condition,
            start_key=start_key,
        )
    return query_page(
        Membership,
        keys.group_partition(workspace_id, group_id),
        Membership.sk.startswith("MEMBER#"),
        limit=limit,
        read_limit=FILTERED_READ if q else None,
        filter_condition=filter_condition,
        start_key=start_key,
        consistent=consistent,
    )


def members_page(
    workspace_id: str, group_id: str, *, limit: int, cursor: str | None, q: str | None, status: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of members as the API lists them. A page filtered by `q` may hold fewer than
    `limit` items while `nextCursor` is set: follow it until null."""
    scope = f"{workspace_id}:members:{group_id}:{status or ''}:{q or ''}"
    page = member_page(
        workspace_id, group_id, limit=limit, start_key=pagination.decode(cursor, scope), status=status, q=q
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


# ---- keeping snapshots fresh --------------------------------------------------------------


def refresh_contact(workspace_id: str, contact: Mapping[str, Any]) -> int:
    """Copy the contact's new values onto each of its memberships; returns how many changed."""
    memberships = contact_memberships(workspace_id, str(contact["id"]))
    return sum(refresh_membership(membership, contact) for membership in memberships)


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
    from pynamodb.exceptions import UpdateError

    from chalicelib.platform.db import is_conditional_failure

    snapshot = snapshot_of(contact)
    actions: list[Any] = [
        getattr(Membership, name).set(value) if value is not None else getattr(Membership, name).remove()
        for name, value in snapshot.items()
    ]
    status_partition = Membership.status_partition(
        membership.workspaceId, membership.groupId, snapshot["status"]
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
    from pynamodb.exceptions import UpdateError

    from chalicelib.platform.db import is_conditional_failure

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


@reacts_to("Contact")
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


@reacts_to("Membership")
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
    batch.defer(_FRESH, lambda: refresh_stale(pending))


def refresh_stale(images: list[dict[str, Any]]) -> int:
    """Refresh the memberships (stream images) whose contact has a newer revision than their
    snapshot; returns how many were refreshed. Emptied as it goes (a batch's deferred work)."""
    from chalicelib.contacts.service import read_items
    from chalicelib.models.contacts import Contact

    wanted = {(str(i["workspaceId"]), str(i["contactId"])) for i in images if i.get("workspaceId")}
    found = read_items(Contact.key(ws, contact_id) for ws, contact_id in sorted(wanted))
    refreshed = 0
    for image in list(images):
        ws, group_id, contact_id = str(image["workspaceId"]), str(image["groupId"]), str(image["contactId"])
        contact = found.get(Contact.key(ws, contact_id))
        newer = contact is not None and int(contact.revision or 0) > int(image.get("contactRevision") or 0)
        if newer:
            key = Membership.key(ws, group_id, contact_id)
            membership = Membership(*key, workspaceId=ws, groupId=group_id)
            refreshed += refresh_membership(membership, contact_values(contact))  # type: ignore[arg-type]
        images.remove(image)
    if refreshed:
        logger.info("membership snapshots caught up with their contacts", extra={"count": refreshed})
    return refreshed
