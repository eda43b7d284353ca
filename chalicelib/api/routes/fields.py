"""Routes of /api/v1/fields: custom field definitions."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/fields",
    "POST",
    summary="Define a custom field {key, label, type (text|number|date|boolean|select|url), options}",
    body="fields.FieldCreate",
    response="fields.FieldView",
    status=201,
)
def create_field() -> Response:
    from chalicelib.api import idempotency
    from chalicelib.contacts import fields
    from chalicelib.schemas.fields import FieldCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, FieldCreate)

    def produce() -> tuple[int, dict[str, object]]:
        return 201, fields.view(fields.define(ws, body.key, body.label, body.type.value, body.options))

    return idempotency.respond(request, ws, "fields:create", produce)


@route(
    bp,
    "/api/v1/fields",
    "GET",
    summary="The custom field definitions",
    query="common.ListQuery",
    response="fields.FieldPage",
)
def list_fields() -> Response:
    from chalicelib.contacts import fields
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = fields.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [fields.view(item) for item in items], "nextCursor": cursor})
