"""Contacts: create, read, change, delete, and the API's view of one.

Every write goes through chalicelib.contacts.store (one transaction with the contact's copies
and counters). Public functions other modules call:

- `create(workspace_id, given, *, source="api") -> (Contact, warnings)` (409 conflict, 402
  plan limit), `given` parsed by chalicelib.contacts.salvage (422)
- `get(workspace_id, contact_id) -> Contact` (404 NotFound); one GetItem
- `get_many(workspace_id, contact_ids) -> dict[str, Contact]` (BatchGetItem, 100 keys a call)
- `view(contact) -> dict` (the API JSON of a contact or of any of its copies)
- `patch(workspace_id, contact_id, data) -> Contact`
- `delete(workspace_id, contact_id) -> None` (the contact and its copies)

Joining groups on create and leaving them on delete span contacts and groups:
chalicelib.flows.contacts does both. Status events: chalicelib.contacts.status.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.contacts import consent, fields
from chalicelib.contacts.identity import IdentityError, erased_digest, normalise_email
from chalicelib.contacts.input import ContactInput, parse
from chalicelib.contacts.store import State, WriteRejected, canonical, commit, plan, state_of
from chalicelib.models.contacts import Contact, ContactData, ContactEmail
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.workspaces import Workspace
from chalicelib.platform import clock, ids
from chalicelib.platform.db import Item
from chalicelib.platform.errors import Conflict, NotFound, PlanLimitReached, ValidationFailed, field_error
from chalicelib.schemas.contacts import MAX_TAGS_PER_CONTACT, ContactPatch

MAX_ATTEMPTS = 10  # reads and conditional writes retried when another writer got there first
_REGION_SECONDS = 60.0
_regions: dict[str, tuple[float, str]] = {}


def attempts() -> Iterator[int]:
    """MAX_ATTEMPTS tries of a read-then-conditional-write, with a short random pause before
    each retry so that writers racing on one contact spread out."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
        yield attempt


class PersonErased(Conflict):
    """The email or phone belongs to a person erased under GDPR: never stored again."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "this person asked to be forgotten (GDPR erasure); their data cannot be stored again",
            [{"field": field, "reason": "erased", "message": "this person asked to be forgotten"}],
        )


# ---- reading ----------------------------------------------------------------------------


def get(workspace_id: str, contact_id: str) -> Contact:
    """The contact; NotFound for an unknown id or one of another workspace. One GetItem."""
    if not ids.is_id(contact_id):
        raise NotFound("contact not found")
    try:
        return Contact.get(*Contact.key(workspace_id, contact_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("contact not found") from None


def get_many(workspace_id: str, contact_ids: Sequence[str]) -> dict[str, Contact]:
    """The contacts that exist among these ids, by id (BatchGetItem, 100 keys a request)."""
    wanted = [Contact.key(workspace_id, cid) for cid in dict.fromkeys(contact_ids) if ids.is_id(cid)]
    found = {}
    for item in Contact.batch_get(wanted):
        if isinstance(item, Contact):
            found[item.id] = item
    return found


def find_by_email(workspace_id: str, email: str) -> State | None:
    """The contact that has this email (as typed: normalised here), or None (also for an
    address that is not one). One GetItem of its lookup, which carries the whole contact."""
    try:
        address = normalise_email(email)
    except IdentityError:
        return None
    try:
        return state_of(ContactEmail.get(*ContactEmail.key(workspace_id, address), consistent_read=True))
    except DoesNotExist:
        return None


def read_items(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Item]:
    """Any items by key, in BatchGetItem requests of 100 keys (strongly consistent)."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    return {(item.pk, item.sk): item for item in Item.batch_get(unique, consistent_read=True)}


def view(contact: ContactData | State) -> dict[str, Any]:
    """The API JSON of a contact (a Contact item, any of its copies, or a state dict)."""
    state = contact if isinstance(contact, dict) else state_of(contact)
    return {
        "id": state["id"],
        "email": state.get("email"),
        "phone": state.get("phone"),
        "firstName": state.get("firstName"),
        "lastName": state.get("lastName"),
        "company": state.get("company"),
        "title": state.get("title"),
        "customFields": dict(state.get("customFields") or {}),
        "tags": list(state.get("tags") or []),
        "status": state["status"],
        "statusReason": state.get("statusReason"),
        "pipelineStage": state["pipelineStage"],
        "source": state.get("source"),
        "consent": consent.of(state),
        "createdAt": state["createdAt"],
        "updatedAt": state["updatedAt"],
        "anonymizedAt": state.get("anonymizedAt"),
        "score": int(state.get("score") or 0),
        "archived": bool(state.get("archivedAt")),
        "archivedAt": state.get("archivedAt"),
    }


def workspace_region(workspace_id: str) -> str:
    """The region a phone without country code is read in. Cached a minute per container:
    it is read only for such phones, and it does not change under a running sync."""
    cached = _regions.get(workspace_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        workspace = Workspace.get(*Workspace.key(workspace_id))
    except DoesNotExist:
        raise NotFound("workspace not found") from None
    region = workspace.defaultRegion or "FR"
    _regions[workspace_id] = (time.monotonic() + _REGION_SECONDS, region)
    return region


def definitions_in(found: dict[tuple[str, str], Item]) -> dict[str, FieldDefinition]:
    return {item.key_name: item for item in found.values() if isinstance(item, FieldDefinition)}


# ---- building states ----------------------------------------------------------------------


def require_identity(email: str | None, phone: str | None) -> None:
    if email is None and phone is None:
        raise ValidationFailed(
            "an email or a phone is required",
            [
                {"field": "email", "message": "an email or a phone is required"},
                {"field": "phone", "message": "an email or a phone is required"},
            ],
        )


def merged_tags(*groups: Iterable[str] | None) -> list[str]:
    """Tags in first-seen order, at most MAX_TAGS_PER_CONTACT (422 `tags` beyond)."""
    tags = list(dict.fromkeys(tag for group in groups if group for tag in group))
    if len(tags) > MAX_TAGS_PER_CONTACT:
        raise field_error("tags", f"a contact has at most {MAX_TAGS_PER_CONTACT} tags ({len(tags)} given)")
    return tags


def merged_custom(
    current: dict[str, Any], changes: dict[str, Any] | None, *, nulls_remove: bool
) -> dict[str, Any]:
    result = dict(current)
    for key, value in (changes or {}).items():
        if value is None:
            if nulls_remove:
                result.pop(key, None)
        else:
            result[key] = value
    if len(result) > fields.MAX_VALUES_PER_CONTACT:
        raise field_error(
            "customFields", f"a contact has at most {fields.MAX_VALUES_PER_CONTACT} custom fields"
        )
    return result


def new_state(
    workspace_id: str,
    given: ContactInput,
    custom: dict[str, Any] | None,
    *,
    source: str,
    extra_tags: Sequence[str] = (),
    now: str | None = None,
) -> State:
    """The state of a contact created from this input (custom fields already checked)."""
    moment = now or clock.now_iso()
    state = {
        "id": ids.new_id(),
        "workspaceId": workspace_id,
        "email": given.email,
        "phone": given.phone,
        "firstName": given.given.get("firstName"),
        "lastName": given.given.get("lastName"),
        "company": given.given.get("company"),
        "title": given.given.get("title"),
        "customFields": merged_custom({}, custom, nulls_remove=True),
        "tags": merged_tags(given.tags, extra_tags),
        "status": given.given.get("status") or "ACTIVE",
        "statusReason": None,
        "pipelineStage": given.given.get("pipelineStage") or "LEAD",
        "source": given.given.get("source") or source,
        "consent": consent.initial(given.given.get("consent"), source, moment),
        "createdAt": moment,
        "updatedAt": moment,
        "anonymizedAt": None,
        "score": 0,
        "archivedAt": None,
        "revision": 0,
    }
    return consent.reconciled(None, state, source)


def erased_digests(workspace_id: str, email: str | None, phone: str | None) -> dict[str, str]:
    """digest -> the field it stands for, for the identities given."""
    digests = {}
    if email:
        digests[erased_digest(workspace_id, "email", email)] = "email"
    if phone:
        digests[erased_digest(workspace_id, "phone", phone)] = "phone"
    return digests


def same(before: State, after: State) -> bool:
    """True when a write would change nothing a user can see."""
    ignored = ("updatedAt", "revision")
    return all(before.get(k) == after.get(k) for k in after if k not in ignored)


def raise_for(rejected: WriteRejected) -> None:
    """Turn a cancelled write into the API error a client should see, if it is one."""
    if rejected.of_kind("workspace"):
        raise PlanLimitReached("the workspace's plan allows no more contacts; upgrade or delete some")
    if rejected.of_kind("erased"):
        raise PersonErased("email")
    for failure in rejected.of_kind("email", "phone"):
        if failure.code == "ConditionalCheckFailed":
            raise Conflict(
                f"this {failure.kind} is already used by another contact",
                [{"field": failure.kind, "existingContactId": failure.holder_id}],
            )


# ---- writing ----------------------------------------------------------------------------


def create(
    workspace_id: str, given: ContactInput, *, source: str = "api"
) -> tuple[Contact, tuple[dict[str, str], ...]]:
    """Create a contact from a parsed body; never updates. One TransactWriteItems (plus one
    BatchGetItem when the body has custom fields). Its groups are the caller's
    (chalicelib.flows.contacts). Returns it with the custom fields left out (a wrong type, an
    undefined key: `fields.check_salvaging`), as warnings.

    409 `conflict` (details: field, existingContactId) when the email is taken, or when a
    contact without email is created with the phone of another contact without email;
    409 when the person was erased; 402 `plan_limit_reached` past the plan's contacts.
    """
    custom: dict[str, Any] | None = None
    refused: tuple[dict[str, str], ...] = ()
    if given.custom_fields:
        found = read_items(fields.keys_for(workspace_id, given.custom_fields))
        custom, refused = fields.check_salvaging(given.custom_fields, definitions_in(found))
    state = new_state(workspace_id, given, custom, source=source)
    write = plan(None, state, erased_check=list(erased_digests(workspace_id, given.email, given.phone)))
    try:
        commit(workspace_id, [write])
    except WriteRejected as rejected:
        raise_for(rejected)
        raise Conflict("the contact could not be created; try again") from None
    return canonical(state), refused


def patch(workspace_id: str, contact_id: str, data: dict[str, Any]) -> Contact:
    """Change the fields given: null clears one, `tags` replaces the list, `customFields` is
    merged key by key (null removes a key). Any status may be set here (an operator's act;
    only sync refuses to lower one). An anonymised contact cannot be changed (409)."""
    given = parse(data, ContactPatch, lambda: workspace_region(workspace_id))
    custom = None
    if given.custom_fields:
        found = read_items(fields.keys_for(workspace_id, given.custom_fields))
        custom = fields.check(given.custom_fields, definitions_in(found))
    for _ in attempts():
        before = state_of(get(workspace_id, contact_id))
        if before.get("anonymizedAt"):
            raise Conflict("this contact was anonymised; it cannot be changed", [{"field": "id"}])
        after = dict(before)
        after.update(given.given)
        if "consent" in given.given:  # an operator's act: any consent may be set here
            after["consent"] = consent.stated(given.given["consent"], "api", clock.now_iso())
        kept = {} if "customFields" in given.cleared else before["customFields"]
        after["customFields"] = merged_custom(kept, custom, nulls_remove=True)
        if given.tags is not None or "tags" in given.cleared:
            after["tags"] = merged_tags(given.tags or [])
        if after.get("status") != before.get("status"):
            after["statusReason"] = None
        require_identity(after.get("email"), after.get("phone"))
        if same(before, after):
            return canonical(before)
        after["updatedAt"] = clock.now_iso()
        after = consent.reconciled(before, after, "api")
        # A new email or phone must not be an erased person's (as create and sync refuse it).
        new_email = after.get("email") if after.get("email") != before.get("email") else None
        new_phone = after.get("phone") if after.get("phone") != before.get("phone") else None
        erased = list(erased_digests(workspace_id, new_email, new_phone))
        try:
            commit(workspace_id, [plan(before, after, erased_check=erased)])
        except WriteRejected as rejected:
            raise_for(rejected)
            continue
        return canonical(after)
    raise Conflict("the contact kept changing while it was being updated; try again")


def delete(workspace_id: str, contact_id: str) -> None:
    """Remove the contact and its copies (lookups, search tokens, tag links; tag counts and
    the workspace's contactCount go down in the same transaction). Its memberships are the
    caller's (chalicelib.flows.contacts); enrollments are stopped by the campaign engine's
    reaction to the Contact REMOVE record."""
    for _ in attempts():
        before = state_of(get(workspace_id, contact_id))
        try:
            commit(workspace_id, [plan(before, None)])
        except WriteRejected:
            continue
        break
    else:
        raise Conflict("the contact kept changing while it was being deleted; try again")
