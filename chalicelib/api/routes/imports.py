"""Routes of /api/v1/imports, /api/v1/contacts/export (GET: the list's filters; POST: a filter)
and /api/v1/exports (API.md, section
Imports and exports).

Views import the domain inside the function: pydantic, csv and boto3 stay off the cold start.
`/api/v1/contacts/export` lives here, with the other file transfers; Chalice (and API
Gateway) prefer the literal path to `/api/v1/contacts/{id}`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from chalice.app import Blueprint, Response

from chalicelib.api.http import JSON, json_response, route, workspace_id
from chalicelib.platform.errors import InvalidRequest, field_error
from chalicelib.schemas.validation import validate

if TYPE_CHECKING:
    from chalicelib.exchange.imports import Options

bp = Blueprint(__name__)

# A CSV body is accepted under the names browsers and tools give it (Windows says Excel).
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")


@route(
    bp,
    "/api/v1/imports",
    "POST",
    summary="Start an import: JSON options answer an upload URL; a text/csv body (5 MB) is imported at once",
    body="imports.ImportOptions",
    query="imports.ImportQuery",
    response="imports.ImportCreated",
    status=201,
    content_types=(JSON, *CSV_TYPES),
)
def create_import() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.exchange import imports

    request = bp.current_request
    ws = workspace_id(request)
    content_type = (request.headers.get("content-type") or JSON).split(";")[0].strip().lower()

    def produce() -> tuple[int, dict[str, Any]]:
        if content_type in CSV_TYPES:
            # chalice types raw_body str | bytes: always bytes
            item = imports.create_from_body(ws, cast(bytes, request.raw_body) or b"", _query_options())
            return 201, {"id": item.id, "status": item.status}
        options = _json_options()
        item, url = imports.create_upload(ws, options)
        return 201, {
            "id": item.id,
            "status": item.status,
            "uploadUrl": url,
            "uploadMethod": "PUT",
            "uploadExpiresAt": _in_seconds(imports.UPLOAD_URL_SECONDS),
        }

    return idempotency.respond(request, ws, "imports.create", produce)


def _json_options() -> Options:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_body
    from chalicelib.schemas.imports import ImportOptions, ImportQuery

    request = bp.current_request
    # Options are read from the query string only beside a CSV body: here they would be
    # dropped unsaid, so they are refused, named.
    aliases = {info.alias or name for name, info in ImportQuery.model_fields.items()}
    beside = sorted(aliases & set(request.query_params or {}))
    if beside:
        raise InvalidRequest(
            "with a JSON body the options go in the body; the query string carries them only "
            "beside a text/csv body",
            [{"field": name, "message": "give it in the JSON body"} for name in beside],
        )
    body = parse_body(request, ImportOptions) if (request.raw_body or b"").strip() else ImportOptions()
    return _options(body)


def _query_options() -> Options:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_query
    from chalicelib.exchange.imports import parse_tags
    from chalicelib.schemas.imports import ImportOptions, ImportQuery

    query = parse_query(bp.current_request, ImportQuery)
    mapping = None
    if query.mapping:
        try:
            mapping = json.loads(query.mapping)
        except (ValueError, RecursionError):  # RecursionError: thousands of `[` in the query
            raise field_error("mapping", 'must be a JSON object such as {"Courriel": "email"}') from None
    data = {
        "groupId": query.group_id,
        "tags": list(parse_tags(query.tags)) or None,
        "mapping": mapping,
        "updateExisting": query.update_existing,
        "fileName": query.file_name,
    }
    return _options(validate(ImportOptions, data))


def _options(body: Any) -> Options:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange.imports import Options

    return Options(
        group_id=body.group_id,
        tags=tuple(dict.fromkeys(body.tags or [])),
        mapping=dict(body.mapping or {}),
        update_existing=body.update_existing,
        file_name=body.file_name,
    )


def _in_seconds(seconds: int) -> str:
    # cold start: loaded on first use, not at the API's import
    from datetime import timedelta

    # cold start: loaded on first use, not at the API's import
    from chalicelib.platform import clock

    return clock.iso(clock.now() + timedelta(seconds=seconds))


@route(
    bp,
    "/api/v1/imports",
    "GET",
    summary="The workspace's imports, newest first",
    query="common.ListQuery",
    response="imports.ImportPage",
)
def list_imports() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_query
    from chalicelib.exchange import imports
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = imports.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [imports.view(item) for item in items], "nextCursor": cursor})


@route(
    bp,
    "/api/v1/imports/{id}",
    "GET",
    summary="An import's progress, counters and first errors",
    response="imports.ImportView",
)
def get_import(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import imports

    return json_response(imports.view(imports.get(workspace_id(bp.current_request), id)))


@route(
    bp,
    "/api/v1/imports/{id}/errors.csv",
    "GET",
    summary="Every skipped or failed row with its reason and cells (303 to a download when large)",
    response_content_type="text/csv",
    errors=(409,),
)
def import_errors(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import import_report

    report = import_report.error_report(workspace_id(bp.current_request), id)
    if report.url is not None:
        return Response(body="", status_code=303, headers={"Location": report.url})
    return _csv(report.body.decode("utf-8") if report.body else "", f"import-{id}-errors.csv")


@route(
    bp,
    "/api/v1/contacts/export",
    "GET",
    summary="Contacts as CSV (filters as the list); large exports answer 202 and run as a job",
    query="imports.ExportQuery",
    response_content_type="text/csv",
)
def export_contacts() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_query
    from chalicelib.exchange import contact_export
    from chalicelib.schemas.imports import ExportQuery

    request = bp.current_request
    query = parse_query(request, ExportQuery)
    return export_answer(contact_export.export(workspace_id(request), query.filters()))


@route(
    bp,
    "/api/v1/contacts/export",
    "POST",
    summary="Contacts matching a filter as CSV (as GET /contacts/export answers: large ones 202 and a job)",
    body="filters.ExportBody",
    response_content_type="text/csv",
)
def export_contacts_by_filter() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_body
    from chalicelib.exchange import contact_export
    from chalicelib.schemas.filters import ExportBody
    from chalicelib.segments import rules

    request = bp.current_request
    body = parse_body(request, ExportBody)
    ws = workspace_id(request)
    return export_answer(contact_export.export_filter(ws, rules.check(ws, body.filter)))


def export_answer(result: Any) -> Response:
    """The CSV itself (200), or 202 and where to follow the export job."""
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import contact_export

    if isinstance(result, contact_export.Inline):
        return _csv(result.text, result.file_name)
    status_url = f"/api/v1/exports/{result.id}"
    return json_response(
        {"id": result.id, "status": result.status, "statusUrl": status_url}, 202, {"Location": status_url}
    )


@route(
    bp,
    "/api/v1/exports/{id}",
    "GET",
    summary="A large export's progress and, once done, its download URL",
    response="imports.ExportView",
)
def get_export(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.exchange import contact_export

    item = contact_export.get(workspace_id(bp.current_request), id)
    return json_response(contact_export.view(item))


def _csv(text: str, file_name: str) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{file_name}"',
    }
    return Response(body=text, status_code=200, headers=headers)
