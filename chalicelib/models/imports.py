"""Imports of CSV files and exports of contacts: one item each, holding options, progress and
the checkpoint that lets a redelivered or restarted step resume exactly where the last one
stopped (chalicelib.exchange.import_steps, chalicelib.exchange.contact_export)."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from chalicelib.models import keys
from chalicelib.platform.db import Item


def plain(value: Any) -> Any:
    """A MapAttribute's or ListAttribute's content as plain dicts, lists and numbers."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class Import(Item, discriminator="Import"):
    """pk WS#<ws>, sk IMPORT#<id> (ULIDs: a Query lists them in creation order).

    `step` counts the steps done (each counts a slice of the file or imports a chunk of rows);
    a step's message carries the number it expects, and its checkpoint is written with the
    condition `step = <that number>`, so a duplicate or late message never applies twice.
    `offset`/`line` are where the next row starts; `claimedAt` is when the step in progress
    first started (the contacts it created since then are its own, even after a crash).
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    status = UnicodeAttribute(default="PENDING")  # PENDING | RUNNING | COMPLETED | FAILED
    source = UnicodeAttribute()  # upload | body | sync
    # A database sync's run (chalicelib.exchange.sync_steps): `offset` counts the query's rows
    # read, `cursorFrom` is the last completed run's highest cursor (rows above it are read),
    # `cursorHigh` the highest read so far. gsi1 WS#<ws>#SYNC#<sync> / RUN#<id> lists the runs.
    syncId = UnicodeAttribute(null=True)
    cursorFrom = UnicodeAttribute(null=True)
    cursorHigh = UnicodeAttribute(null=True)
    fileName = UnicodeAttribute(null=True)
    groupId = UnicodeAttribute(null=True)
    # PynamoDB types ListAttribute(of=UnicodeAttribute) as list[UnicodeAttribute]: annotated list[str].
    tags: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    mapping: MapAttribute[str, Any] = MapAttribute(default=dict)  # {"csv header": "field" | None}
    updateExisting = BooleanAttribute(default=False)
    objectKey = UnicodeAttribute()
    etag = UnicodeAttribute(null=True)  # of the object being imported: later reads require it
    size = NumberAttribute(null=True)
    # The file's layout (chalicelib.exchange.csv_reading.Layout) and the column decisions.
    encoding = UnicodeAttribute(null=True)
    delimiter = UnicodeAttribute(null=True)
    newline = UnicodeAttribute(null=True)
    header: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    targets: MapAttribute[str, Any] = MapAttribute(null=True)  # {"<column index>": "field"}
    columns: MapAttribute[str, Any] = MapAttribute(null=True)  # the report: mapped, ignored, unmatchedMapping
    dataOffset = NumberAttribute(null=True)
    dataLine = NumberAttribute(null=True)
    # Progress and checkpoint.
    step = NumberAttribute(default=0)
    claimedAt = UnicodeAttribute(null=True)
    offset = NumberAttribute(null=True)
    line = NumberAttribute(null=True)
    counted = NumberAttribute(default=0)  # rows counted so far by the counting pass
    totalRows = NumberAttribute(null=True)  # known once the counting pass is done
    processedRows = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    warnings = NumberAttribute(default=0)  # values left out of imported rows
    errors = ListAttribute(of=MapAttribute, default=list)  # the first MAX_INLINE_ERRORS
    errorCount = NumberAttribute(default=0)
    failureReason = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    startedAt = UnicodeAttribute(null=True)
    finishedAt = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, import_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"IMPORT#{import_id}"


class Export(Item, discriminator="Export"):
    """pk WS#<ws>, sk EXPORT#<id>: a large contact export, written to S3 in multipart parts.

    `step` and `cursor` are the checkpoint (the list page to read next), `parts` the ETags of
    the parts uploaded so far; a step is recorded with the condition `step = <its number>`.
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    status = UnicodeAttribute(default="RUNNING")  # RUNNING | COMPLETED | FAILED
    # the contact list's: status, tag, groupId, pipelineStage, q
    filters: MapAttribute[str, Any] = MapAttribute(default=dict)
    # custom field columns, in order
    customKeys: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    customHeaders: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    objectKey = UnicodeAttribute()
    uploadId = UnicodeAttribute()
    # ETags of parts 1, 2...
    parts: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    step = NumberAttribute(default=0)
    cursor = UnicodeAttribute(null=True)  # the list cursor the next part starts at
    exhausted = BooleanAttribute(default=False)  # the last part is uploaded
    rows = NumberAttribute(default=0)
    failureReason = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    finishedAt = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, export_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"EXPORT#{export_id}"
