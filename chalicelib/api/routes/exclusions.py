"""The suppression list: /api/v1/exclusions (addresses and @domains never emailed)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import (
    json_response,
    parse_body,
    parse_query,
    read_json,
    route,
    validate,
    workspace_id,
)
from chalicelib.platform.errors import field_error

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/exclusions",
    "GET",
    summary="The suppression list, in value order",
    query="exclusions.ExclusionQuery",
    response="exclusions.ExclusionPage",
)
def list_exclusions() -> Response:
    from chalicelib.deliverability import suppression
    from chalicelib.schemas.exclusions import ExclusionQuery

    request = bp.current_request
    query = parse_query(request, ExclusionQuery)
    return json_response(suppression.page(workspace_id(request), query.limit, query.cursor, query.q or ""))


@route(
    bp,
    "/api/v1/exclusions",
    "POST",
    summary="Add an address (person@x.com) or a whole domain (@x.com); 200 if already there",
    body="exclusions.ExclusionCreate",
    response="exclusions.ExclusionView",
    status=201,
)
def add_exclusion() -> Response:
    from chalicelib.api import idempotency
    from chalicelib.deliverability import suppression
    from chalicelib.schemas.exclusions import ExclusionCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, ExclusionCreate)

    def produce() -> tuple[int, dict[str, object]]:
        view, created = suppression.add(ws, body.value)
        return (201 if created else 200), view

    return idempotency.respond(request, ws, "exclusions:create", produce)


@route(
    bp,
    "/api/v1/exclusions",
    "DELETE",
    summary='Remove a value from the list: ?value=... (or a JSON body {"value"})',
    query="exclusions.ExclusionDelete",
    status=204,
)
def remove_exclusion() -> Response:
    from chalicelib.deliverability import suppression
    from chalicelib.schemas.exclusions import ExclusionCreate, ExclusionDelete

    request = bp.current_request
    value = parse_query(request, ExclusionDelete).value
    if value is None and request.raw_body:
        data = read_json(request)
        value = validate(ExclusionCreate, data).value if isinstance(data, dict) else None
    if not value:
        raise field_error("value", "give the value to remove: ?value=person@x.com or ?value=@x.com")
    suppression.remove(workspace_id(request), value)
    return Response(body="", status_code=204)
