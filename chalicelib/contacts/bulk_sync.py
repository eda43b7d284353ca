"""Upsert MANY contacts in phases (`sync_many`, for imports, database syncs and group
pastes), under the same rules as one (chalicelib.contacts.sync): parse the rows, read what
they name, check their custom fields, decide each row in memory against the contacts as the
earlier rows left them, then write the changed contacts.

Requests: `sync_many` reads the workspace once, the lookups in BatchGetItem requests of 100
keys and writes in TransactWriteItems of up to 100 actions; a cancelled transaction is redone
row by row (each row then as `sync_one` syncs it: chalicelib.contacts.sync.sync_single).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.contacts import fields, salvage
from chalicelib.contacts.input import ContactInput, parse
from chalicelib.contacts.matching import Match, decide
from chalicelib.contacts.service import (
    PersonErased,
    definitions_in,
    erased_digests,
    merged_tags,
    new_state,
    read_items,
    require_identity,
    same,
)
from chalicelib.contacts.store import ContactWrite, State, WriteRejected, commit, pack, plan, state_of
from chalicelib.contacts.sync import (
    erased_keys,
    holders_to_ask,
    left_out,
    lookup_keys,
    merged_contact,
    phone_holders,
    sync_single,
)
from chalicelib.models.contacts import ContactEmail, ContactPhone, ErasedIdentity
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.plans import contact_limit
from chalicelib.models.workspaces import Workspace
from chalicelib.platform import clock
from chalicelib.platform.db import Item
from chalicelib.platform.errors import ApiError, PlanLimitReached, ValidationFailed
from chalicelib.schemas.contacts import ContactCreate


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one input row of `sync_many` (`index` = its position in `rows`).

    result: created | updated | unchanged | skipped | failed. `reason` says why for
    skipped/failed rows and for duplicates ("duplicate_in_batch") or existing contacts left
    as they were ("exists"); `value` is the offending value when there is one.
    """

    index: int
    result: str
    contact_id: str | None = None
    reason: str | None = None
    value: str | None = None
    warnings: tuple[dict[str, str], ...] = ()  # values of the row left out (see sync.SyncResult)


@dataclass
class _Row:
    index: int
    given: ContactInput
    custom: dict[str, Any] | None = None
    warnings: tuple[dict[str, str], ...] = ()  # values left out (salvage)


class _Batch:
    """The contacts of one sync_many call as they will be after its rows, in memory: who owns
    which email and phone, each touched contact's stored state and its new state."""

    def __init__(self, workspace_id: str, found: dict[tuple[str, str], Item]) -> None:
        self.workspace_id = workspace_id
        self.email_owner: dict[str, str] = {}
        self.phone_owner: dict[str, str] = {}
        self.before: dict[str, State | None] = {}
        self.after: dict[str, State] = {}
        self.erased = {
            item.sk.removeprefix("ERASED#") for item in found.values() if isinstance(item, ErasedIdentity)
        }
        for item in found.values():
            if isinstance(item, ContactEmail | ContactPhone):
                state = state_of(item)
                self.before.setdefault(state["id"], state)
                self.after.setdefault(state["id"], copy.deepcopy(state))
                self._index(state)

    def _index(self, state: State) -> None:
        if state.get("email"):
            self.email_owner[state["email"]] = state["id"]
        elif state.get("phone"):
            self.phone_owner[state["phone"]] = state["id"]

    def phone_holders(self, phone: str) -> frozenset[str]:
        """Who has the phone once this batch's rows so far are applied: the contacts it holds
        in memory as they now are, and the others as the table says."""
        stored = {cid for cid in phone_holders(self.workspace_id, phone) if cid not in self.after}
        held = {cid for cid, state in self.after.items() if state.get("phone") == phone}
        return frozenset(stored | held)

    def apply(self, old: State | None, new: State) -> None:
        if old is not None and old.get("phone") and not old.get("email") and new.get("email"):
            self.phone_owner.pop(old["phone"], None)  # a phone-only contact that gained an email
        self.before.setdefault(new["id"], None)
        self.after[new["id"]] = new
        self._index(new)


def sync_many(
    workspace_id: str,
    rows: Sequence[dict[str, Any]],
    *,
    update_existing: bool,
    source: str,
    extra_tags: Sequence[str] = (),
    dry_run: bool = False,
    salvage: bool = False,
) -> list[RowOutcome]:
    """Sync many contacts; one RowOutcome per row, in order (see RowOutcome). `dry_run`
    decides every row the same way and writes nothing (a "created" row's id is then unused).
    `salvage` (imports): a refused value beside a usable identity is left out of its row and
    listed in the outcome's `warnings` (`parse_salvaging`, `fields.check_salvaging`); the row
    fails only without a usable identity or past a hard rule (plan limit, erasure).

    Same matching as sync_one. Rows naming the same person are merged (the later occurrence
    reports reason "duplicate_in_batch"); invalid rows fail with a reason naming the field;
    erased persons are skipped (reason "erased"); past the plan's limit rows fail with
    "plan_limit_reached". With update_existing=False an existing contact keeps its fields and
    only gains `extra_tags`.

    Phases: parse the rows, read what they name (one pass of BatchGetItem), check their custom
    fields, decide each row against the contacts as the earlier rows left them (in memory),
    then write the changed contacts in transactions.
    """
    workspace = Workspace.get(*Workspace.key(workspace_id), consistent_read=True)
    run = _Run(
        workspace_id, rows, source, merged_tags(extra_tags), update_existing, [None] * len(rows), salvage
    )
    parsed = _parse_rows(run, workspace.defaultRegion or "FR")
    found = _read_for(run, parsed)
    valid = _with_custom_fields(run, parsed, definitions_in(found))
    batch = _Batch(workspace_id, found)
    row_contact = _decide(run, valid, batch, _room(workspace))
    if not dry_run:
        _write(run, batch, row_contact, valid)
    return [outcome for outcome in run.outcomes if outcome is not None]


@dataclass
class _Run:
    """One sync_many call: its input, and each row's outcome once decided (by position)."""

    workspace_id: str
    rows: Sequence[dict[str, Any]]
    source: str
    tags: list[str]
    update_existing: bool
    outcomes: list[RowOutcome | None]
    salvage: bool = False

    def failed(self, index: int, error: ApiError) -> None:
        self.outcomes[index] = _failed(index, error, self.rows[index])


def _room(workspace: Workspace) -> int | None:
    """How many contacts the plan lets this call create (None: no limit)."""
    limit = contact_limit(workspace.plan)
    return None if limit is None else max(0, limit - int(workspace.contactCount or 0))


def _parse_rows(run: _Run, region: str) -> list[_Row]:
    """Each row as a contact input; a row that is not one fails with the field at fault."""
    parsed: list[_Row] = []
    for index, data in enumerate(run.rows):
        refused: tuple[dict[str, str], ...] = ()
        try:
            if run.salvage:
                given, refused = salvage.parse_salvaging(data, lambda: region, run.tags)
            else:
                given = parse(data, ContactCreate, lambda: region)
                require_identity(given.email, given.phone)
                merged_tags(given.tags, run.tags)
        except ApiError as error:
            run.failed(index, error)
            continue
        parsed.append(_Row(index, given, warnings=refused))
    return parsed


def _read_for(run: _Run, rows: Sequence[_Row]) -> dict[tuple[str, str], Item]:
    """In one pass: the rows' email and phone lookups (carrying their contacts), their erasure
    hashes and the definitions of the custom fields they set."""
    custom_keys = {key for row in rows for key in row.given.custom_fields or {}}
    lookups: list[tuple[str, str]] = list(fields.keys_for(run.workspace_id, custom_keys))
    for row in rows:
        given = row.given
        lookups += lookup_keys(run.workspace_id, given)
        lookups += erased_keys(run.workspace_id, erased_digests(run.workspace_id, given.email, given.phone))
    return read_items(lookups)


def _with_custom_fields(
    run: _Run, rows: Sequence[_Row], definitions: dict[str, FieldDefinition]
) -> list[_Row]:
    """The rows whose custom fields fit their definitions (checked values kept on the row);
    the others fail."""
    valid: list[_Row] = []
    for row in rows:
        try:
            if row.given.custom_fields and run.salvage:
                row.custom, refused = fields.check_salvaging(row.given.custom_fields, definitions)
                row.given.custom_fields = dict(row.custom)  # what a redo (`_one_row`) checks again
                row.warnings += refused
            elif row.given.custom_fields:
                row.custom = fields.check(row.given.custom_fields, definitions)
        except ApiError as error:
            run.failed(row.index, error)
            continue
        valid.append(row)
    return valid


def _decide(run: _Run, rows: Sequence[_Row], batch: _Batch, room: int | None) -> dict[int, str]:
    """Each row's outcome against `batch`, which each row updates for the rows after it;
    returns the contact each created or updated row went to (row index -> contact id)."""
    now = clock.now_iso()
    row_contact: dict[int, str] = {}
    touched: set[str] = set()
    created = 0
    for row in rows:
        given = row.given
        erased_value = _erased_value(run.workspace_id, given, batch)
        if erased_value:
            run.outcomes[row.index] = RowOutcome(row.index, "skipped", None, "erased", erased_value)
            continue
        email_owner = batch.email_owner.get(given.email) if given.email else None
        phone_owner = batch.phone_owner.get(given.phone) if given.phone else None
        holders: frozenset[str] = frozenset()
        if email_owner and holders_to_ask(batch.after.get(email_owner), phone_owner, given.phone):
            holders = batch.phone_holders(str(given.phone))
        match = decide(given.email, given.phone, email_owner, phone_owner, holders)
        if match.target_id is None:
            if room is not None and created >= room:
                run.outcomes[row.index] = RowOutcome(
                    row.index, "failed", None, "plan_limit_reached", given.email or given.phone
                )
                continue
            state = _create_in(run, row, batch, now)
            created += 1
        else:
            merged = _merge_into(
                run, row, batch, match, match.target_id, duplicate=match.target_id in touched
            )
            if merged is None:
                continue
            state = merged
        row_contact[row.index] = state["id"]
        touched.add(state["id"])
    return row_contact


def _erased_value(workspace_id: str, given: ContactInput, batch: _Batch) -> str | None:
    """The email or phone of the row that names an erased person (None when none does)."""
    digests = erased_digests(workspace_id, given.email, given.phone)
    erased_field = next((f for d, f in digests.items() if d in batch.erased), None)
    if not erased_field:
        return None
    return given.email if erased_field == "email" else given.phone


def _create_in(run: _Run, row: _Row, batch: _Batch, now: str) -> State:
    """The row as a new contact, in `batch`."""
    state = new_state(
        run.workspace_id, row.given, row.custom, source=run.source, extra_tags=run.tags, now=now
    )
    batch.apply(None, state)
    run.outcomes[row.index] = RowOutcome(row.index, "created", state["id"], warnings=row.warnings)
    return state


def _merge_into(
    run: _Run, row: _Row, batch: _Batch, match: Match, target_id: str, *, duplicate: bool
) -> State | None:
    """The row merged into the contact it matched (`target_id`), in `batch`; None when the
    merge fails (the row's outcome says why)."""
    current = batch.after[target_id]
    ours = batch.before.get(target_id) is None  # created by an earlier row
    try:  # the merge can pass a contact's limits (tags, custom fields)
        state = merged_contact(
            current, row.given, row.custom, match, run.tags, run.update_existing or ours, run.source
        )
    except ApiError as error:
        run.failed(row.index, error)
        return None
    batch.apply(current, state)
    result = "unchanged" if same(current, state) else "updated"
    reason = "duplicate_in_batch" if duplicate else (None if run.update_existing else "exists")
    warnings = _warnings(
        row, state, applied=run.update_existing or ours, unarchived=bool(current.get("archivedAt"))
    )
    run.outcomes[row.index] = RowOutcome(row.index, result, target_id, reason, warnings=warnings)
    return state


def _write(run: _Run, batch: _Batch, row_contact: dict[int, str], rows: Sequence[_Row]) -> None:
    """Write every contact the rows changed, in transactions of up to 100 actions; the rows of
    a cancelled transaction are synced again one by one."""
    rows_of: dict[str, list[int]] = {}
    for index, contact_id in row_contact.items():
        rows_of.setdefault(contact_id, []).append(index)
    by_index = {row.index: row for row in rows}
    for group in pack(_by_tags(_changes(batch))):
        try:
            commit(run.workspace_id, group)
        except WriteRejected:
            redo = sorted(i for w in group for i in rows_of.get(w.contact_id, []))
            _redo_rows(run, [by_index[index] for index in redo])


def _changes(batch: _Batch) -> list[ContactWrite]:
    writes = []
    for contact_id, after in batch.after.items():
        before = batch.before.get(contact_id)
        if before is not None and same(before, after):
            continue
        # No ERASED# condition on bulk creates: the read saw no erasure, and erasing a person
        # created between this read and this write is not worth an action per row.
        writes.append(plan(before, after))
    return writes


def _by_tags(writes: list[ContactWrite]) -> list[ContactWrite]:
    """The writes that add the same tags side by side: a transaction carries one counter
    update per tag it moves (2 write units each), so rows tagged alike share them (an import
    whose rows carry ten different tags: 4 counter updates per transaction instead of 13).
    Kept in order when two writes touch one item (the first may free what the second takes)."""
    keys = [key for write in writes for key in write.keys]
    if len(keys) != len(set(keys)):
        return writes
    return sorted(writes, key=lambda write: sorted(write.tag_deltas))


def _redo_rows(run: _Run, rows: Sequence[_Row]) -> None:
    seen: set[str] = set()
    for row in rows:
        outcome = _one_row(run.workspace_id, row, run.source, run.tags, run.update_existing)
        if outcome.contact_id in seen:
            outcome = replace(outcome, reason="duplicate_in_batch")  # its warnings stay
        seen.add(outcome.contact_id or "")
        run.outcomes[row.index] = outcome


def _one_row(
    workspace_id: str, row: _Row, source: str, extra_tags: Sequence[str], update_existing: bool
) -> RowOutcome:
    """A row whose batched transaction was cancelled, synced alone with fresh reads."""
    try:
        result, state, unarchived, _ = sync_single(  # its custom fields were checked already
            workspace_id, row.given, source=source, extra_tags=extra_tags, update_existing=update_existing
        )
    except PersonErased:
        return RowOutcome(row.index, "skipped", None, "erased", row.given.email or row.given.phone)
    except PlanLimitReached:
        return RowOutcome(row.index, "failed", None, "plan_limit_reached", row.given.email or row.given.phone)
    except ApiError as error:
        return RowOutcome(row.index, "failed", None, _reason(error), row.given.email or row.given.phone)
    reason = None if update_existing or result == "created" else "exists"
    warnings = _warnings(row, state, applied=update_existing or result == "created", unarchived=unarchived)
    return RowOutcome(row.index, result, state["id"], reason, warnings=warnings)


def _warnings(row: _Row, state: State, *, applied: bool, unarchived: bool) -> tuple[dict[str, str], ...]:
    """A synced row's warnings, batched or redone alone: the values salvage left out, the
    phone the matching rules kept when the row's values were applied (`left_out`), and the
    unarchive of an archived contact it matched."""
    warnings = row.warnings + (left_out(row.given, state) if applied else ())
    if unarchived:
        field = "email" if row.given.email else "phone"
        value = str(row.given.email or row.given.phone)
        warnings += ({"field": field, "value": value, "reason": "archived contact unarchived"},)
    return warnings


def _failed(index: int, error: ApiError, data: Any) -> RowOutcome:
    value = None
    details = error.details or []
    field = details[0].get("field") if details else None
    if isinstance(data, dict) and field in data and isinstance(data[field], str | int | float):
        value = str(data[field])
    return RowOutcome(index, "failed", None, _reason(error), value)


def _reason(error: ApiError) -> str:
    if isinstance(error, ValidationFailed) and error.details:
        first = error.details[0]
        return f"{first.get('field', 'body')}: {first.get('message', error.message)}"
    return error.message
