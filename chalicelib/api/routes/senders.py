"""Routes of /api/v1/senders: the addresses and domains a workspace sends campaigns from."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/senders",
    "POST",
    summary="Add a sender identity (an address or a domain): SES starts verifying it",
    body="senders.SenderCreate",
    response="senders.SenderView",
    status=201,
)
def create_sender() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.deliverability import senders
    from chalicelib.schemas.senders import SenderCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, SenderCreate)
    return idempotency.respond(
        request, ws, "senders", lambda: (201, senders.view(senders.create(ws, body.email, body.domain)))
    )


@route(
    bp,
    "/api/v1/senders",
    "GET",
    summary="List the workspace's sender identities, each with its status in SES",
    query="senders.SenderListQuery",
    response="senders.SenderPage",
)
def list_senders() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.deliverability import senders
    from chalicelib.schemas.senders import SenderListQuery

    request = bp.current_request
    query = parse_query(request, SenderListQuery)
    items, next_cursor = senders.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [senders.view(item) for item in items], "nextCursor": next_cursor})


@route(
    bp,
    "/api/v1/senders/{id}",
    "GET",
    summary="A sender identity (status read from SES)",
    response="senders.SenderView",
)
def get_sender(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.deliverability import senders

    return json_response(senders.view(senders.get(workspace_id(bp.current_request), id)))


@route(bp, "/api/v1/senders/{id}", "DELETE", summary="Remove a sender identity (here and in SES)", status=204)
def delete_sender(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.deliverability import senders

    senders.delete(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)
