"""Writing contacts: one transaction carries a contact, all its copies and its counters.

A contact state is a plain dict (the attributes of models.contacts.ContactData). `plan()`
turns a change (before -> after; None on either side for a create or a delete) into the item
actions it needs:

- the Contact item, conditioned on `revision` (or on not existing yet), so two concurrent
  writers never both win; a change is an UpdateItem that sets every attribute of the state and
  removes the ones it leaves out, so what others keep on the item (the engagement facts,
  chalicelib.contacts.engagement; the score) survives a contact's write without being read
  first; a create is a PutItem;
- its identity lookup (EMAIL#, or PHONE# for a contact without email), conditioned on being
  free or already this contact's: uniqueness is the database's job, not a read's;
- its search tokens and tag links, rewritten whole (they carry a copy of the contact);
- the copies that no longer apply, deleted;
- tag counters (ADD) and the workspace's contactCount (ADD, with the plan limit as the
  condition), merged per transaction when several contacts are written together.

`commit()` sends one TransactWriteItems; a cancelled one raises `WriteRejected`, which says
which action of which contact failed (with the item that stood in the way) so the caller can
answer 409/402 or read again and retry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition

from chalicelib.contacts.identity import search_tokens
from chalicelib.models.contacts import (
    Contact,
    ContactData,
    ContactEmail,
    ContactPhone,
    ContactSearch,
    ContactTag,
    ErasedIdentity,
    TagCount,
)
from chalicelib.models.plans import CONTACT_LIMITS
from chalicelib.models.workspaces import Workspace
from chalicelib.platform.db import Item, connection

MAX_ACTIONS = 100  # TransactWriteItems

# The attributes of a contact state, in the order the API shows them.
STATE_FIELDS = (
    "id",
    "workspaceId",
    "email",
    "phone",
    "firstName",
    "lastName",
    "company",
    "title",
    "customFields",
    "tags",
    "status",
    "statusReason",
    "pipelineStage",
    "source",
    "consent",
    "createdAt",
    "updatedAt",
    "anonymizedAt",
    "score",
    "archivedAt",
    "revision",
)

State = dict[str, Any]


def state_of(item: ContactData) -> State:
    """The plain state of a Contact item or of any of its copies."""
    state = {name: getattr(item, name) for name in STATE_FIELDS}
    custom = state["customFields"]
    state["customFields"] = dict(custom.as_dict() if hasattr(custom, "as_dict") else custom or {})
    state["tags"] = list(state["tags"] or [])
    consent = state["consent"]
    state["consent"] = (
        dict(consent.as_dict() if hasattr(consent, "as_dict") else consent) if consent else None
    )
    state["revision"] = int(state["revision"] or 0)
    state["score"] = int(state["score"] or 0)
    return state


def materialise(cls: type[ContactData], pk: str, sk: str, state: State) -> ContactData:
    """An item of `cls` at (pk, sk) holding the state (nulls left out, as PynamoDB stores them)."""
    values = {k: v for k, v in state.items() if v is not None}
    return cls(pk, sk, **values)


def canonical(state: State) -> Contact:
    ws, contact_id = state["workspaceId"], state["id"]
    item = materialise(Contact, *Contact.key(ws, contact_id), state)
    assert isinstance(item, Contact)
    archived = bool(state.get("archivedAt"))
    # An archived contact leaves the list, status and stage partitions by its keys alone (a
    # sparse index), so pages of those lists stay full; it is listed under CARCHIVED instead.
    item.gsi4pk, item.gsi4sk = Contact.list_partition(ws, archived), contact_id
    if not archived:
        item.gsi1pk, item.gsi1sk = Contact.status_partition(ws, state["status"]), contact_id
        item.gsi2pk, item.gsi2sk = Contact.stage_partition(ws, state["pipelineStage"]), contact_id
    if state.get("phone"):  # who has a phone, email or not (contacts.sync.phone_holders)
        item.gsi3pk, item.gsi3sk = Contact.phone_partition(ws, state["phone"]), contact_id
    return item


def identity_key(state: State) -> tuple[type[ContactData], tuple[str, str]] | None:
    """The lookup that makes this contact unique: its email, else (phone-only) its phone."""
    ws = state["workspaceId"]
    if state.get("email"):
        return ContactEmail, ContactEmail.key(ws, state["email"])
    if state.get("phone"):
        return ContactPhone, ContactPhone.key(ws, state["phone"])
    return None


def copies(state: State) -> dict[tuple[str, str], tuple[str, type[ContactData]]]:
    """Every copy of the contact: (pk, sk) -> (kind, model)."""
    ws, contact_id = state["workspaceId"], state["id"]
    found: dict[tuple[str, str], tuple[str, type[ContactData]]] = {}
    identity = identity_key(state)
    if identity is not None:
        cls, key = identity
        found[key] = ("email" if cls is ContactEmail else "phone", cls)
    if state.get("archivedAt"):
        return found  # archived: found by a sync, but in no search or tag list
    for token in search_tokens(state.get("email"), state.get("firstName"), state.get("lastName")):
        found[ContactSearch.key(ws, token, contact_id)] = ("search", ContactSearch)
    for tag in state.get("tags") or []:
        found[ContactTag.key(ws, tag, contact_id)] = ("tag", ContactTag)
    return found


def counted(state: State | None) -> bool:
    """Whether the contact counts toward the plan's limit and its tags' counts (archived
    contacts do not)."""
    return state is not None and not state.get("archivedAt")


def counted_tags(state: State | None) -> set[str]:
    return set(state["tags"]) if state is not None and counted(state) else set()


@dataclass
class Op:
    """One item action of a transaction, labelled with what it is for."""

    action: str  # put | delete | check | update
    kind: str  # contact | email | phone | search | tag | erased | tagcount | workspace
    contact_id: str | None
    kwargs: dict[str, Any]
    key: tuple[str, str]


@dataclass
class ContactWrite:
    """What one contact's change needs, before it is merged into a transaction."""

    contact_id: str
    before: State | None
    after: State | None
    ops: list[Op] = field(default_factory=list)
    tag_deltas: Counter[str] = field(default_factory=Counter)
    count_delta: int = 0

    @property
    def keys(self) -> set[tuple[str, str]]:
        return {op.key for op in self.ops}


@dataclass(frozen=True)
class Failure:
    kind: str
    contact_id: str | None
    code: str
    item: dict[str, Any] | None  # the item that failed the condition (identity puts only)

    @property
    def holder_id(self) -> str | None:
        """For a failed identity put: the id of the contact that holds the email/phone."""
        raw = (self.item or {}).get("id") or {}
        return raw.get("S")


class WriteRejected(Exception):
    """A transaction was cancelled; `failures` lists the actions that caused it."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__(", ".join(f"{f.kind}:{f.code}" for f in failures) or "transaction cancelled")
        self.failures = failures

    def of_kind(self, *kinds: str) -> list[Failure]:
        return [f for f in self.failures if f.kind in kinds]

    @property
    def contact_ids(self) -> set[str]:
        return {f.contact_id for f in self.failures if f.contact_id}


def plan(
    before: State | None,
    after: State | None,
    *,
    erase: Sequence[str] = (),
    erased_check: Sequence[str] = (),
    now: str | None = None,
) -> ContactWrite:
    """The actions that take a contact from `before` to `after` (bumping after's revision).

    `erase`: ERASED# digests to write (GDPR); `erased_check`: digests that must not exist
    (a create of an erased person's identity fails even when it races the erasure).
    """
    if before is None and after is None:
        raise ValueError("nothing to write")
    subject = after if after is not None else before
    assert subject is not None
    ws, contact_id = subject["workspaceId"], subject["id"]
    write = ContactWrite(contact_id=contact_id, before=before, after=after)
    old_copies = copies(before) if before is not None else {}

    if after is not None:
        after["revision"] = (before["revision"] if before else 0) + 1
        item = canonical(after)
        if before is None:
            # Nothing is on the item yet for others' attributes to survive: a put writes the
            # same item (the same units on AWS; on moto a third of an UpdateItem's work).
            write.ops.append(_put("contact", contact_id, item, Contact.pk.does_not_exist()))
        else:
            write.ops.append(_update_contact(contact_id, item, Contact.revision == before["revision"]))
        for key, (kind, cls) in copies(after).items():
            copy = materialise(cls, *key, after)
            if kind in ("email", "phone"):
                # Free, or already this contact's: the condition that makes identities unique.
                mine = cls.pk.does_not_exist() | (cls.id == contact_id)
                write.ops.append(_put(kind, contact_id, copy, mine, return_old=True))
            else:
                write.ops.append(_put(kind, contact_id, copy, None))
        new_keys = set(copies(after))
    else:
        item = canonical(before)  # type: ignore[arg-type]
        write.ops.append(_delete("contact", contact_id, item, Contact.revision == before["revision"]))  # type: ignore[index]
        new_keys = set()

    for key, (kind, cls) in old_copies.items():
        if key not in new_keys:
            write.ops.append(_delete(kind, contact_id, cls(*key), None))
    for digest in erase:
        marker = ErasedIdentity(*ErasedIdentity.key(ws, digest), erasedAt=now or subject["updatedAt"])
        write.ops.append(_put("erased", contact_id, marker, None))
    for digest in erased_check:
        key = ErasedIdentity.key(ws, digest)
        kwargs = ErasedIdentity.get_operation_kwargs_from_class(
            key[0], range_key=key[1], condition=ErasedIdentity.pk.does_not_exist()
        )
        write.ops.append(Op("check", "erased", contact_id, kwargs, key))

    # Archiving leaves the plan's count and the tags' counts; unarchiving comes back under
    # the plan's limit (the workspace update's condition).
    write.count_delta = int(counted(after)) - int(counted(before))
    old_tags, new_tags = counted_tags(before), counted_tags(after)
    write.tag_deltas.update(dict.fromkeys(new_tags - old_tags, 1))
    write.tag_deltas.update(dict.fromkeys(old_tags - new_tags, -1))
    return write


def _put(kind: str, contact_id: str, item: Item, condition: Condition | None, return_old: bool = False) -> Op:
    kwargs = item.get_save_kwargs_from_instance(
        condition=condition, return_values_on_condition_failure="ALL_OLD" if return_old else None
    )
    return Op("put", kind, contact_id, kwargs, (item.pk, item.sk))


# Kept on the Contact item by others, never set or removed by a contact's own write.
_NOT_STATE = frozenset({"pk", "sk", "engagement"})


def _update_contact(contact_id: str, item: Contact, condition: Condition) -> Op:
    """The Contact item as an UpdateItem: SET what the state holds, REMOVE what it does not."""
    values = item.attribute_values
    actions: list[Any] = []
    for name, attribute in Contact.get_attributes().items():
        if name in _NOT_STATE:
            continue
        value = values.get(name)
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    kwargs = item.get_update_kwargs_from_instance(actions=actions, condition=condition)
    return Op("update", "contact", contact_id, kwargs, (item.pk, item.sk))


def _delete(kind: str, contact_id: str, item: Item, condition: Condition | None) -> Op:
    return Op(
        "delete",
        kind,
        contact_id,
        item.get_delete_kwargs_from_instance(condition=condition),
        (item.pk, item.sk),
    )


def action_count(writes: Iterable[ContactWrite]) -> int:
    """How many actions these writes take in one transaction (counters merged)."""
    writes = list(writes)
    tags = {tag for w in writes for tag, delta in w.tag_deltas.items() if delta}
    workspace = 1 if any(w.count_delta for w in writes) else 0
    return sum(len(w.ops) for w in writes) + len(tags) + workspace


def pack(writes: Sequence[ContactWrite], max_actions: int = MAX_ACTIONS) -> list[list[ContactWrite]]:
    """Group writes into transactions of at most `max_actions` actions, never two actions on
    one item in a transaction (DynamoDB refuses that)."""
    groups: list[list[ContactWrite]] = []
    current: list[ContactWrite] = []
    current_keys: set[tuple[str, str]] = set()
    for write in writes:
        keys = write.keys
        if current and (action_count([*current, write]) > max_actions or keys & current_keys):
            groups.append(current)
            current, current_keys = [], set()
        current.append(write)
        current_keys |= keys
    if current:
        groups.append(current)
    return groups


def commit(workspace_id: str, writes: Sequence[ContactWrite]) -> None:
    """Write these contacts in one TransactWriteItems. Raises WriteRejected when cancelled.

    New contacts raise the workspace's contactCount under the plan's limit: the condition
    fails (kind "workspace") when the count would pass it.
    """
    ops = [op for w in writes for op in w.ops]
    deltas: Counter[str] = Counter()
    for w in writes:
        deltas.update(w.tag_deltas)
    for tag, delta in sorted(deltas.items()):
        if delta:
            counter = TagCount(*TagCount.key(workspace_id, tag))
            kwargs = counter.get_update_kwargs_from_instance(
                actions=[
                    TagCount.contactCount.add(delta),
                    TagCount.name.set(tag),
                    TagCount.type.set(TagCount),
                ]
            )
            ops.append(Op("update", "tagcount", None, kwargs, (counter.pk, counter.sk)))
    count = sum(w.count_delta for w in writes)
    if count:
        workspace = Workspace(*Workspace.key(workspace_id))
        kwargs = workspace.get_update_kwargs_from_instance(
            actions=[Workspace.contactCount.add(count)], condition=_room_for(count)
        )
        ops.append(Op("update", "workspace", None, kwargs, (workspace.pk, workspace.sk)))
    _transact(ops)


def _room_for(added: int) -> Condition:
    """The workspace exists and, on a limited plan, has room for `added` more contacts."""
    condition: Condition = Workspace.pk.exists()
    if added <= 0:
        return condition
    allowed: Condition | None = None
    for plan_name, limit in CONTACT_LIMITS.items():
        term = Workspace.plan == plan_name.value
        if limit is not None:
            term = term & (Workspace.contactCount <= limit - added)
        allowed = term if allowed is None else allowed | term
    assert allowed is not None
    combined: Condition = condition & allowed
    return combined


def _transact(ops: list[Op]) -> None:
    ordered = [op for action in ("check", "delete", "put", "update") for op in ops if op.action == action]
    try:
        connection().transact_write_items(
            condition_check_items=[op.kwargs for op in ordered if op.action == "check"],
            delete_items=[op.kwargs for op in ordered if op.action == "delete"],
            put_items=[op.kwargs for op in ordered if op.action == "put"],
            update_items=[op.kwargs for op in ordered if op.action == "update"],
        )
    except TransactWriteError as error:
        reasons = getattr(error, "cancellation_reasons", None) or []
        if not reasons:
            raise
        failures = [
            Failure(op.kind, op.contact_id, reason.code, reason.raw_item)
            for op, reason in zip(ordered, reasons, strict=False)
            if reason is not None and reason.code not in (None, "None")
        ]
        raise WriteRejected(failures) from None
