"""Database syncs: a source (PostgreSQL or MySQL/MariaDB), one SELECT, a column mapping and a
schedule; each run imports the query's rows as a CSV import does (docs/sync.md).

- `create`, `get`, `list_page`, `update`, `delete`, `view`: the definition. The password goes
  to AWS Secrets Manager (chalicelib.platform.secrets), never to the table or an answer.
- `test`: the query's columns and first rows, or the error the database gave.
- `start_run`: a run is an Import item (source "sync", `syncId`) whose steps are
  chalicelib.exchange.sync_steps; `runs_page` lists a sync's runs, `run_view` shows one.

What a definition must hold, checked before anything is written (422): one SELECT
(chalicelib.exchange.sync_query), a mapping to known fields with an email or a phone column.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from chalicelib.exchange import column_mapping, import_rows, imports, stored, sync_query, sync_sources
from chalicelib.exchange.sync_sources import SAMPLE_ROWS, Source, SourceError, cell_text
from chalicelib.groups import service as groups
from chalicelib.models.imports import Import, plain
from chalicelib.models.syncs import DUE_PARTITION, Sync
from chalicelib.platform import clock, config, ids, queues, secrets
from chalicelib.platform import files as file_store
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound, ValidationFailed, field_error
from chalicelib.platform.paged_query import cursor_page

if TYPE_CHECKING:
    from chalicelib.schemas.syncs import SyncCreate, SyncPatch

STEP_KIND = "sync.step"
INTERVALS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
IDENTITY = ("email", "phone")


# ---- definitions --------------------------------------------------------------------------


def create(workspace_id: str, body: SyncCreate) -> Sync:
    """Check everything, store the password as a secret, then the sync (the secret is
    deleted again if the sync cannot be written: nothing half-written)."""
    query = _checked_query(body.query, body.engine)
    _check_mapping(workspace_id, body.mapping)
    if body.group_id:
        groups.require_manual(groups.get(workspace_id, body.group_id))
    sync_id = ids.new_id()
    now = clock.now_iso()
    secret_name = secrets.sync_secret_name(workspace_id, sync_id)
    item = Sync(
        *Sync.key(workspace_id, sync_id),
        id=sync_id,
        workspaceId=workspace_id,
        name=body.name,
        engine=body.engine,
        host=body.connection.host,
        port=body.connection.port,
        database=body.connection.database,
        user=body.connection.user,
        sslmode=body.connection.sslmode,
        secretName=secret_name,
        sql=query,
        mapping=dict(body.mapping),
        cursorColumn=body.cursor_column,
        groupId=body.group_id,
        schedule=body.schedule,
        updateExisting=body.update_existing,
        createdAt=now,
        updatedAt=now,
    )
    _set_schedule(item, body.schedule)
    secrets.put(secret_name, body.connection.password)
    try:
        item.save(condition=Sync.pk.does_not_exist())
    except Exception as error:
        secrets.delete(secret_name)
        if isinstance(error, PutError) and is_conditional_failure(error):
            raise Conflict("the sync could not be created; try again") from None
        raise
    return item


def get(workspace_id: str, sync_id: str) -> Sync:
    """The sync (consistent read); 404 for an unknown id or another workspace's."""
    if ids.is_id(sync_id):
        try:
            return Sync.get(*Sync.key(workspace_id, sync_id), consistent_read=True)
        except DoesNotExist:
            pass
    raise NotFound("sync not found")


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[Sync], str | None]:
    """The workspace's syncs, oldest first (one Query)."""
    return cursor_page(
        Sync,
        Sync.key(workspace_id, "")[0],
        Sync.sk.startswith("SYNC#"),
        scope=f"{workspace_id}:syncs",
        limit=limit,
        cursor=cursor,
    )


def update(workspace_id: str, sync_id: str, patch: SyncPatch) -> Sync:
    """Change what is sent; refused (409) while a run is in progress, which reads the sync as
    it was when it started."""
    item = get(workspace_id, sync_id)
    sent = patch.model_fields_set
    if _running(item) is not None:
        raise Conflict("a run of this sync is in progress; change it once the run has finished")
    engine = patch.engine or item.engine
    _check_password_follows(item, patch)
    actions: list[Any] = [Sync.updatedAt.set(clock.now_iso())]
    if patch.name is not None:
        actions.append(Sync.name.set(patch.name))
    if patch.engine is not None:
        actions.append(Sync.engine.set(patch.engine))
    if patch.query is not None or patch.engine is not None:
        actions.append(Sync.sql.set(_checked_query(patch.query or item.sql, engine)))
    if patch.mapping is not None:
        _check_mapping(workspace_id, patch.mapping)
        actions.append(Sync.mapping.set(dict(patch.mapping)))
    if "cursor_column" in sent:
        column = patch.cursor_column
        # A new cursor column starts over: the old one's values mean nothing for it.
        actions += [Sync.cursorColumn.set(column) if column else Sync.cursorColumn.remove()]
        actions.append(Sync.lastCursor.remove())
    if "group_id" in sent:
        if patch.group_id:
            groups.require_manual(groups.get(workspace_id, patch.group_id))
            actions.append(Sync.groupId.set(patch.group_id))
        else:
            actions.append(Sync.groupId.remove())
    if patch.update_existing is not None:
        actions.append(Sync.updateExisting.set(patch.update_existing))
    password = None
    if patch.connection is not None:
        connection = patch.connection
        fields = connection.model_fields_set
        for name in ("host", "port", "database", "user"):
            value = getattr(connection, name)
            if value is not None:
                actions.append(getattr(Sync, name).set(value))
        if "sslmode" in fields:
            actions.append(
                Sync.sslmode.set(connection.sslmode) if connection.sslmode else Sync.sslmode.remove()
            )
        password = connection.password
    if patch.schedule is not None:
        actions.append(Sync.schedule.set(patch.schedule))
        scheduled = Sync(schedule=patch.schedule)
        _set_schedule(scheduled, patch.schedule, item)
        for name in ("nextRunAt", "gsi1pk", "gsi1sk"):
            value = getattr(scheduled, name)
            attribute = getattr(Sync, name)
            actions.append(attribute.set(value) if value else attribute.remove())
    try:
        item.update(actions, condition=Sync.pk.exists() & _same_run(item.activeRunId))
    except UpdateError as error:
        if is_conditional_failure(error):
            raise Conflict("the sync changed meanwhile (deleted, or a run started); try again") from None
        raise
    if password is not None:  # after the checks and the write: a refused PATCH keeps the old one
        secrets.put(item.secretName, password)
    return item


def delete(workspace_id: str, sync_id: str) -> None:
    """Delete the sync and its secret; its runs stay listed among the imports."""
    item = get(workspace_id, sync_id)
    try:
        item.delete(condition=Sync.pk.exists())
    except DeleteError as error:
        if is_conditional_failure(error):
            raise NotFound("sync not found") from None
        raise
    secrets.delete(item.secretName)


def view(item: Sync) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "engine": item.engine,
        "connection": {
            "host": item.host,
            "port": int(item.port),
            "database": item.database,
            "user": item.user,
            "sslmode": item.sslmode,
            "passwordSet": True,
        },
        "query": item.sql,
        "mapping": dict(plain(item.mapping) or {}),
        "cursorColumn": item.cursorColumn,
        "groupId": item.groupId,
        "schedule": item.schedule,
        "updateExisting": bool(item.updateExisting),
        "lastCursor": item.lastCursor,
        "lastRunId": item.lastRunId,
        "activeRunId": item.activeRunId,
        "nextRunAt": item.nextRunAt,
        "createdAt": item.createdAt,
        "updatedAt": item.updatedAt,
    }


def source(item: Sync) -> Source:
    """How to reach the database, with the password from Secrets Manager."""
    password = secrets.get(item.secretName)
    if password is None:
        raise SourceError("the sync's password is missing from Secrets Manager; send it again with PATCH")
    return Source(
        item.engine,
        item.host,
        int(item.port),
        item.database,
        item.user,
        password,
        item.sslmode,
        statement_seconds=sync_sources.STATEMENT_SECONDS,
    )


def _checked_query(query: str, engine: str) -> str:
    try:
        return sync_query.check(query, engine)
    except sync_query.QueryRefused as error:
        raise field_error("query", str(error)) from None


def _check_password_follows(item: Sync, patch: SyncPatch) -> None:
    """The stored password goes only to the server it was given for: a PATCH that points the
    sync at another server (engine, host or port) must send it again, or a full key could
    have it sent to a server of its choosing (it is never shown, so never given away)."""
    connection = patch.connection
    moved = (patch.engine is not None and patch.engine != item.engine) or (
        connection is not None
        and (
            (connection.host is not None and connection.host != item.host)
            or (connection.port is not None and connection.port != int(item.port))
        )
    )
    if moved and (connection is None or connection.password is None):
        raise field_error(
            "connection.password", "send the password again when the sync points at another server"
        )


def _check_mapping(workspace_id: str, mapping: Mapping[str, str]) -> None:
    """422 for a mapping to an unknown field, or without an email or a phone column."""
    wanted = {
        target.removeprefix(column_mapping.CUSTOM_PREFIX)
        for target in mapping.values()
        if target and target != column_mapping.IGNORE and target not in column_mapping.STANDARD_FIELDS
    }
    known = set(import_rows.custom_fields(workspace_id, wanted)) if wanted else set()
    details = column_mapping.check_mapping(mapping, known)
    if details:
        raise ValidationFailed(f"{details[0]['field']}: {details[0]['message']}", details)
    if not any(target in IDENTITY for target in mapping.values()):
        raise field_error("mapping", "map a column to email or phone: a contact is found by one of them")


def missing_columns(item: Sync, columns: list[str]) -> list[str]:
    """Columns the mapping or the cursor names that the query does not return."""
    named = [*plain(item.mapping or {}), *([item.cursorColumn] if item.cursorColumn else [])]
    return [name for name in dict.fromkeys(named) if name not in columns]


def missing_message(missing: list[str], columns: list[str]) -> str:
    return (
        f"the query has no column {', '.join(repr(m) for m in missing)} (it returns "
        f"{', '.join(columns)[:500]}); change the mapping or the query"
    )


# ---- schedule -----------------------------------------------------------------------------


def _set_schedule(item: Sync, schedule: str, current: Sync | None = None) -> None:
    """A scheduled sync is in the due index (gsi1) at its next run; a manual one is not."""
    if schedule not in INTERVALS:
        item.nextRunAt = item.gsi1pk = item.gsi1sk = None
        return
    owner = current or item
    next_run = clock.iso(clock.now() + INTERVALS[schedule])
    item.nextRunAt = next_run
    item.gsi1pk = DUE_PARTITION
    item.gsi1sk = Sync.due_sort(next_run, owner.workspaceId, owner.id)


# ---- test ---------------------------------------------------------------------------------


def test(workspace_id: str, sync_id: str) -> dict[str, Any]:
    """Connect, run the query for its first rows: {"ok", "columns", "sample", "error"?}. A
    column the mapping names but the query lacks is an error too."""
    item = get(workspace_id, sync_id)
    try:
        names, rows = _sample(item)
    except SourceError as error:
        return {"ok": False, "columns": [], "sample": [], "error": str(error)}
    sample = [
        {name: (None if value is None else cell_text(value)) for name, value in zip(names, row, strict=False)}
        for row in rows
    ]
    missing = missing_columns(item, names)
    if missing:
        return {"ok": False, "columns": names, "sample": sample, "error": missing_message(missing, names)}
    return {"ok": True, "columns": names, "sample": sample}


def _sample(item: Sync) -> tuple[list[str], list[tuple[Any, ...]]]:
    return sync_sources.sample(source(item), item.sql, SAMPLE_ROWS)


# ---- runs ---------------------------------------------------------------------------------


def start_run(workspace_id: str, sync_id: str) -> Import:
    """Start a run (409 while another runs): the sync claims it (`activeRunId`, conditional),
    then the run's Import item is written and its first step sent."""
    item = get(workspace_id, sync_id)
    run_id = ids.new_id()
    _claim_run(item, run_id)
    now = clock.now_iso()
    run = Import(
        *Import.key(workspace_id, run_id),
        id=run_id,
        workspaceId=workspace_id,
        status="RUNNING",
        source="sync",
        syncId=item.id,
        fileName=item.name,
        groupId=item.groupId,
        tags=[],
        mapping=dict(plain(item.mapping) or {}),
        updateExisting=bool(item.updateExisting),
        objectKey=file_store.upload_key(workspace_id, run_id),  # never written: no file
        cursorFrom=item.lastCursor if item.cursorColumn else None,
        offset=0,
        line=1,
        step=0,
        createdAt=now,
        updatedAt=now,
        startedAt=now,
        gsi1pk=Sync.runs_partition(workspace_id, item.id),
        gsi1sk=f"RUN#{run_id}",
    )
    run.save(condition=Import.pk.does_not_exist())
    send_step(run, 0)
    return run


def _claim_run(item: Sync, run_id: str) -> None:
    running = _running(item)
    if running is not None:
        raise Conflict(f"run {running} of this sync is in progress", [{"field": "runId", "message": running}])
    # The claim is conditional on the run seen (none, or one that has finished): two starts
    # at once cannot both win.
    try:
        item.update(
            actions=[Sync.activeRunId.set(run_id), Sync.runs.add(1), Sync.updatedAt.set(clock.now_iso())],
            condition=Sync.pk.exists() & _same_run(item.activeRunId),
        )
    except UpdateError as error:
        if is_conditional_failure(error):
            raise Conflict("another run of this sync has just started") from None
        raise


def _same_run(seen: str | None) -> Any:
    return Sync.activeRunId.does_not_exist() if seen is None else Sync.activeRunId == seen


def _running(item: Sync) -> str | None:
    """The run in progress, if any. A claim whose run finished without releasing it (a crash
    between the two writes) or was never written does not count."""
    if item.activeRunId is None:
        return None
    run = stored.load(Import, item.workspaceId, item.activeRunId)
    return item.activeRunId if run is not None and run.status == "RUNNING" else None


def send_step(run: Import, step: int) -> None:
    message = {"kind": STEP_KIND, "workspaceId": run.workspaceId, "runId": run.id, "step": step}
    queues.send(config.imports_queue_url(), [message])


def get_run(workspace_id: str, sync_id: str, run_id: str) -> Import:
    run = stored.load(Import, workspace_id, run_id) if ids.is_id(run_id) else None
    if run is None or run.syncId != sync_id:
        raise NotFound("run not found")
    return run


def runs_page(
    workspace_id: str, sync_id: str, limit: int, cursor: str | None
) -> tuple[list[Import], str | None]:
    """A sync's runs, newest first: one Query on gsi1."""
    get(workspace_id, sync_id)
    return cursor_page(
        Import,
        Sync.runs_partition(workspace_id, sync_id),
        Import.gsi1sk.startswith("RUN#"),
        index="gsi1",
        scope=f"{workspace_id}:sync-runs:{sync_id}",
        limit=limit,
        cursor=cursor,
        forward=False,
    )


def run_view(run: Import) -> dict[str, Any]:
    finished = run.status in ("COMPLETED", "FAILED")
    return {
        "id": run.id,
        "status": run.status,
        **imports.counts_view(run),
        "failureReason": run.failureReason,
        "cursorFrom": run.cursorFrom,
        "cursorHigh": run.cursorHigh,
        "errorReportUrl": f"/api/v1/syncs/{run.syncId}/runs/{run.id}/errors.csv" if finished else None,
        "createdAt": run.createdAt,
        "startedAt": run.startedAt,
        "finishedAt": run.finishedAt,
    }
