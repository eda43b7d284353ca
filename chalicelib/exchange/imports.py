"""CSV imports: creation, the steps that run them from the imports queue, and what they report.

Lifecycle of an import (models/imports.py holds its item):

1. `create_upload` (an upload URL is handed out) or `create_from_body` (a small file sent in
   the request is stored at once): the import is PENDING and its file's key is
   `uploads/<ws>/<id>.csv` in the imports bucket.
2. The file lands: S3 notifies the imports queue; `on_object_created` reads the first bytes
   (encoding, delimiter, header, column mapping), marks the import RUNNING and sends step 0.
3. Steps, one SQS message each, in order: counting slices (the whole file is read once,
   streamed, so `totalRows` is known early and a file broken beyond repair fails before any
   contact is written), then chunks of CHUNK_ROWS rows, then the finish (error report).

Every step checkpoints in the import item with the condition `step = <its number>`: where the
next row starts (byte offset and line), the counters and the first errors. A step that dies
before its checkpoint runs again from the same offset when SQS delivers its message again;
rows go through `contact_sync.sync_many`, which never creates a contact twice, and the
contacts that the dead attempt created are recognised (their source is this import and they
are newer than the step's first start), so the counters come out as without the crash.

Each row ends in exactly one of created, updated, skipped, failed; the last two (and
duplicates merged into an earlier row) carry a reason and are written to the error report.
A value left out of an imported row (a bad phone beside a valid email, a bad custom value:
docs/imports.md, Warnings) is a warning line of the report, counted in `warnings`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.exchange import column_mapping, csv_reading, import_rows
from chalicelib.exchange.contact_export import BOM, spreadsheet_safe
from chalicelib.exchange.csv_reading import Layout, UnreadableFile, records
from chalicelib.groups import service as groups
from chalicelib.models.imports import Import, plain
from chalicelib.platform import clock, config, ids, pagination, queues
from chalicelib.platform import files as file_store
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.platform.logs import logger
from chalicelib.platform.queues import LAST_ATTEMPT  # a step failing on it makes the import FAILED

if TYPE_CHECKING:
    from chalicelib.exchange.csv_reading import Layout, Record

CHUNK_ROWS = 1000  # rows per import step: ~10 BatchGetItem and ~50 TransactWriteItems
CHUNK_BYTES = 4 * 1024 * 1024
COUNT_BYTES = 32 * 1024 * 1024  # bytes per counting step (a second or two of reading)
MAX_INLINE_ERRORS = 100
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024**3
UPLOAD_URL_SECONDS = 3600
REPORT_URL_SECONDS = 900
INLINE_REPORT_BYTES = 1024 * 1024
STEP_KIND = "import.step"
REPORT_COLUMNS = ["row", "line", "result", "reason", "value"]

_REPLACED = "the file was replaced or deleted while it was being imported; start a new import"


@dataclass(frozen=True)
class Options:
    """What the client chose (API.md: groupId, tags, mapping, updateExisting)."""

    group_id: str | None = None
    tags: tuple[str, ...] = ()
    mapping: Mapping[str, str | None] = field(default_factory=dict)
    update_existing: bool = False
    file_name: str | None = None


# ---- creating -----------------------------------------------------------------------------


def create_upload(workspace_id: str, options: Options) -> tuple[Import, str]:
    """A PENDING import and the presigned URL to PUT its file to (valid an hour)."""
    item = _new(workspace_id, options, source="upload")
    return item, file_store.upload_url(item.objectKey, UPLOAD_URL_SECONDS)


def create_from_body(workspace_id: str, body: bytes, options: Options) -> Import:
    """A PENDING import of a file sent in the request; storing it starts the import."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"a CSV body is limited to {MAX_BODY_BYTES // (1024 * 1024)} MB; "
            "send the options as JSON to get an upload URL for larger files"
        )
    if not body.strip():
        raise InvalidRequest("the CSV body is empty")
    item = _new(workspace_id, options, source="body")
    file_store.put(item.objectKey, body)
    return item


def _new(workspace_id: str, options: Options, source: str) -> Import:
    _check_options(workspace_id, options)
    import_id = ids.new_id()
    now = clock.now_iso()
    item = Import(
        *Import.key(workspace_id, import_id),
        id=import_id,
        workspaceId=workspace_id,
        source=source,
        fileName=options.file_name,
        groupId=options.group_id,
        tags=list(options.tags),
        mapping=dict(options.mapping),
        updateExisting=options.update_existing,
        objectKey=file_store.upload_key(workspace_id, import_id),
        createdAt=now,
        updatedAt=now,
    )
    item.save(condition=Import.pk.does_not_exist())
    return item


def _check_options(workspace_id: str, options: Options) -> None:
    """404 for a group that is not the workspace's; 422 for a mapping to an unknown field."""

    if options.group_id:
        groups.get(workspace_id, options.group_id)
    wanted = {
        target.removeprefix(column_mapping.CUSTOM_PREFIX)
        for target in options.mapping.values()
        if target and target != column_mapping.IGNORE and target not in column_mapping.STANDARD_FIELDS
    }
    known = set(import_rows.custom_fields(workspace_id, wanted)) if wanted else set()
    details = column_mapping.check_mapping(options.mapping, known)
    if details:
        raise ValidationFailed(f"{details[0]['field']}: {details[0]['message']}", details)


# ---- reading ------------------------------------------------------------------------------


def get(workspace_id: str, import_id: str) -> Import:
    """The import; 404 for an unknown id or one of another workspace."""
    if not ids.is_id(import_id):
        raise NotFound("import not found")
    item = _load(workspace_id, import_id)
    if item is None:
        raise NotFound("import not found")
    return item


def _load(workspace_id: str, import_id: str) -> Import | None:
    try:
        return Import.get(*Import.key(workspace_id, import_id), consistent_read=True)
    except DoesNotExist:
        return None


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[Import], str | None]:
    """The workspace's imports, newest first (one Query)."""
    scope = f"imports:{workspace_id}"
    page = Import._get_connection().query(
        Import.key(workspace_id, "")[0],
        range_key_condition=Import.sk.startswith("IMPORT#"),
        limit=limit,
        exclusive_start_key=pagination.decode(cursor, scope),
        scan_index_forward=False,
    )
    items = [Import.from_raw_data(raw) for raw in page.get("Items", [])]
    return items, pagination.encode(page.get("LastEvaluatedKey"), scope)


def view(item: Import) -> dict[str, Any]:
    finished = item.status in ("COMPLETED", "FAILED")
    return {
        "id": item.id,
        "status": item.status,
        "fileName": item.fileName,
        "groupId": item.groupId,
        "tags": list(item.tags or []),
        "updateExisting": bool(item.updateExisting),
        "totalRows": int(item.totalRows) if item.totalRows is not None else None,
        "processedRows": int(item.processedRows),
        "created": int(item.created),
        "updated": int(item.updated),
        "skipped": int(item.skipped),
        "failed": int(item.failed),
        "warnings": int(item.warnings or 0),
        "errors": [_error_view(error) for error in item.errors or []],
        "errorCount": int(item.errorCount),
        "errorReportUrl": f"/api/v1/imports/{item.id}/errors.csv" if finished else None,
        "columns": plain(item.columns) if item.columns is not None else None,
        "encoding": item.encoding,
        "delimiter": item.delimiter,
        "failureReason": item.failureReason,
        "createdAt": item.createdAt,
        "startedAt": item.startedAt,
        "finishedAt": item.finishedAt,
    }


def _error_view(error: Any) -> dict[str, Any]:
    data = plain(error)
    return {
        "row": int(data["row"]),
        "line": int(data["line"]),
        "result": data["result"],
        "value": data.get("value"),
        "reason": data["reason"],
        "column": data.get("column"),
    }


@dataclass(frozen=True)
class Report:
    """The error report: its bytes when small, else a URL to download it from."""

    body: bytes | None = None
    url: str | None = None


def error_report(workspace_id: str, import_id: str) -> Report:
    """Every skipped and failed row (and merged duplicate) with its reason and its cells."""
    item = get(workspace_id, import_id)
    if item.status not in ("COMPLETED", "FAILED"):
        raise Conflict("the error report is ready once the import has finished", [{"field": "status"}])
    key = file_store.report_key(workspace_id, import_id)
    size = file_store.size_of(key) if item.errorCount else None
    if size is None:
        if item.errorCount:
            raise NotFound("the error report has expired (reports are kept 30 days)")
        return Report(body=_report_header(item))
    if size <= INLINE_REPORT_BYTES:
        return Report(body=file_store.get(key))
    # The same name as the inline report's: the client's file name may hold quotes or accents
    # that a Content-Disposition header cannot carry as they are.
    return Report(url=file_store.download_url(key, REPORT_URL_SECONDS, f"import-{item.id}-errors.csv"))


# ---- the queue ----------------------------------------------------------------------------


def on_s3_notification(message: dict[str, Any], attempt: int = 1) -> None:
    """S3's notification of uploaded files (the imports queue): each new object starts its
    import. S3's own test event, sent when notifications are set up, is nothing to do."""
    for entry in message.get("Records", ()):
        created = str(entry.get("eventName", "")).startswith("ObjectCreated")
        if entry.get("eventSource") == "aws:s3" and created:
            obj = entry["s3"]["object"]
            on_object_created(obj["key"], str(obj.get("eTag", "")).strip('"'), int(obj.get("size", 0)))


def on_step_message(message: dict[str, Any], attempt: int) -> None:
    """One step of a running import (the imports queue)."""
    workspace_id, import_id = message["workspaceId"], message["importId"]
    step = int(message["step"])
    _guarded(workspace_id, import_id, attempt, lambda: run_step(workspace_id, import_id, step))


def _guarded(workspace_id: str, import_id: str, attempt: int, step: Any) -> None:
    """Run a step; on its last delivery, a failure marks the import FAILED instead of sending
    the message to the dead-letter queue with the import stuck in RUNNING."""
    try:
        step()
    except Exception:
        if attempt < LAST_ATTEMPT:
            raise
        logger.exception("import step failed on its last attempt", extra={"import_id": import_id})
        item = _load(workspace_id, import_id)
        if item is not None:
            _fail(
                item,
                f"an internal error stopped the import after {int(item.processedRows)} rows; "
                "the rows before it were imported",
            )


def send_step(item: Import, step: int) -> None:
    message = {"kind": STEP_KIND, "workspaceId": item.workspaceId, "importId": item.id, "step": step}
    queues.send(config.imports_queue_url(), [message])


def on_object_created(raw_key: str, etag: str, size: int) -> None:
    """An uploaded file landed: start its import (once; S3 may notify twice)."""
    parsed = file_store.parse_upload_key(raw_key)
    if parsed is None:
        logger.warning("an object outside uploads/ notified the imports queue", extra={"key": raw_key})
        return
    item = _load(*parsed)
    if item is None:
        logger.warning("an upload without an import", extra={"key": raw_key})
        return
    if item.status == "PENDING":
        start(item, etag, size)
    elif item.status == "RUNNING" and int(item.step) == 0 and item.etag == etag:
        send_step(item, 0)  # a start that died between its claim and its message
    else:
        logger.info("upload ignored: its import has started already", extra={"import_id": item.id})


def start(item: Import, etag: str, size: int) -> None:
    """Read the file's layout and columns, and turn the import RUNNING with step 0 sent."""

    if size > MAX_FILE_BYTES:
        _fail(item, f"the file is larger than {MAX_FILE_BYTES // 1024**3} GB", pending=True)
        return
    try:
        sample = _head(item.objectKey, etag, csv_reading.SAMPLE_BYTES)
        layout = csv_reading.detect(sample, whole_file=size <= len(sample))
    except csv_reading.UnreadableFile as error:
        _fail(item, str(error), pending=True)
        return
    except file_store.ObjectChanged:
        logger.info("upload replaced before its import started", extra={"import_id": item.id})
        return  # the newer object's own notification starts it
    custom = list(import_rows.custom_fields(item.workspaceId).values())
    plan = column_mapping.plan_columns(layout.header, custom, plain(item.mapping))
    if not plan.has_identity:
        _fail(
            item,
            "no column holds an email or a phone (columns: "
            + ", ".join(h for h in layout.header if h)[:500]
            + "); name one 'Email' or 'Phone', or map one with `mapping`",
            pending=True,
        )
        return
    now = clock.now_iso()
    try:
        item.update(
            actions=[
                Import.status.set("RUNNING"),
                Import.etag.set(etag),
                Import.size.set(size),
                Import.encoding.set(layout.encoding),
                Import.delimiter.set(layout.delimiter),
                Import.newline.set(layout.newline),
                Import.header.set(layout.header),
                Import.targets.set({str(index): target for index, target in plan.targets.items()}),
                Import.columns.set(plan.report()),
                Import.dataOffset.set(layout.data_offset),
                Import.dataLine.set(layout.data_line),
                Import.offset.set(layout.data_offset),
                Import.line.set(layout.data_line),
                Import.step.set(0),
                Import.startedAt.set(now),
                Import.updatedAt.set(now),
            ],
            condition=Import.status == "PENDING",
        )
    except UpdateError as error:
        if is_conditional_failure(error):
            return  # another notification started it
        raise
    send_step(item, 0)


def _head(key: str, etag: str, limit: int) -> bytes:
    sample = bytearray()
    with closing(file_store.read_from(key, 0, etag)) as chunks:
        for chunk in chunks:
            sample += chunk
            if len(sample) >= limit:
                break
    return bytes(sample[:limit])


# ---- steps --------------------------------------------------------------------------------


def run_step(workspace_id: str, import_id: str, step: int) -> None:
    """Run step `step` of the import if it is the one due; a late or duplicate message does
    nothing, except re-sending the next step when its sender may have died before sending."""
    item = _load(workspace_id, import_id)
    if item is None or item.status != "RUNNING":
        return
    done = int(item.step)
    if done == step + 1:
        send_step(item, done)
        return
    if done != step:
        return
    try:
        if item.totalRows is None:
            _count(item)
        elif int(item.processedRows) < int(item.totalRows):
            _import_chunk(item)
        else:
            _finish(item)
    except file_store.ObjectChanged:
        _fail(item, _REPLACED)


def _layout(item: Import) -> Layout:
    return Layout(
        encoding=item.encoding or "utf-8",
        delimiter=item.delimiter or ",",
        newline=item.newline or "\n",
        header=list(item.header or []),
        data_offset=int(item.dataOffset or 0),
        data_line=int(item.dataLine or 1),
    )


def _records(item: Import, layout: Layout) -> Generator[Record, None, None]:
    chunks = file_store.read_from(item.objectKey, int(item.offset), item.etag, int(item.size))
    return records(chunks, layout, int(item.offset), int(item.line))


def _count(item: Import) -> None:
    """A counting step: read up to COUNT_BYTES of rows; the last one sets totalRows."""

    layout = _layout(item)
    unnamed = [index for index, name in enumerate(layout.header) if not name]
    with_data: set[int] = set()
    counted, offset, line, finished = 0, int(item.offset), int(item.line), True
    budget = offset + COUNT_BYTES
    try:
        with closing(_records(item, layout)) as found:
            for record in found:
                offset, line = record.end_offset, record.next_line
                if not record.blank:
                    counted += 1
                    with_data.update(i for i in unnamed if i < len(record.cells) and record.cells[i].strip())
                if offset >= budget:
                    finished = False
                    break
    except UnreadableFile as error:
        _fail(item, str(error))
        return
    columns = plain(item.columns) or {}
    ignored = list(columns.get("ignored", []))
    ignored += [
        f"column {i + 1} (no header)"
        for i in sorted(with_data)
        if f"column {i + 1} (no header)" not in ignored
    ]
    columns["ignored"] = ignored
    actions: list[Any] = [Import.columns.set(columns)]
    if finished:
        actions += [
            Import.totalRows.set(int(item.counted) + counted),
            Import.offset.set(int(item.dataOffset)),
            Import.line.set(int(item.dataLine)),
        ]
    else:
        actions += [Import.counted.add(counted), Import.offset.set(offset), Import.line.set(line)]
    if _checkpoint(item, actions):
        send_step(item, int(item.step))


def _import_chunk(item: Import) -> None:
    """An import step: the next CHUNK_ROWS rows through sync_many, then the checkpoint."""

    rerun = item.claimedAt is not None  # an attempt of this step started before this one
    claimed_at = _claim(item)
    if claimed_at is None:
        return
    layout = _layout(item)
    records: list[Record] = []
    offset, line = int(item.offset), int(item.line)
    try:
        with closing(_records(item, layout)) as found:
            for record in found:
                offset, line = record.end_offset, record.next_line
                if record.blank:
                    continue
                records.append(record)
                if len(records) >= CHUNK_ROWS or offset - int(item.offset) >= CHUNK_BYTES:
                    break
    except UnreadableFile as error:  # the counting pass read it; only a changed file gets here
        _fail(item, str(error))
        return
    try:
        results = import_rows.apply_rows(item, layout, records, claimed_at)
    except NotFound as error:  # the group was deleted during the import
        _fail(item, f"{error.message}: the import's group was deleted while it ran")
        return
    reported = [r for r in results if r.reason or r.warnings]
    part = file_store.report_part_key(item.workspaceId, item.id, int(item.step))
    if reported:
        file_store.put(part, _report_lines(reported))
    elif rerun:
        file_store.delete(part)  # a dead attempt may have left one
    counts = Counter(r.result for r in results)
    actions: list[Any] = [
        Import.offset.set(offset),
        Import.line.set(line),
        Import.processedRows.add(len(results)),
        Import.created.add(counts["created"]),
        Import.updated.add(counts["updated"]),
        Import.skipped.add(counts["skipped"]),
        Import.failed.add(counts["failed"]),
        Import.warnings.add(sum(len(r.warnings) for r in results)),
        Import.claimedAt.remove(),
    ]
    if reported:
        entries = [entry for r in reported for entry in r.entries()]
        actions.append(Import.errorCount.add(len(entries)))
        inline = list(item.errors or [])
        if len(inline) < MAX_INLINE_ERRORS:
            inline = [plain(e) for e in inline] + entries
            actions.append(Import.errors.set(inline[:MAX_INLINE_ERRORS]))
    if not records:  # fewer rows than counted: the file ends here
        actions.append(Import.totalRows.set(int(item.processedRows)))
    if _checkpoint(item, actions):
        send_step(item, int(item.step))


def _claim(item: Import) -> str | None:
    """Mark the step started (the first start's time is kept); None if it moved on."""

    try:
        item.update(
            actions=[Import.claimedAt.set(Import.claimedAt | clock.now_iso())],
            condition=(Import.step == int(item.step)) & (Import.status == "RUNNING"),
        )
    except UpdateError as error:
        if is_conditional_failure(error):
            return None
        raise
    return item.claimedAt


def _checkpoint(item: Import, actions: list[Any]) -> bool:
    """Record a step done (condition: still this step); False when another attempt did."""

    step = int(item.step)
    try:
        item.update(
            actions=[*actions, Import.step.set(step + 1), Import.updatedAt.set(clock.now_iso())],
            condition=(Import.step == step) & (Import.status == "RUNNING"),
        )
    except UpdateError as error:
        if is_conditional_failure(error):
            logger.info("step recorded by another attempt", extra={"import_id": item.id, "step": step})
            return False
        raise
    return True


# ---- finishing ----------------------------------------------------------------------------


def _finish(item: Import) -> None:
    """The last step: the error report made whole, the import COMPLETED, the upload deleted
    (it holds personal data; the bucket's lifecycle rules delete what a crash leaves)."""
    _write_report(item)
    now = clock.now_iso()
    if _checkpoint(item, [Import.status.set("COMPLETED"), Import.finishedAt.set(now)]):
        _clean_up(item)


def _fail(item: Import, reason: str, *, pending: bool = False) -> None:
    """Stop the import for good: FAILED with the reason; the rows done so far stay done."""

    logger.info("import failed", extra={"import_id": item.id, "reason": reason})
    if not pending:
        _write_report(item)
    now = clock.now_iso()
    try:
        item.update(
            actions=[
                Import.status.set("FAILED"),
                Import.failureReason.set(reason[:1000]),
                Import.finishedAt.set(now),
                Import.updatedAt.set(now),
            ],
            condition=Import.status == ("PENDING" if pending else "RUNNING"),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
        return
    _clean_up(item)


def _clean_up(item: Import) -> None:
    file_store.delete(item.objectKey)
    file_store.delete_under(file_store.report_part_key(item.workspaceId, item.id, 0).rsplit("/", 1)[0] + "/")


def _write_report(item: Import) -> None:
    """Concatenate the steps' report parts behind a header (streamed, never whole in memory)."""
    if not int(item.errorCount):
        return
    prefix = file_store.report_part_key(item.workspaceId, item.id, 0).rsplit("/", 1)[0] + "/"

    def chunks() -> Iterator[bytes]:
        yield _report_header(item)
        for key in sorted(file_store.keys_under(prefix)):
            yield from file_store.read_from(key, 0)

    file_store.write_stream(file_store.report_key(item.workspaceId, item.id), chunks())


def _report_header(item: Import) -> bytes:
    return BOM + _csv_line([*REPORT_COLUMNS, *(item.header or [])])


def _report_lines(results: Sequence[import_rows.RowResult]) -> bytes:
    """A line per reported row, and per value left out of a row (result "warning")."""
    return b"".join(
        _csv_line([str(e["row"]), str(e["line"]), e["result"], e["reason"] or "", e["value"] or "", *r.cells])
        for r in results
        for e in r.entries()
    )


def _csv_line(cells: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([spreadsheet_safe(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8")


def parse_tags(value: str | None) -> tuple[str, ...]:
    """Tags from a query string: comma-separated, blanks dropped, first occurrence kept."""
    return tuple(dict.fromkeys(t.strip() for t in (value or "").split(",") if t.strip()))


__all__ = [
    "Options",
    "Report",
    "create_from_body",
    "create_upload",
    "error_report",
    "get",
    "list_page",
    "on_object_created",
    "on_s3_notification",
    "on_step_message",
    "run_step",
    "view",
]
