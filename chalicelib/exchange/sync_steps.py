"""The steps of a database sync's run, one message each on the imports queue, in the CSV
import's footsteps (chalicelib.exchange.import_steps): the same claim, checkpoint, row path
(`import_rows.apply_rows`), report parts and finish.

1. prepare: the query's columns are read (LIMIT 0); a column the mapping or the cursor names
   but the query lacks fails the run before any row is read; the column plan is stored.
2. pages: PAGE_ROWS rows from `offset` (chalicelib.exchange.sync_sources.read: read only,
   statement timeout, server-side cursor, a stable order), through the import's row path,
   then the checkpoint (offset, counters, the highest cursor read). A page that returns fewer
   rows than PAGE_ROWS is the last one: `totalRows` is set.
3. finish: the error report made whole, the run COMPLETED, and the sync told (its
   `lastCursor` becomes the run's highest, its `activeRunId` is released).

A step that dies before its checkpoint runs again from the same offset when SQS delivers
its message again, and reads the same rows (the order is stable): contacts it created are
recognised by `import_rows` as the CSV import's are, so the counts come out as without the
crash. A database error fails the run at once with its message; the rows of earlier pages
stay imported, as a CSV import's do.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.exchange import column_mapping, import_rows, import_steps, steps, stored, sync_sources, syncs
from chalicelib.exchange.csv_reading import Layout, Record
from chalicelib.exchange.sync_sources import Page, SourceError, cell_text, cursor_text
from chalicelib.models.imports import Import, plain
from chalicelib.models.syncs import Sync
from chalicelib.platform import clock
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.queues import LAST_ATTEMPT

PAGE_ROWS = import_steps.CHUNK_ROWS  # rows per Lambda invocation: a CSV import step's


def on_step_message(message: dict[str, Any], attempt: int) -> None:
    """One step of a sync's run (the imports queue). On the last delivery, an unexpected
    failure marks the run FAILED instead of leaving it RUNNING forever."""
    workspace_id, run_id, step = message["workspaceId"], message["runId"], int(message["step"])
    try:
        run_step(workspace_id, run_id, step)
    except Exception:
        if attempt < LAST_ATTEMPT:
            raise
        logger.exception("sync step failed on its last attempt", extra={"run_id": run_id})
        run = stored.load(Import, workspace_id, run_id)
        if run is not None:
            fail(run, f"an internal error stopped the run after {int(run.processedRows)} rows")


def run_step(workspace_id: str, run_id: str, step: int) -> None:
    """Run step `step` if it is the one due; a late or duplicate message does nothing, except
    re-sending the next step (its sender may have died before sending) or releasing the sync
    of a run that finished (its finisher may have died before telling the sync)."""
    run = stored.load(Import, workspace_id, run_id)
    if run is None or run.syncId is None:
        return
    if run.status != "RUNNING":
        _release(run)
        return
    if not steps.due(run, step, syncs.send_step):
        return
    sync = _sync(run)
    if sync is None:
        fail(run, "the sync was deleted while it ran; the rows before were imported")
        return
    try:
        if run.header is None:
            _prepare(run, sync)
        elif run.totalRows is None:
            _page(run, sync)
        else:
            _finish(run)
    except SourceError as error:
        fail(run, str(error))


def _sync(run: Import) -> Sync | None:
    try:
        return Sync.get(*Sync.key(run.workspaceId, run.syncId or ""), consistent_read=True)
    except DoesNotExist:
        return None


def _prepare(run: Import, sync: Sync) -> None:
    """The query's columns, checked against the mapping and the cursor; the column plan."""
    header = sync_sources.columns(syncs.source(sync), sync.sql)
    missing = syncs.missing_columns(sync, header)
    if missing:
        fail(run, syncs.missing_message(missing, header))
        return
    # Only the mapped columns are imported: a column the customer did not map is ignored
    # (reported as such), never guessed from its name as a CSV header would be.
    mapping = {**dict.fromkeys(header, column_mapping.IGNORE), **plain(run.mapping or {})}
    custom = list(import_rows.custom_fields(run.workspaceId).values())
    plan = column_mapping.plan_columns(header, custom, mapping)
    if not plan.has_identity:
        fail(run, "no mapped column holds an email or a phone (a custom field was deleted?)")
        return
    actions = [
        Import.header.set(header),
        Import.targets.set({str(index): target for index, target in plan.targets.items()}),
        Import.columns.set(plan.report()),
    ]
    if import_steps.checkpoint(run, actions):
        syncs.send_step(run, int(run.step))


def _page(run: Import, sync: Sync) -> None:
    """PAGE_ROWS rows through the import's row path, then the checkpoint."""
    rerun = run.claimedAt is not None  # an attempt of this step started before this one
    claimed_at = import_steps.claim(run)
    if claimed_at is None:
        return
    header = list(run.header or [])
    offset = int(run.offset or 0)
    page = Page(offset, PAGE_ROWS, sync.cursorColumn, run.cursorFrom)
    position = header.index(sync.cursorColumn) if sync.cursorColumn in header else None
    records: list[Record] = []
    high: str | None = None
    for row in sync_sources.read(syncs.source(sync), sync.sql, len(header), page):
        number = offset + len(records) + 1  # the row's place in the run, from 1
        records.append(Record([cell_text(value) for value in row], number, number, number + 1))
        if position is not None and row[position] is not None:
            high = cursor_text(row[position])  # rows come in cursor order: the last is the highest
    layout = Layout("utf-8", ",", "\n", header, 0, 1)
    try:
        results = import_rows.apply_rows(run, layout, records, claimed_at)
    except NotFound as error:  # the group was deleted during the run
        fail(run, f"{error.message}: the sync's group was deleted while it ran")
        return
    actions: list[Any] = [
        Import.offset.set(offset + len(records)),
        Import.line.set(offset + len(records) + 1),
        *import_steps.rows_done(run, results, rerun=rerun),
    ]
    if high is not None:
        actions.append(Import.cursorHigh.set(high))
    if len(records) < PAGE_ROWS:
        actions.append(Import.totalRows.set(int(run.processedRows) + len(records)))
    if import_steps.checkpoint(run, actions):
        syncs.send_step(run, int(run.step))


def _finish(run: Import) -> None:
    if import_steps.finish(run):
        _release(stored.load(Import, run.workspaceId, run.id) or run)


def fail(run: Import, reason: str) -> None:
    """The run FAILED with the reason (the CSV import's `fail`), and the sync released."""
    import_steps.fail(run, reason)
    _release(stored.load(Import, run.workspaceId, run.id) or run)


def _release(run: Import) -> None:
    """Tell the sync its run has ended: `activeRunId` removed and, for a completed run, its
    highest cursor kept for the next run. Conditional on the sync still naming this run, so a
    duplicate does nothing."""
    if run.status not in ("COMPLETED", "FAILED"):
        return
    actions: list[Any] = [Sync.activeRunId.remove(), Sync.updatedAt.set(clock.now_iso())]
    if run.status == "COMPLETED":
        actions.append(Sync.lastRunId.set(run.id))
        if run.cursorHigh is not None:
            actions.append(Sync.lastCursor.set(run.cursorHigh))
    try:
        Sync(*Sync.key(run.workspaceId, run.syncId or "")).update(
            actions=actions, condition=Sync.activeRunId == run.id
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
