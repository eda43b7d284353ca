"""Starting an import when its file lands: S3's notification on the imports queue, the
first bytes read (encoding, delimiter, header, column mapping), the import turned RUNNING
with step 0 sent (chalicelib.exchange.import_steps runs the steps). And its deadline: an
import whose file never landed does not stay PENDING for ever."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.exchange import column_mapping, csv_reading, import_rows, stored
from chalicelib.exchange.import_steps import fail, send_step
from chalicelib.models.imports import Import, plain
from chalicelib.platform import clock
from chalicelib.platform import files as file_store
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.logs import logger

MAX_FILE_BYTES = 2 * 1024**3
NEVER_UPLOADED = "no file was uploaded while its upload URL was valid; create a new import"


def on_s3_notification(message: dict[str, Any], attempt: int = 1) -> None:
    """S3's notification of uploaded files (the imports queue): each new object starts its
    import. S3's own test event, sent when notifications are set up, is nothing to do."""
    for entry in message.get("Records", ()):
        created = str(entry.get("eventName", "")).startswith("ObjectCreated")
        if entry.get("eventSource") == "aws:s3" and created:
            obj = entry["s3"]["object"]
            on_object_created(obj["key"], str(obj.get("eTag", "")).strip('"'), int(obj.get("size", 0)))


def on_object_created(raw_key: str, etag: str, size: int) -> None:
    """An uploaded file landed: start its import (once; S3 may notify twice)."""
    parsed = file_store.parse_upload_key(raw_key)
    if parsed is None:
        logger.warning("an object outside uploads/ notified the imports queue", extra={"key": raw_key})
        return
    item = stored.load(Import, *parsed)
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
        fail(item, f"the file is larger than {MAX_FILE_BYTES // 1024**3} GB", pending=True)
        return
    try:
        sample = _head(item.objectKey, etag, csv_reading.SAMPLE_BYTES)
        layout = csv_reading.detect(sample, whole_file=size <= len(sample))
    except csv_reading.UnreadableFile as error:
        fail(item, str(error), pending=True)
        return
    except file_store.ObjectChanged:
        logger.info("upload replaced before its import started", extra={"import_id": item.id})
        return  # the newer object's own notification starts it
    custom = list(import_rows.custom_fields(item.workspaceId).values())
    plan = column_mapping.plan_columns(layout.header, custom, plain(item.mapping))
    if not plan.has_identity:
        fail(
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


def on_deadline(message: dict[str, Any], attempt: int = 1) -> None:
    """An import's upload time is up (its timer: chalicelib.exchange.imports.deadline). Still
    PENDING with its file there (S3's notification was lost): start it now; without a file:
    FAILED, saying so. Started already: nothing."""
    item = stored.load(Import, str(message["workspaceId"]), str(message["importId"]))
    if item is None or item.status != "PENDING":
        return
    found = file_store.stat(item.objectKey)
    if found is None:
        fail(item, NEVER_UPLOADED, pending=True)
    else:
        start(item, *found)
