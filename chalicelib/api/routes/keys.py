"""Routes of /api/v1/keys: a workspace's API keys (only a full key manages them)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, require_full_key, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/keys",
    "POST",
    summary="Create an API key (its secret is shown once)",
    body="keys.KeyCreate",
    response="keys.KeyCreated",
    status=201,
)
def create_key() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.keys import KeyCreate
    from chalicelib.workspaces import keys

    request = bp.current_request
    require_full_key(request)
    body = parse_body(request, KeyCreate)
    item, secret = keys.create(workspace_id(request), body.name, body.scope)
    return json_response({**keys.view(item), "apiKey": secret}, 201)


@route(
    bp,
    "/api/v1/keys",
    "GET",
    summary="List the workspace's API keys, revoked ones included",
    query="keys.KeyListQuery",
    response="keys.KeyPage",
)
def list_keys() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.keys import KeyListQuery
    from chalicelib.workspaces import keys

    request = bp.current_request
    require_full_key(request)
    query = parse_query(request, KeyListQuery)
    items, next_cursor = keys.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [keys.view(item) for item in items], "nextCursor": next_cursor})


@route(bp, "/api/v1/keys/{id}", "GET", summary="An API key", response="keys.KeyView")
def get_key(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.workspaces import keys

    request = bp.current_request
    require_full_key(request)
    return json_response(keys.view(keys.get(workspace_id(request), id)))


@route(
    bp,
    "/api/v1/keys/{id}",
    "DELETE",
    summary="Revoke an API key (401 everywhere within 60 s); the last full key cannot be revoked",
    response="keys.KeyView",
)
def revoke_key(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.workspaces import keys

    request = bp.current_request
    require_full_key(request)
    return json_response(keys.view(keys.revoke(workspace_id(request), id)))
