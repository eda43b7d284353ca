"""The steps of a running import, one message each on the imports queue: counting slices of
the file, then importing chunks of rows, then the finish; and failing an import for good.

Every step checkpoints in the import item with the condition `step = <its number>`: where the
next row starts (byte offset and line), the counters and the first errors. A step that dies
before its checkpoint runs again from the same offset when SQS delivers its message again;
rows go through `contacts.bulk_sync.sync_many`, which never creates a contact twice, and the
contacts that the dead attempt created are recognised (their source is this import and they
are newer than the step's first start), so the counters come out as without the crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from chalicelib.exchange import import_report, import_rows, steps, stored
from chalicelib.exchange.csv_reading import Layout, UnreadableFile, records
from chalicelib.models.imports import Import, plain
from chalicelib.platform import clock, config, queues
from chalicelib.platform import files as file_store
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.queues import LAST_ATTEMPT  # a step failing on it makes the import FAILED

if TYPE_CHECKING:
    from chalicelib.exchange.csv_reading import Record

CHUNK_ROWS = 1000  # rows per import step: ~10 BatchGetItem and ~50 TransactWriteItems
CHUNK_BYTES = 4 * 1024 * 1024
COUNT_BYTES = 32 * 1024 * 1024  # bytes per counting step (a second or two of reading)
MAX_INLINE_ERRORS = 100
STEP_KIND = "import.step"

_REPLACED = "the file was replaced or deleted while it was being imported; start a new import"


def on_step_message(message: dict[str, Any], attempt: int) -> None:
    """One step of a running import (the imports queue)."""
    workspace_id, import_id = message["workspaceId"], message["importId"]
    step = int(message["step"])
    _guarded(workspace_id, import_id, attempt, lambda: run_step(workspace_id, import_id, step))


def _guarded(workspace_id: str, import_id: str, attempt: int, step: Callable[[], None]) -> None:
    """Run a step; on its last delivery, a failure marks the import FAILED instead of sending
    the message to the dead-letter queue with the import stuck in RUNNING."""
    try:
        step()
    except Exception:
        if attempt < LAST_ATTEMPT:
            raise
        logger.exception("import step failed on its last attempt", extra={"import_id": import_id})
        item = stored.load(Import, workspace_id, import_id)
        if item is not None:
            fail(
                item,
                f"an internal error stopped the import after {int(item.processedRows)} rows; "
                "the rows before it were imported",
            )


def send_step(item: Import, step: int) -> None:
    message = {"kind": STEP_KIND, "workspaceId": item.workspaceId, "importId": item.id, "step": step}
    queues.send(config.imports_queue_url(), [message])


def run_step(workspace_id: str, import_id: str, step: int) -> None:
    """Run step `step` of the import if it is the one due; a late or duplicate message does
    nothing, except re-sending the next step when its sender may have died before sending."""
    item = stored.load(Import, workspace_id, import_id)
    if item is None or not steps.due(item, step, send_step):
        return
    try:
        if item.totalRows is None:
            _count(item)
        elif int(item.processedRows) < int(item.totalRows):
            _import_chunk(item)
        else:
            finish(item)
    except file_store.ObjectChanged:
        fail(item, _REPLACED)


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
        fail(item, str(error))
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
    if checkpoint(item, actions):
        send_step(item, int(item.step))


def _import_chunk(item: Import) -> None:
    """An import step: the next CHUNK_ROWS rows through sync_many, then the checkpoint."""

    rerun = item.claimedAt is not None  # an attempt of this step started before this one
    claimed_at = claim(item)
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
        fail(item, str(error))
        return
    try:
        results = import_rows.apply_rows(item, layout, records, claimed_at)
    except NotFound as error:  # the group was deleted during the import
        fail(item, f"{error.message}: the import's group was deleted while it ran")
        return
    actions = [Import.offset.set(offset), Import.line.set(line), *rows_done(item, results, rerun=rerun)]
    if not records:  # fewer rows than counted: the file ends here
        actions.append(Import.totalRows.set(int(item.processedRows)))
    if checkpoint(item, actions):
        send_step(item, int(item.step))


def rows_done(item: Import, results: Sequence[import_rows.RowResult], *, rerun: bool) -> list[Any]:
    """What a step's rows add to the import: their report part in S3 (a dead attempt's part
    replaced), the counters and the first errors; the update actions of the checkpoint.
    A database sync's steps (chalicelib.exchange.sync_steps) record their pages with it too."""

    reported = [r for r in results if r.reason or r.warnings]
    part = file_store.report_part_key(item.workspaceId, item.id, int(item.step))
    if reported:
        file_store.put(part, import_report.lines(reported))
    elif rerun:
        file_store.delete(part)  # a dead attempt may have left one
    counts = Counter(r.result for r in results)
    actions: list[Any] = [
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
    return actions


def claim(item: Import) -> str | None:
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


def checkpoint(item: Import, actions: list[Any]) -> bool:
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


def finish(item: Import, extra: Sequence[Any] = ()) -> bool:
    """The last step: the error report made whole, the import COMPLETED, the upload deleted
    (it holds personal data; the bucket's lifecycle rules delete what a crash leaves).
    False when another attempt finished it."""
    import_report.write(item)
    now = clock.now_iso()
    if checkpoint(item, [Import.status.set("COMPLETED"), Import.finishedAt.set(now), *extra]):
        _clean_up(item)
        return True
    return False


def fail(item: Import, reason: str, *, pending: bool = False) -> None:
    """Stop the import for good: FAILED with the reason; the rows done so far stay done."""

    logger.info("import failed", extra={"import_id": item.id, "reason": reason})
    if not pending:
        import_report.write(item)
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
