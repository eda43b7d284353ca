"""CSV imports: creating one (an upload URL, or a file sent in the request), reading one and
its view. How an import runs, once its file lands:

1. `create_upload` (an upload URL is handed out) or `create_from_body` (a small file sent in
   the request is stored at once): the import is PENDING and its file's key is
   `uploads/<ws>/<id>.csv` in the imports bucket.
2. The file lands: S3 notifies the imports queue; `import_start` reads the first bytes
   (encoding, delimiter, header, column mapping), marks the import RUNNING and sends step 0.
3. Steps (`import_steps`), one SQS message each, in order: counting slices (the whole file is
   read once, streamed, so `totalRows` is known early and a file broken beyond repair fails
   before any contact is written), then chunks of CHUNK_ROWS rows, then the finish (the error
   report, `import_report`).

Each row ends in exactly one of created, updated, skipped, failed; the last two (and
duplicates merged into an earlier row) carry a reason and are written to the error report.
A value left out of an imported row (a bad phone beside a valid email, a bad custom value:
docs/imports.md, Warnings) is a warning line of the report, counted in `warnings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.exchange import column_mapping, import_rows, stored
from chalicelib.groups import service as groups
from chalicelib.models.imports import Import, plain
from chalicelib.platform import clock, ids
from chalicelib.platform import files as file_store
from chalicelib.platform.errors import InvalidRequest, PayloadTooLarge, ValidationFailed
from chalicelib.platform.paged_query import cursor_page
from chalicelib.timers import due

MAX_BODY_BYTES = 5 * 1024 * 1024
UPLOAD_URL_SECONDS = 3600
DEADLINE_KIND = "imports.deadline"
# After the upload URL's hour, time for a PUT begun just before the end to finish.
UPLOAD_GRACE_SECONDS = 3600


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
    # The deadline first: a crash between the two leaves a timer that finds no import, never
    # an import that stays PENDING for ever.
    due.schedule([deadline(item)])
    item.save(condition=Import.pk.does_not_exist())
    return item


def deadline(item: Import) -> due.Due:
    """The timer of a new import: once its upload URL has expired (and a late PUT had time to
    finish), chalicelib.exchange.import_start.on_deadline settles an import still PENDING."""
    return due.Due(
        queue=due.JOBS,
        key=f"IMPORT#{item.workspaceId}#{item.id}",
        spread=item.id,
        message={"kind": DEADLINE_KIND, "workspaceId": item.workspaceId, "importId": item.id},
        wait=UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS,
    )


def _check_options(workspace_id: str, options: Options) -> None:
    """404 for a group that is not the workspace's; 422 for a mapping to an unknown field."""

    if options.group_id:
        groups.require_manual(groups.get(workspace_id, options.group_id))
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
    return stored.get(Import, workspace_id, import_id)


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[Import], str | None]:
    """The workspace's imports, newest first (one Query)."""
    return cursor_page(
        Import,
        Import.key(workspace_id, "")[0],
        Import.sk.startswith("IMPORT#"),
        scope=f"imports:{workspace_id}",
        limit=limit,
        cursor=cursor,
        forward=False,
    )


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
        **counts_view(item),
        "errors": [_error_view(error) for error in item.errors or []],
        "errorReportUrl": f"/api/v1/imports/{item.id}/errors.csv" if finished else None,
        "columns": plain(item.columns) if item.columns is not None else None,
        "encoding": item.encoding,
        "delimiter": item.delimiter,
        "failureReason": item.failureReason,
        "createdAt": item.createdAt,
        "startedAt": item.startedAt,
        "finishedAt": item.finishedAt,
    }


def counts_view(item: Import) -> dict[str, int]:
    """What an import (or a sync's run, the same item) has done with its rows so far."""
    return {
        "processedRows": int(item.processedRows),
        "created": int(item.created),
        "updated": int(item.updated),
        "skipped": int(item.skipped),
        "failed": int(item.failed),
        "warnings": int(item.warnings or 0),
        "errorCount": int(item.errorCount),
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


def parse_tags(value: str | None) -> tuple[str, ...]:
    """Tags from a query string: comma-separated, blanks dropped, first occurrence kept."""
    return tuple(dict.fromkeys(t.strip() for t in (value or "").split(",") if t.strip()))
