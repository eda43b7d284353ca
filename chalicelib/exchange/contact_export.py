"""Contact exports as CSV that spreadsheets open right: inline when small, else built in S3.

`export(workspace_id, filters)` reads the contact list (chalicelib.contacts.search, the same
filters and pages as GET /contacts); `export_filter(workspace_id, checked)` reads a filter's
matches (chalicelib.segments.search, the same pages as POST /contacts/search, so the file holds
exactly the contacts the one evaluator keeps); both then share everything below. Up to
INLINE_ROWS contacts (and, for a filter, INLINE_READ items read), the CSV is the answer
itself (Chalice answers whole bodies, not streams: the pages are read and joined first, a few
hundred KB). Beyond that an export job takes over: an Export item and steps on the
imports queue, each appending a part of at least 5 MB to an S3 multipart upload and
checkpointing the list cursor (condition `step = <its number>`, as imports do), so memory
stays flat and a crash resumes at the part it was writing. The client polls
GET /exports/{id} for a presigned download URL.

The file: UTF-8 with a BOM (Excel reads accents right only with it), CRLF line ends, one
column per custom field (headed by its label, or its key when labels collide), tags joined
by ";", and every cell a spreadsheet would take for a formula (starting with = + - @, a tab
or a carriage return) prefixed with a quote, so a contact named "=HYPERLINK(...)" stays
text. A file exported here imports back unchanged (chalicelib.exchange.column_mapping undoes the
quote and maps every column back).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from pynamodb.exceptions import UpdateError

from chalicelib.contacts.search import ContactFilters, search
from chalicelib.exchange import steps, stored
from chalicelib.exchange.column_mapping import CUSTOM_PREFIX, normalise, standard_headers
from chalicelib.groups import service as groups
from chalicelib.models.contacts import PERSONAL_FIELDS
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.imports import Export
from chalicelib.models.keys import workspace
from chalicelib.platform import clock, config, ids, queues
from chalicelib.platform import files as file_store
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import ValidationFailed
from chalicelib.platform.logs import logger
from chalicelib.platform.queues import LAST_ATTEMPT
from chalicelib.platform.spreadsheet import spreadsheet_safe
from chalicelib.schemas.filters import FilterNode
from chalicelib.segments import rules
from chalicelib.segments.rules import Checked
from chalicelib.segments.search import search as segment_search

BOM = b"\xef\xbb\xbf"
STANDARD_COLUMNS = (
    "id",
    *PERSONAL_FIELDS,
    "status",
    "pipelineStage",
    "tags",
    "source",
    "createdAt",
    "updatedAt",
)
# The contact's consent (docs/consent.md), one column per part: proof of who agreed to what.
CONSENT_COLUMNS = ("consentStatus", "consentAt", "consentSource", "consentText", "consentIp")
HEADER = (*STANDARD_COLUMNS, *CONSENT_COLUMNS)
INLINE_ROWS = 5000  # ~1 MB of CSV: well under Lambda's 6 MB answer
INLINE_READ = 20_000  # items a filter may read inline (a selective filter over many contacts)
FILTER_KEY = "filter"  # in an Export's `filters`: the filter, as JSON
PAGE = 1000
PART_BYTES = 6 * 1024 * 1024  # S3 wants parts of 5 MiB at least (but the last)
DOWNLOAD_SECONDS = 900
STEP_KIND = "export.step"
_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


@dataclass(frozen=True)
class Inline:
    """A small export: the CSV itself."""

    text: str
    file_name: str


def export(workspace_id: str, filters: Mapping[str, Any]) -> Inline | Export:
    """The contacts matching `filters` as CSV (Inline), or the Export job that writes them."""

    wanted = _filters(filters)
    if wanted.group_id:
        groups.get(workspace_id, wanted.group_id)  # 404 rather than an empty file
    return _inline_or_job(workspace_id, filters)


def export_filter(workspace_id: str, checked: Checked) -> Inline | Export:
    """The contacts a filter (checked by segments.rules) matches, as export() answers."""
    node = json.dumps(checked.node.model_dump(by_alias=True, mode="json", exclude_none=True))
    return _inline_or_job(workspace_id, {FILTER_KEY: node})


def _inline_or_job(workspace_id: str, filters: Mapping[str, Any]) -> Inline | Export:
    keys, headers = custom_columns(workspace_id)
    contacts: list[Any] = []
    cursor: str | None = None
    read = 0
    while True:
        page, cursor, scanned = read_page(workspace_id, filters, cursor)
        contacts.extend(page)
        read += scanned
        if len(contacts) > INLINE_ROWS or (cursor is not None and read >= INLINE_READ):
            return _start(workspace_id, filters, keys, headers)
        if cursor is None:
            break
    text = _lines([[*HEADER, *headers], *(row(c, keys) for c in contacts)])
    return Inline("\ufeff" + text, file_name())


def read_page(
    workspace_id: str, filters: Mapping[str, Any], cursor: str | None
) -> tuple[list[Any], str | None, int]:
    """One page of the export's contacts, the next cursor and the items read: the list's
    pages (GET /contacts) or a filter's (POST /contacts/search), whichever the export has."""
    if FILTER_KEY in filters:
        checked = rules.check(workspace_id, _NODE.validate_python(json.loads(str(filters[FILTER_KEY]))))
        return segment_search(workspace_id, checked, limit=PAGE, cursor=cursor)
    page, next_cursor = search(workspace_id, _filters(filters), limit=PAGE, cursor=cursor)
    return page, next_cursor, len(page)


def start(workspace_id: str, filters: Mapping[str, Any]) -> Export:
    """The Export job, whatever the size (a group too large to answer inline)."""
    keys, headers = custom_columns(workspace_id)
    return _start(workspace_id, filters, keys, headers)


def file_name() -> str:
    return f"contacts-{date.today().isoformat()}.csv"


def _filters(filters: Mapping[str, Any]) -> Any:
    return ContactFilters(
        status=filters.get("status"),
        tag=filters.get("tag"),
        group_id=filters.get("groupId"),
        pipeline_stage=filters.get("pipelineStage"),
        q=filters.get("q"),
    )


def custom_columns(workspace_id: str) -> tuple[list[str], list[str]]:
    """(custom field keys, their column headers): labels, or keys where labels collide."""

    definitions = [
        d
        for d in FieldDefinition.query(workspace(workspace_id), FieldDefinition.sk.startswith("FIELD#"))
        if isinstance(d, FieldDefinition)
    ]
    # A label is the header only when the importer cannot read it as anything else: a
    # standard column or one of its synonyms ("Role" is a title), another field's key or
    # label. Otherwise `customFields.<key>`, which the importer maps to that field first.
    taken = {normalise(name) for name in HEADER} | set(standard_headers())
    keys = [normalise(d.key_name) for d in definitions]
    labels = [normalise(d.label) for d in definitions]
    headers = []
    for index, (definition, label) in enumerate(zip(definitions, labels, strict=True)):
        other_keys = keys[:index] + keys[index + 1 :]
        clash = not label or label in taken or labels.count(label) > 1 or label in other_keys
        headers.append(CUSTOM_PREFIX + definition.key_name if clash else definition.label)
    return [d.key_name for d in definitions], headers


def row(contact: Any, custom_keys: Iterable[str]) -> list[str]:
    custom = contact.customFields
    custom = custom.as_dict() if hasattr(custom, "as_dict") else dict(custom or {})
    values = {name: getattr(contact, name, None) for name in STANDARD_COLUMNS}
    values["tags"] = ";".join(contact.tags or [])
    cells = [_text(values[name]) for name in STANDARD_COLUMNS]
    consent = contact.consent
    consent = (consent.as_dict() if hasattr(consent, "as_dict") else dict(consent)) if consent else {}
    cells += [
        _text(consent.get("status") or "NONE"),
        _text(consent.get("at") or contact.createdAt),
        _text(consent.get("source") or contact.source),
        _text(consent.get("text")),
        _text(consent.get("ip")),
    ]
    cells += [_text(custom.get(key)) for key in custom_keys]
    return [spreadsheet_safe(cell) for cell in cells]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float):
        return str(int(value)) if value == int(value) else str(float(value))
    return str(value)


def _lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


# ---- the job ------------------------------------------------------------------------------


def _start(workspace_id: str, filters: Mapping[str, Any], keys: list[str], headers: list[str]) -> Export:
    export_id = ids.new_id()
    key = file_store.export_key(workspace_id, export_id)
    now = clock.now_iso()
    item = Export(
        *Export.key(workspace_id, export_id),
        id=export_id,
        workspaceId=workspace_id,
        filters=dict(filters),
        customKeys=keys,
        customHeaders=headers,
        objectKey=key,
        uploadId=file_store.start_multipart(key),
        createdAt=now,
        updatedAt=now,
    )
    item.save(condition=Export.pk.does_not_exist())
    send_step(item, 0)
    return item


def send_step(item: Export, step: int) -> None:
    message = {"kind": STEP_KIND, "workspaceId": item.workspaceId, "exportId": item.id, "step": step}
    queues.send(config.imports_queue_url(), [message])


def get(workspace_id: str, export_id: str) -> Export:
    return stored.get(Export, workspace_id, export_id)


def view(item: Export) -> dict[str, Any]:
    url = None
    if item.status == "COMPLETED":
        url = file_store.download_url(item.objectKey, DOWNLOAD_SECONDS, f"contacts-{item.createdAt[:10]}.csv")
    return {
        "id": item.id,
        "status": item.status,
        "rows": int(item.rows),
        "downloadUrl": url,
        "failureReason": item.failureReason,
        "createdAt": item.createdAt,
        "finishedAt": item.finishedAt,
    }


def on_step_message(message: dict[str, Any], attempt: int) -> None:
    """One step of a running export (the imports queue)."""
    run_step(message["workspaceId"], message["exportId"], int(message["step"]), attempt)


def run_step(workspace_id: str, export_id: str, step: int, attempt: int = 1) -> None:
    """One part of the file (or, after the last, the completion); late or duplicate messages
    do nothing but re-send the next step when its sender may have died before sending."""
    item = stored.load(Export, workspace_id, export_id)
    if item is None or not steps.due(item, step, send_step):
        return
    try:
        if item.exhausted:
            _complete(item)
        else:
            _write_part(item)
    except ValidationFailed as error:
        # The filter stopped fitting the workspace (a custom field or group it names deleted).
        reason = f"the filter no longer fits the workspace: {error.message}"
        _update(item, [Export.status.set("FAILED"), Export.failureReason.set(reason[:1000])])
    except Exception:
        if attempt < LAST_ATTEMPT:
            raise
        logger.exception("export step failed on its last attempt", extra={"export_id": export_id})
        _update(
            item,
            [Export.status.set("FAILED"), Export.failureReason.set("an internal error stopped the export")],
        )


def _write_part(item: Export) -> None:
    filters = item.filters.as_dict() if hasattr(item.filters, "as_dict") else dict(item.filters)
    keys = list(item.customKeys or [])
    step = int(item.step)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if step == 0:
        buffer.write("\ufeff")
        writer.writerow([*HEADER, *(item.customHeaders or [])])
    cursor: str | None
    cursor, rows = item.cursor, 0
    while buffer.tell() < PART_BYTES:  # characters, a lower bound of the bytes
        page, cursor, _ = read_page(item.workspaceId, filters, cursor)
        writer.writerows(row(contact, keys) for contact in page)
        rows += len(page)
        if cursor is None:
            break
    etag = file_store.upload_part(item.objectKey, item.uploadId, step + 1, buffer.getvalue().encode("utf-8"))
    actions = [
        Export.parts.set([*(item.parts or []), etag]),
        Export.rows.add(rows),
        Export.cursor.set(cursor) if cursor else Export.cursor.remove(),
        Export.exhausted.set(cursor is None),
    ]
    if _update(item, [*actions, Export.step.set(step + 1)], step=step):
        send_step(item, step + 1)


def _complete(item: Export) -> None:
    file_store.complete_multipart(item.objectKey, item.uploadId, list(item.parts or []))
    _update(
        item,
        [
            Export.status.set("COMPLETED"),
            Export.finishedAt.set(clock.now_iso()),
            Export.step.set(int(item.step) + 1),
        ],
        step=int(item.step),
    )


def _update(item: Export, actions: list[Any], step: int | None = None) -> bool:
    condition = Export.status == "RUNNING"
    if step is not None:
        condition = condition & (Export.step == step)
    try:
        item.update(actions=[*actions, Export.updatedAt.set(clock.now_iso())], condition=condition)
    except UpdateError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True
