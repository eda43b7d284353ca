"""Deliveries: one SQS message per attempt of one event to one endpoint (cohort-webhooks).

An attempt POSTs the logged body, signed per Standard Webhooks (webhook-id = msg_<delivery
id>, the same on every attempt; webhook-timestamp; webhook-signature v1,<base64 HMAC-SHA256
of id.timestamp.body> with the secret's bytes after whsec_), to the address checked against
SSRF at that moment, with a 10 s timeout. A 2xx ends it. Anything else queues the next
attempt after `backoff(attempt)` (exponential, jittered, capped at 8 h; 11 attempts span more
than 24 h), then FAILED. SQS delays at most 900 s: a longer wait is a chain of messages, each
carrying `notBefore`, each sent again with the rest of the wait until it is due.

Each message is its own Lambda invocation (batch size 1): a slow receiver holds back nothing
but its own delivery. An endpoint whose attempts have failed for 5 days without a success in
between is disabled (`disabledReason` says why); a manual retry that succeeds enables it again
(one that fails goes on with the retries from its attempt number, as any attempt).
A message whose attempt the log already shows done (a duplicate) is dropped.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import random
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.models.webhooks import WebhookDelivery, WebhookEndpoint
from chalicelib.platform import clock, config, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.logs import logger
from chalicelib.webhooks import addresses, service

TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 11
FIRST_RETRY_SECONDS = 5.0
BACKOFF_FACTOR = 4.0
MAX_RETRY_SECONDS = 8 * 3600.0
JITTER = 0.2  # each wait is its nominal value times 1 +- JITTER
DISABLE_AFTER = timedelta(days=5)
USER_AGENT = "Cohort-Webhooks/1"
_MAX_ERROR = 300


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: 5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h, 8 h..."""
    nominal = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * BACKOFF_FACTOR ** (attempt - 1))
    return nominal * random.uniform(1 - JITTER, 1 + JITTER)


def sign(secret: str, msg_id: str, timestamp: datetime, body: str) -> str:
    from standardwebhooks.webhooks import Webhook  # cold start: the webhooks Lambda only

    return Webhook(secret).sign(msg_id, timestamp, body)


def webhook_id(delivery_id: str) -> str:
    return f"msg_{delivery_id}"


def on_message(message: dict[str, Any], receive_count: int) -> None:
    """The route of DELIVERY_KIND (chalicelib.events.dispatch.webhooks_routes)."""
    ws, endpoint_id, delivery_id = message["ws"], message["endpointId"], message["deliveryId"]
    attempt, manual = int(message["attempt"]), bool(message.get("manual"))
    not_before = message.get("notBefore")
    if not_before is not None and float(not_before) - time.time() > 1:
        _send(message, float(not_before) - time.time())
        return
    try:
        item = WebhookDelivery.get(*WebhookDelivery.key(ws, endpoint_id, delivery_id), consistent_read=True)
    except WebhookDelivery.DoesNotExist:
        return  # past its TTL
    if int(item.attempts) >= attempt or (item.status == "DELIVERED" and not manual):
        return  # a duplicate of an attempt already made
    try:
        endpoint: WebhookEndpoint | None = WebhookEndpoint.get(
            *WebhookEndpoint.key(ws, endpoint_id), consistent_read=True
        )
    except WebhookEndpoint.DoesNotExist:
        endpoint = None
    if endpoint is None or (endpoint.status != "ACTIVE" and not manual):
        why = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
        _record(item, attempt, "FAILED", None, why, None)
        return
    code, error = attempt_post(endpoint, item)
    if code is not None and 200 <= code < 300:
        _record(item, attempt, "DELIVERED", code, None, None)
        if endpoint.failingSince or endpoint.status != "ACTIVE":
            endpoint.update(
                actions=[
                    WebhookEndpoint.failingSince.remove(),
                    WebhookEndpoint.status.set("ACTIVE"),
                    WebhookEndpoint.disabledAt.remove(),
                    WebhookEndpoint.disabledReason.remove(),
                ]
            )
        return
    if attempt < MAX_ATTEMPTS:
        wait = backoff(attempt)
        due = time.time() + wait
        _send(service.message(ws, endpoint_id, delivery_id, attempt + 1, not_before=due), wait)
        _record(item, attempt, "PENDING", code, error, clock.iso(datetime.fromtimestamp(due, UTC)))
    else:
        _record(item, attempt, "FAILED", code, error, None)
    _endpoint_failed(endpoint)


def attempt_post(endpoint: WebhookEndpoint, item: WebhookDelivery) -> tuple[int | None, str | None]:
    """(the answer's status code or None, what went wrong or None)."""
    try:
        parts, address = addresses.resolve(endpoint.url)
    except addresses.RefusedUrl as refused:
        return None, f"url {refused}"
    now = clock.now()
    msg_id = webhook_id(item.id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(math.floor(now.timestamp())),
        "webhook-signature": sign(endpoint.secret, msg_id, now, item.payload),
    }
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHttps(host, port, address)
    else:
        connection = _PinnedHttp(host, port, address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # The socket's timeout bounds each read; the timer bounds the whole exchange (a receiver
    # that drips its answer a byte at a time gets TIMEOUT_SECONDS, not more).
    watchdog = threading.Timer(TIMEOUT_SECONDS, _abort, (connection,))
    watchdog.start()
    try:
        connection.request("POST", path, body=item.payload.encode(), headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status, None if 200 <= response.status < 300 else f"answered {response.status}"
    except (OSError, http.client.HTTPException) as error:
        if not watchdog.is_alive():
            return None, f"no answer within {TIMEOUT_SECONDS:g} s"
        return None, (f"{type(error).__name__}: {error}")[:_MAX_ERROR]
    finally:
        watchdog.cancel()
        connection.close()


def _abort(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHttp(http.client.HTTPConnection):
    """Connects to the address that was checked, not to what the name resolves to now."""

    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _send(message: dict[str, Any], wait: float) -> None:
    queues.send(
        config.webhooks_queue_url(), [message], delay_seconds=min(queues.MAX_DELAY_SECONDS, math.ceil(wait))
    )


def _record(
    item: WebhookDelivery, attempt: int, status: str, code: int | None, error: str | None, next_at: str | None
) -> None:
    actions: list[Any] = [WebhookDelivery.status.set(status), WebhookDelivery.attempts.set(attempt)]
    actions.append(
        WebhookDelivery.lastStatusCode.set(code)
        if code is not None
        else WebhookDelivery.lastStatusCode.remove()
    )
    actions.append(WebhookDelivery.lastError.set(error) if error else WebhookDelivery.lastError.remove())
    actions.append(
        WebhookDelivery.nextAttemptAt.set(next_at) if next_at else WebhookDelivery.nextAttemptAt.remove()
    )
    if status == "DELIVERED":
        actions.append(WebhookDelivery.deliveredAt.set(clock.now_iso()))
    item.update(actions=actions)


def _endpoint_failed(endpoint: WebhookEndpoint) -> None:
    """Start counting the failing days, or disable the endpoint after 5 of them."""
    now = clock.now()
    if not endpoint.failingSince:
        _start_failing(endpoint, now)
        return
    since = datetime.fromisoformat(endpoint.failingSince.replace("Z", "+00:00"))
    if endpoint.status == "ACTIVE" and now - since >= DISABLE_AFTER:
        reason = f"every delivery failed from {endpoint.failingSince} to {clock.iso(now)} (5 days)"
        endpoint.update(
            actions=[
                WebhookEndpoint.status.set("DISABLED"),
                WebhookEndpoint.disabledAt.set(clock.iso(now)),
                WebhookEndpoint.disabledReason.set(reason),
            ]
        )
        logger.info(
            "webhook endpoint disabled", extra={"endpointId": endpoint.id, "since": endpoint.failingSince}
        )


def _start_failing(endpoint: WebhookEndpoint, now: datetime) -> None:
    try:
        endpoint.update(
            actions=[WebhookEndpoint.failingSince.set(clock.iso(now))],
            condition=WebhookEndpoint.failingSince.does_not_exist(),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise  # else another attempt started the count first
