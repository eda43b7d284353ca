"""Webhook endpoints and their deliveries: /api/v1/webhooks."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/webhooks",
    "POST",
    summary="Register a URL for events; the answer holds its signing secret (whsec_...), shown only here",
    body="webhooks.WebhookCreate",
    response="webhooks.WebhookCreated",
    status=201,
)
def create_webhook() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.schemas.webhooks import WebhookCreate
    from chalicelib.webhooks import service

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, WebhookCreate)

    def produce() -> tuple[int, dict[str, object]]:
        return 201, service.create(ws, body.url, list(body.events), body.description)

    return idempotency.respond(request, ws, "webhooks:create", produce)


@route(
    bp,
    "/api/v1/webhooks",
    "GET",
    summary="The workspace's webhook endpoints",
    query="webhooks.WebhookQuery",
    response="webhooks.WebhookPage",
)
def list_webhooks() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.webhooks import WebhookQuery
    from chalicelib.webhooks import service

    request = bp.current_request
    query = parse_query(request, WebhookQuery)
    return json_response(service.page(workspace_id(request), query.limit, query.cursor))


@route(bp, "/api/v1/webhooks/{id}", "GET", summary="One webhook endpoint", response="webhooks.WebhookView")
def get_webhook(id: str) -> Response:
    from chalicelib.webhooks import service  # cold start: loaded on first use

    return json_response(service.get(workspace_id(bp.current_request), id))


@route(bp, "/api/v1/webhooks/{id}", "DELETE", summary="Stop sending events to this URL", status=204)
def delete_webhook(id: str) -> Response:
    from chalicelib.webhooks import service  # cold start: loaded on first use

    service.delete(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)


@route(
    bp,
    "/api/v1/webhooks/{id}/deliveries",
    "GET",
    summary="The endpoint's deliveries of the last 30 days, newest first",
    query="webhooks.DeliveryQuery",
    response="webhooks.DeliveryPage",
)
def list_deliveries(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.webhooks import DeliveryQuery
    from chalicelib.webhooks import service

    request = bp.current_request
    query = parse_query(request, DeliveryQuery)
    return json_response(service.deliveries(workspace_id(request), id, query.limit, query.cursor))


@route(
    bp,
    "/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry",
    "POST",
    summary="Attempt this delivery once more, now",
    response="webhooks.DeliveryView",
    status=202,
)
def retry_delivery(id: str, deliveryId: str) -> Response:
    from chalicelib.webhooks import service  # cold start: loaded on first use

    return json_response(service.retry(workspace_id(bp.current_request), id, deliveryId), 202)
