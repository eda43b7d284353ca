"""What the rows of one import step become: contact bodies (chalicelib.exchange.column_mapping), the
suppression list's verdict, `bulk_sync.sync_many`'s outcome as one of the import's four
results with its reason, the reconciliation with contacts this import created before (a
duplicate further down the file, or a dead attempt of the same step), and the group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.contacts import bulk_sync
from chalicelib.contacts.identity import IdentityError, normalise_email
from chalicelib.contacts.service import read_items
from chalicelib.deliverability import suppression
from chalicelib.exchange import column_mapping
from chalicelib.exchange.column_mapping import CUSTOM_PREFIX, ColumnPlan, CustomField
from chalicelib.groups import memberships
from chalicelib.groups import service as groups
from chalicelib.models.contacts import Contact
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.imports import Import, plain
from chalicelib.models.keys import workspace

if TYPE_CHECKING:
    from chalicelib.exchange.column_mapping import ColumnPlan, CustomField
    from chalicelib.exchange.csv_reading import Layout, Record

_REASONS = {
    "erased": "this person asked to be forgotten (GDPR erasure); never imported again",
    "plan_limit_reached": "the workspace's plan allows no more contacts; upgrade to import this row",
    "exists": "already a contact; left unchanged because updateExisting is false",
}
_SUPPRESSED = {
    "excludedAddress": "this address is on the suppression list; never imported",
    "excludedDomain": "this address's domain is on the suppression list; never imported",
    "erased": _REASONS["erased"],
}
_UNCHANGED = "already a contact with these values"
_DUPLICATE = "duplicate of row {row} in this file: merged into the same contact"
_EARLIER_DUPLICATE = "duplicate of an earlier row in this file: merged into the same contact"
_LEFT_OUT = "left out, the rest of the row was imported"


@dataclass
class RowResult:
    """What became of one data row (numbered from 1) and what the report says of it."""

    row: int
    line: int
    cells: list[str]
    result: str = "failed"  # created | updated | skipped | failed
    reason: str | None = None
    value: str | None = None
    contact_id: str | None = None
    duplicate: bool = False
    # Values left out of the row ({"field", "column", "value", "reason"}), the row imported.
    warnings: list[dict[str, str]] = field(default_factory=list)

    def inline(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "result": self.result,
            "value": self.value,
            "reason": self.reason,
        }

    def entries(self) -> list[dict[str, Any]]:
        """The report's lines of this row: its reason, if any, then one per warning."""
        found = [self.inline()] if self.reason else []
        for warning in self.warnings:
            reason = f'column "{warning["column"]}": {warning["reason"]}; {_LEFT_OUT}'
            found.append(
                {
                    "row": self.row,
                    "line": self.line,
                    "result": "warning",
                    "value": warning["value"],
                    "reason": reason,
                    "column": warning["column"],
                }
            )
        return found


def apply_rows(item: Import, layout: Layout, records: Sequence[Record], claimed_at: str) -> list[RowResult]:
    """Turn records into contacts, sync them, reconcile with a dead attempt's work, and put
    them in the import's group. One RowResult per record, in order."""

    plan = _plan(item)
    custom = custom_fields(item.workspaceId, _mapped_custom_keys(plan))
    width = len(layout.header)
    first = int(item.processedRows) + 1
    results = [RowResult(first + i, record.line, record.cells) for i, record in enumerate(records)]
    bodies: list[dict[str, Any]] = []
    synced: list[RowResult] = []
    for result, record in zip(results, records, strict=True):
        extra = [cell for cell in record.cells[width:] if cell.strip()]
        if record.error:
            result.reason = record.error
            result.value = record.cells[0][:200] if record.cells else None  # the line as it is
        elif extra:
            result.reason = (
                f"the row has {width + len(extra)} values but the header has {width} columns; "
                "is a value containing the delimiter missing its quotes?"
            )
        else:
            bodies.append(column_mapping.row_to_contact(record.cells, plan, custom))
            synced.append(result)
    bodies, synced = _without_suppressed(item.workspaceId, bodies, synced)
    if bodies:
        outcomes = bulk_sync.sync_many(
            item.workspaceId,
            bodies,
            update_existing=bool(item.updateExisting),
            source=_source(item),
            extra_tags=list(item.tags or []),
            salvage=True,
        )
        first_row_of: dict[str, int] = {}
        for outcome in outcomes:
            _settle(synced[outcome.index], outcome, bodies[outcome.index], first_row_of)
            synced[outcome.index].warnings = _located(plan, outcome.warnings)
        _reconcile(item, synced, bodies, claimed_at)
    return results


def _located(plan: ColumnPlan, warnings: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Warnings with the column their value came from (by the column plan)."""
    found = []
    for warning in warnings:
        name = warning["field"]
        columns = plan.columns_for(name) or (
            plan.columns_for("fullName") if name in ("firstName", "lastName") else []
        )
        column = plan.header[columns[0]] if columns and columns[0] < len(plan.header) else name
        found.append({**warning, "column": column or name})
    return found


def _without_suppressed(
    workspace_id: str, bodies: list[dict[str, Any]], results: list[RowResult]
) -> tuple[list[dict[str, Any]], list[RowResult]]:
    """Rows whose email is on the suppression list (or was erased) are skipped, never synced:
    an import must not bring back an address that asked to hear no more."""

    emails: dict[int, str] = {}
    for index, body in enumerate(bodies):
        try:
            emails[index] = normalise_email(str(body["email"])) if body.get("email") else ""
        except IdentityError:
            continue  # sync_many fails the row with the email's own message
    reasons = suppression.suppressed(workspace_id, {e for e in emails.values() if e}) if emails else {}
    kept_bodies, kept_results = [], []
    for index, (body, result) in enumerate(zip(bodies, results, strict=True)):
        reason = reasons.get(emails.get(index) or "")
        if reason:
            result.result, result.value = "skipped", emails[index]
            result.reason = _SUPPRESSED.get(reason, reason)
        else:
            kept_bodies.append(body)
            kept_results.append(result)
    return kept_bodies, kept_results


def _settle(result: RowResult, outcome: Any, body: dict[str, Any], first_row_of: dict[str, int]) -> None:
    """A sync_many outcome as one of the import's four results, with its reason."""
    result.contact_id = outcome.contact_id
    result.value = outcome.value or body.get("email") or body.get("phone")
    kind, reason = outcome.result, outcome.reason
    if outcome.contact_id and kind != "failed":
        first_row_of.setdefault(outcome.contact_id, result.row)
    if kind == "created":
        result.result, result.reason = "created", None
    elif reason == "duplicate_in_batch":
        result.result = "updated" if kind == "updated" else "skipped"
        result.reason = _DUPLICATE.format(row=first_row_of.get(outcome.contact_id or "", "?"))
        result.duplicate = True
    elif kind == "updated":
        result.result, result.reason = "updated", None
    elif kind == "unchanged":
        result.result, result.reason = "skipped", _REASONS["exists"] if reason == "exists" else _UNCHANGED
    else:
        result.result = "skipped" if kind == "skipped" else "failed"
        result.reason = _REASONS.get(reason or "", reason or "not imported")


def _reconcile(item: Import, synced: list[RowResult], bodies: list[dict[str, Any]], claimed_at: str) -> None:
    """Rows whose contact this very import created: by this step's dead attempt (the row was
    really "created"), or by an earlier step (a duplicate row further down the file, merged
    as sync_many merges duplicates within one call). Then the group, if any."""

    ours = _source(item)
    candidates = [
        r for r in synced if r.contact_id and r.result in ("updated", "skipped") and not r.duplicate
    ]
    wanted: set[str | None] = (
        {r.contact_id for r in synced if r.contact_id and r.result != "failed"} if item.groupId else set()
    )
    wanted |= {r.contact_id for r in candidates}
    contacts = _read_contacts(item.workspaceId, [cid for cid in wanted if cid])
    earlier: list[tuple[RowResult, dict[str, Any]]] = []
    for result in candidates:
        contact = contacts.get(result.contact_id or "")
        if contact is None or contact.source != ours:
            continue
        if contact.createdAt >= claimed_at:
            result.result, result.reason = "created", None
        else:
            earlier.append((result, bodies[synced.index(result)]))
    if earlier and not item.updateExisting:
        again = bulk_sync.sync_many(
            item.workspaceId,
            [body for _, body in earlier],
            update_existing=True,
            source=ours,
            extra_tags=list(item.tags or []),
            salvage=True,
        )
        for outcome in again:
            result, body = earlier[outcome.index]
            _settle(result, outcome, body, {})
    for result, _ in earlier:
        if result.result in ("updated", "skipped"):
            result.reason, result.duplicate = _EARLIER_DUPLICATE, True
    if item.groupId:
        _join_group(item, synced, contacts)


def _join_group(item: Import, synced: list[RowResult], contacts: Mapping[str, Any]) -> None:
    """Every row's contact joins the group through memberships.add_contacts (existing members
    are not written again, so a dynamic group enrolls each new member exactly once)."""

    group = groups.get(item.workspaceId, item.groupId or "", consistent=True)
    joining = list(
        dict.fromkeys(
            r.contact_id for r in synced if r.contact_id and r.result != "failed" and r.contact_id in contacts
        )
    )
    if joining:
        memberships.add_contacts(item.workspaceId, group, [contacts[cid] for cid in joining])


def _read_contacts(workspace_id: str, contact_ids: Sequence[str]) -> dict[str, Any]:
    """Contacts by id, strongly consistent (they may have been written a moment ago)."""

    found = read_items(Contact.key(workspace_id, cid) for cid in contact_ids)
    return {item.id: item for item in found.values() if isinstance(item, Contact)}


def _source(item: Import) -> str:
    return f"import:{item.id}"


def _plan(item: Import) -> ColumnPlan:
    targets = {int(index): str(target) for index, target in plain(item.targets or {}).items()}
    return ColumnPlan(list(item.header or []), targets)


def _mapped_custom_keys(plan: ColumnPlan) -> list[str]:
    return [t.removeprefix(CUSTOM_PREFIX) for t in plan.targets.values() if t.startswith(CUSTOM_PREFIX)]


def custom_fields(workspace_id: str, keys: Sequence[str] | set[str] | None = None) -> dict[str, CustomField]:
    """The workspace's custom fields (all: one Query; some: one BatchGetItem), by key."""

    if keys is None:
        found: Any = FieldDefinition.query(workspace(workspace_id), FieldDefinition.sk.startswith("FIELD#"))
    elif keys:
        found = FieldDefinition.batch_get(
            [FieldDefinition.key(workspace_id, key) for key in sorted(set(keys))]
        )
    else:
        return {}
    return {
        d.key_name: CustomField(d.key_name, d.label, d.fieldType, tuple(d.options or ()))
        for d in found
        if isinstance(d, FieldDefinition)
    }
