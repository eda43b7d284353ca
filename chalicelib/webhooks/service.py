"""Webhook endpoints: create, read, list, delete; their delivery log; what the stream reads.

Public:
- `create(ws, url, events, description) -> dict` (with the secret, shown only then)
- `get(ws, id)`, `page(ws, limit, cursor)`, `delete(ws, id)`
- `deliveries(ws, id, limit, cursor)` (newest first), `retry(ws, id, delivery_id)`
- `endpoints_for(ws) -> list[WebhookEndpoint]`: the stream's view, cached 30 s a container
  (one Query per workspace per 30 s, whatever the number of changes); `forget(ws)` drops it
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib.models.webhooks import DELIVERY_PREFIX, ENDPOINT_PREFIX, WebhookDelivery, WebhookEndpoint
from chalicelib.platform import clock, config, ids, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound, field_error
from chalicelib.platform.paged_query import cursor_page
from chalicelib.webhooks import addresses

MAX_ENDPOINTS = 20  # a workspace's: bounds what one change costs
CACHE_SECONDS = 30.0
DELIVERY_KIND = "webhook.delivery"

_cache: dict[str, tuple[float, list[WebhookEndpoint]]] = {}


def view(item: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": item.id,
        "url": item.url,
        "events": list(item.events),
        "description": item.description,
        "status": item.status,
        "failingSince": item.failingSince,
        "disabledAt": item.disabledAt,
        "disabledReason": item.disabledReason,
        "createdAt": item.createdAt,
    }


def delivery_view(item: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": item.id,
        "event": item.event,
        "status": item.status,
        "attempts": int(item.attempts),
        "lastStatusCode": None if item.lastStatusCode is None else int(item.lastStatusCode),
        "lastError": item.lastError,
        "nextAttemptAt": item.nextAttemptAt,
        "deliveredAt": item.deliveredAt,
        "createdAt": item.createdAt,
    }


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create(ws: str, url: str, events: list[str], description: str | None) -> dict[str, Any]:
    try:
        addresses.resolve(url)
    except addresses.RefusedUrl as error:
        raise field_error("url", str(error)) from None
    if len(_all(ws, consistent=True)) >= MAX_ENDPOINTS:
        raise Conflict(f"a workspace has at most {MAX_ENDPOINTS} webhook endpoints")
    endpoint_id = ids.new_id()
    item = WebhookEndpoint(
        *WebhookEndpoint.key(ws, endpoint_id),
        id=endpoint_id,
        workspaceId=ws,
        url=url,
        events=list(dict.fromkeys(events)),
        description=description,
        secret=new_secret(),
        createdAt=clock.now_iso(),
    )
    item.save(condition=WebhookEndpoint.pk.does_not_exist())
    return {**view(item), "secret": item.secret}


def find(ws: str, endpoint_id: str) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.get(*WebhookEndpoint.key(ws, endpoint_id), consistent_read=True)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound("no such webhook") from None


def get(ws: str, endpoint_id: str) -> dict[str, Any]:
    return view(find(ws, endpoint_id))


def page(ws: str, limit: int, cursor: str | None) -> dict[str, Any]:
    items, next_cursor = cursor_page(
        WebhookEndpoint,
        WebhookEndpoint.key(ws, "")[0],
        WebhookEndpoint.sk.startswith(ENDPOINT_PREFIX),
        scope=f"webhooks:{ws}",
        limit=limit,
        cursor=cursor,
    )
    return {"items": [view(found) for found in items], "nextCursor": next_cursor}


def delete(ws: str, endpoint_id: str) -> None:
    """Deliveries in flight end FAILED; the log stays until its TTL."""
    try:
        WebhookEndpoint(*WebhookEndpoint.key(ws, endpoint_id)).delete(condition=WebhookEndpoint.pk.exists())
    except DeleteError as error:
        if is_conditional_failure(error):
            raise NotFound("no such webhook") from None
        raise
    forget(ws)


def deliveries(ws: str, endpoint_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first: one Query backwards over the endpoint's log."""
    find(ws, endpoint_id)
    items, next_cursor = cursor_page(
        WebhookDelivery,
        WebhookDelivery.partition(ws, endpoint_id),
        WebhookDelivery.sk.startswith(DELIVERY_PREFIX),
        scope=f"webhook-deliveries:{ws}:{endpoint_id}",
        limit=limit,
        cursor=cursor,
        forward=False,
    )
    return {"items": [delivery_view(found) for found in items], "nextCursor": next_cursor}


def retry(ws: str, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    """One more attempt now, whatever the delivery's status (a disabled endpoint included:
    its success enables the endpoint again). If it fails, the retries go on from its attempt
    number (none once the attempts are used up)."""
    find(ws, endpoint_id)
    try:
        item = WebhookDelivery.get(*WebhookDelivery.key(ws, endpoint_id, delivery_id), consistent_read=True)
    except WebhookDelivery.DoesNotExist:
        raise NotFound("no such delivery") from None
    # The log first: the attempt may run (and record its outcome) before this answers.
    item.update(
        actions=[WebhookDelivery.status.set("PENDING"), WebhookDelivery.nextAttemptAt.set(clock.now_iso())]
    )
    queues.send(
        config.webhooks_queue_url(),
        [message(ws, endpoint_id, delivery_id, int(item.attempts) + 1, manual=True)],
    )
    return delivery_view(item)


def message(
    ws: str,
    endpoint_id: str,
    delivery_id: str,
    attempt: int,
    *,
    not_before: float | None = None,
    manual: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": DELIVERY_KIND,
        "ws": ws,
        "endpointId": endpoint_id,
        "deliveryId": delivery_id,
        "attempt": attempt,
    }
    if not_before is not None:
        body["notBefore"] = not_before
    if manual:
        body["manual"] = True
    return body


# ---- the stream's view ------------------------------------------------------------------


def endpoints_for(ws: str) -> list[WebhookEndpoint]:
    """The workspace's endpoints, at most CACHE_SECONDS old (the stream also forgets them
    when it sees an endpoint change: `forget`)."""
    now = time.monotonic()
    cached = _cache.get(ws)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = _all(ws, consistent=False)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[ws] = (now + CACHE_SECONDS, found)
    return found


def forget(ws: str) -> None:
    _cache.pop(ws, None)


def _all(ws: str, *, consistent: bool) -> list[WebhookEndpoint]:
    return [
        found
        for found in WebhookEndpoint.query(
            WebhookEndpoint.key(ws, "")[0],
            WebhookEndpoint.sk.startswith(ENDPOINT_PREFIX),
            consistent_read=consistent,
        )
        if isinstance(found, WebhookEndpoint)
    ]
