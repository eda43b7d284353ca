"""Upsert ONE contact by email and phone (`sync_one`, for POST /contacts/sync and lead forms)
under the matching rules of chalicelib.contacts.matching, and the rules the bulk upsert
(chalicelib.contacts.bulk_sync) shares with it: how a found contact is merged
(`merged_contact`), what is reported as left out, who holds a phone, the lookup keys.

What a sync changes on a contact it finds: the fields the input gives (a missing or null
field keeps the stored value), custom fields merged key by key, tags added (never removed),
the phone as the matching rules say, the email only when a phone-only contact gains one.
The status is never lowered: nothing here turns UNSUBSCRIBED, BOUNCED, BLOCKED or REPLIED
back into ACTIVE. `source` is the contact's first source and is not overwritten.

Requests: `sync_one` is one BatchGetItem (email and phone lookups, which carry the whole
contact, the erasure hashes and the custom field definitions) and one TransactWriteItems; it
reads and retries when a concurrent writer wins a condition.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from chalicelib.contacts import consent, fields
from chalicelib.contacts.input import ContactInput
from chalicelib.contacts.matching import Match, decide, kept_phone_warning
from chalicelib.contacts.service import (
    PersonErased,
    attempts,
    definitions_in,
    erased_digests,
    merged_custom,
    merged_tags,
    new_state,
    raise_for,
    read_items,
    same,
)
from chalicelib.contacts.status import RANK
from chalicelib.contacts.store import State, WriteRejected, canonical, commit, plan, state_of
from chalicelib.models.contacts import PROFILE_FIELDS, Contact, ContactEmail, ContactPhone, ErasedIdentity
from chalicelib.platform import clock
from chalicelib.platform.db import Item
from chalicelib.platform.errors import Conflict

_SYNC_FIELDS = (*PROFILE_FIELDS, "pipelineStage")


@dataclass(frozen=True)
class SyncResult:
    """`result` is "created" or "updated"; `contact` the stored Contact item; `warnings` what
    the input gave that was left out ({"field", "value", "reason"}: a phone another contact
    has, by the matching rules' last row)."""

    result: str
    contact: Contact
    warnings: tuple[dict[str, str], ...] = ()
    unarchived: bool = False  # the contact matched was archived: this sync unarchived it


def sync_one(
    workspace_id: str,
    given: ContactInput,
    *,
    source: str,
    extra_tags: Sequence[str] = (),
    refused: Sequence[dict[str, str]] = (),
) -> SyncResult:
    """Create or update one contact from a parsed body (chalicelib.contacts.salvage.parse_salvaging).

    `source` is recorded on a created contact (the body's own `source` wins); `extra_tags` are
    added to it. Raises 422 ValidationFailed (details name each field), 409 PersonErased
    (a Conflict: the person was erased under GDPR), 402 PlanLimitReached. Its groups are the
    caller's (chalicelib.flows.contacts). `refused`: what the caller's parse left out
    (`parse_salvaging`), reported in `warnings` with what the matching rules keep.
    """
    tags = merged_tags(extra_tags)  # checks the caller's tags like a client's
    synced = sync_single(workspace_id, given, source=source, extra_tags=tags, update_existing=True)
    return SyncResult(
        result=synced.result if synced.result == "created" else "updated",
        contact=canonical(synced.state),
        warnings=(*refused, *synced.refused, *left_out(given, synced.state)),
        unarchived=synced.unarchived,
    )


def left_out(given: ContactInput, state: State) -> tuple[dict[str, str], ...]:
    """The warnings of an input applied with update_existing: the only value a sync leaves
    out then is a phone another contact has (the matching rules' last row)."""
    if given.phone and state.get("phone") != given.phone:
        return (kept_phone_warning(given.phone),)
    return ()


def phone_holders(workspace_id: str, phone: str) -> frozenset[str]:
    """The ids of the contacts that have this phone, with an email or not (one Query of the
    Contact items' gsi3; a few ids are enough to tell)."""
    partition = Contact.phone_partition(workspace_id, phone)
    return frozenset(str(item.gsi3sk) for item in Item.gsi3.query(partition, limit=10))


def holders_to_ask(email_owner: State | None, phone_owner: str | None, phone: str | None) -> bool:
    """Whether the matching rules need phone_holders: a known email given with a phone that
    is not already its contact's and that no phone-only contact holds (that one is read)."""
    return bool(email_owner and phone and phone_owner is None and email_owner.get("phone") != phone)


class Synced(NamedTuple):
    result: str  # created | updated | unchanged
    state: State
    unarchived: bool
    refused: tuple[dict[str, str], ...]  # custom fields left out (`fields.check_salvaging`)


def sync_single(
    workspace_id: str,
    given: ContactInput,
    *,
    source: str,
    extra_tags: Sequence[str],
    update_existing: bool,
) -> Synced:
    """One input synced; reads and retries when a concurrent write won (an archive racing
    this sync's unarchive included: decided again on what is stored)."""
    digests = erased_digests(workspace_id, given.email, given.phone)
    custom_keys = list(given.custom_fields or {})
    custom: dict[str, Any] | None = None
    refused: tuple[dict[str, str], ...] = ()
    for _ in attempts():
        definitions = fields.keys_for(workspace_id, custom_keys) if custom is None else []
        found = read_items(
            [*lookup_keys(workspace_id, given), *erased_keys(workspace_id, digests), *definitions]
        )
        for digest, field in digests.items():
            if ErasedIdentity.key(workspace_id, digest) in found:
                raise PersonErased(field)
        if custom is None and given.custom_fields:
            custom, refused = fields.check_salvaging(given.custom_fields, definitions_in(found))
        email_owner, phone_owner = _owners(workspace_id, given, found)
        holders: frozenset[str] = frozenset()
        if holders_to_ask(state_of(email_owner) if email_owner else None, _id(phone_owner), given.phone):
            holders = phone_holders(workspace_id, str(given.phone))
        match = decide(given.email, given.phone, _id(email_owner), _id(phone_owner), holders)
        if match.target_id is None:
            state = new_state(workspace_id, given, custom, source=source, extra_tags=extra_tags)
            write = plan(None, state, erased_check=list(digests))
            result = "created"
        else:
            holder = email_owner if match.target_id == _id(email_owner) else phone_owner
            before = state_of(holder)
            state = merged_contact(before, given, custom, match, extra_tags, update_existing, source)
            if same(before, state):
                return Synced("unchanged", before, False, refused)
            write = plan(before, state)
            result = "updated"
        try:
            commit(workspace_id, [write])
        except WriteRejected as rejected:
            if rejected.of_kind("workspace"):
                raise_for(rejected)
            if rejected.of_kind("erased"):
                raise PersonErased("email" if given.email else "phone") from None
            continue  # an identity was taken or the contact changed meanwhile: read again
        return Synced(result, state, bool(write.before and write.before.get("archivedAt")), refused)
    raise Conflict("the contact kept changing while it was being synced; try again")


def lookup_keys(workspace_id: str, given: ContactInput) -> list[tuple[str, str]]:
    found = []
    if given.email:
        found.append(ContactEmail.key(workspace_id, given.email))
    if given.phone:
        found.append(ContactPhone.key(workspace_id, given.phone))
    return found


def erased_keys(workspace_id: str, digests: dict[str, str]) -> list[tuple[str, str]]:
    return [ErasedIdentity.key(workspace_id, digest) for digest in digests]


def _owners(workspace_id: str, given: ContactInput, found: dict[tuple[str, str], Item]) -> tuple[Any, Any]:
    email_owner = found.get(ContactEmail.key(workspace_id, given.email)) if given.email else None
    phone_owner = found.get(ContactPhone.key(workspace_id, given.phone)) if given.phone else None
    return email_owner, phone_owner


def _id(item: Any) -> str | None:
    return item.id if item is not None else None


def merged_contact(
    before: State,
    given: ContactInput,
    custom: dict[str, Any] | None,
    match: Match,
    extra_tags: Sequence[str],
    update_existing: bool,
    source: str,
) -> State:
    """The contact after this input, by the rules in the module docstring (its consent by
    chalicelib.contacts.consent's: raised, never lowered; `source` is where it comes from)."""
    after = copy.deepcopy(before)
    after["archivedAt"] = None  # the person came back: a matched archived contact is unarchived
    if not update_existing:
        after["tags"] = merged_tags(before["tags"], extra_tags)
    else:
        if match.take_email and given.email and not before.get("email"):
            after["email"] = given.email
        if match.take_phone and given.phone:
            after["phone"] = given.phone
        for name in _SYNC_FIELDS:
            if given.given.get(name) is not None:
                after[name] = given.given[name]
        status = given.given.get("status")
        # Never down the ladder deliverability events climb (contact_status.RANK).
        if status is not None and RANK[status] >= RANK[before["status"]]:
            after["status"] = status
        if not before.get("source") and given.given.get("source"):
            after["source"] = given.given["source"]
        stated = consent.stated(given.given.get("consent"), source, clock.now_iso())
        after["consent"] = consent.merged(before.get("consent"), stated)
        after["customFields"] = merged_custom(before["customFields"], custom, nulls_remove=False)
        after["tags"] = merged_tags(before["tags"], given.tags, extra_tags)
    if not same(before, after):
        after["updatedAt"] = clock.now_iso()
        after = consent.reconciled(before, after, source)
    return after
