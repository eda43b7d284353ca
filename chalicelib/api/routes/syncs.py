"""Routes of /api/v1/syncs: database syncs, their test, their runs and each run's error
report (API.md, section Database sync; docs/sync.md). The database drivers are never
imported here: only a test or a run loads them."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/syncs",
    "POST",
    summary="Define a database sync (the password goes to Secrets Manager, never shown again)",
    body="syncs.SyncCreate",
    response="syncs.SyncView",
    status=201,
)
def create_sync() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.exchange import syncs
    from chalicelib.schemas.syncs import SyncCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, SyncCreate)
    return idempotency.respond(request, ws, "syncs", lambda: (201, syncs.view(syncs.create(ws, body))))


@route(
    bp,
    "/api/v1/syncs",
    "GET",
    summary="The workspace's database syncs",
    query="syncs.SyncListQuery",
    response="syncs.SyncPage",
)
def list_syncs() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import syncs
    from chalicelib.schemas.syncs import SyncListQuery

    request = bp.current_request
    query = parse_query(request, SyncListQuery)
    items, cursor = syncs.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [syncs.view(item) for item in items], "nextCursor": cursor})


@route(bp, "/api/v1/syncs/{id}", "GET", summary="A database sync", response="syncs.SyncView")
def get_sync(id: str) -> Response:
    from chalicelib.exchange import syncs  # cold start: loaded on first use

    return json_response(syncs.view(syncs.get(workspace_id(bp.current_request), id)))


@route(
    bp,
    "/api/v1/syncs/{id}",
    "PATCH",
    summary="Change a database sync (409 while a run is in progress)",
    body="syncs.SyncPatch",
    response="syncs.SyncView",
)
def patch_sync(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import syncs
    from chalicelib.schemas.syncs import SyncPatch

    request = bp.current_request
    body = parse_body(request, SyncPatch)
    return json_response(syncs.view(syncs.update(workspace_id(request), id, body)))


@route(bp, "/api/v1/syncs/{id}", "DELETE", summary="Delete a database sync and its password", status=204)
def delete_sync(id: str) -> Response:
    from chalicelib.exchange import syncs  # cold start: loaded on first use

    syncs.delete(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)


@route(
    bp,
    "/api/v1/syncs/{id}/test",
    "POST",
    summary="Connect and run the query: its columns and first 5 rows, or the database's error",
    response="syncs.SyncTestResult",
)
def test_sync(id: str) -> Response:
    from chalicelib.exchange import syncs  # cold start: loaded on first use

    return json_response(syncs.test(workspace_id(bp.current_request), id))


@route(
    bp,
    "/api/v1/syncs/{id}/run",
    "POST",
    summary="Start a run now (409 while one is in progress)",
    response="syncs.SyncRunStarted",
    status=202,
)
def run_sync(id: str) -> Response:
    from chalicelib.exchange import syncs  # cold start: loaded on first use

    run = syncs.start_run(workspace_id(bp.current_request), id)
    return json_response({"runId": run.id}, 202)


@route(
    bp,
    "/api/v1/syncs/{id}/runs",
    "GET",
    summary="A sync's runs, newest first, with the import report's counts",
    query="syncs.SyncListQuery",
    response="syncs.SyncRunPage",
)
def list_runs(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import syncs
    from chalicelib.schemas.syncs import SyncListQuery

    request = bp.current_request
    query = parse_query(request, SyncListQuery)
    items, cursor = syncs.runs_page(workspace_id(request), id, query.limit, query.cursor)
    return json_response({"items": [syncs.run_view(item) for item in items], "nextCursor": cursor})


@route(
    bp,
    "/api/v1/syncs/{id}/runs/{runId}/errors.csv",
    "GET",
    summary="A run's skipped and failed rows and left-out values, with reasons (303 when large)",
    response_content_type="text/csv",
    errors=(409,),
)
def run_errors(id: str, runId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import import_report, syncs

    ws = workspace_id(bp.current_request)
    syncs.get_run(ws, id, runId)
    report = import_report.error_report(ws, runId)
    if report.url is not None:
        return Response(body="", status_code=303, headers={"Location": report.url})
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="sync-run-{runId}-errors.csv"',
    }
    return Response(body=report.body.decode("utf-8") if report.body else "", status_code=200, headers=headers)
