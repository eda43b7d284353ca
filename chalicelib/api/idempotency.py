"""`Idempotency-Key` on POSTs that create, through Powertools idempotency on the one table.

The same key with the same body within 24 h returns the first answer and does nothing again;
the same key with another body, or while the first call is still running, is a 409.
Records live in a partition per workspace (pk IDEMPOTENCY#<ws>), so keys never collide
across workspaces and no single partition takes every workspace's retries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from chalice.app import Request, Response

from chalicelib.api.http import json_response
from chalicelib.platform import config
from chalicelib.platform.errors import Conflict, field_error

HEADER = "idempotency-key"
TTL_SECONDS = 24 * 3600

Produce = Callable[[], tuple[int, dict[str, Any]]]


def respond(request: Request, workspace_id: str, scope: str, produce: Produce) -> Response:
    """Run `produce` (which returns status and body) at most once per Idempotency-Key."""
    key = request.headers.get(HEADER)
    if key is None:
        status, body = produce()
        return json_response(body, status)
    if not 1 <= len(key) <= 255:
        raise field_error("Idempotency-Key", "must be 1 to 255 characters")
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = _config()
    if request.lambda_context is not None:
        # An in-progress record then expires with this invocation's time left: a call cut off
        # by a timeout does not hold its key "in progress" (409) for the whole TTL.
        config.register_lambda_context(request.lambda_context)

    @idempotent_function(
        data_keyword_argument="call",
        persistence_store=_persistence(workspace_id),
        config=config,
    )
    def run(call: dict[str, str]) -> dict[str, Any]:
        status, body = produce()
        return {"status": status, "body": body}

    call = {"key": f"{scope}:{key}", "body": hashlib.sha256(request.raw_body or b"").hexdigest()}
    try:
        answer = run(call=call)
    except IdempotencyValidationError:
        raise Conflict(
            "this Idempotency-Key was used with another body",
            [{"field": "Idempotency-Key", "message": "reused with a different body"}],
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress",
            [{"field": "Idempotency-Key", "message": "in progress"}],
        ) from None
    return json_response(answer["body"], answer["status"])


@lru_cache(maxsize=1)
def _config() -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=TTL_SECONDS,
        raise_on_no_idempotency_key=True,
    )


@lru_cache(maxsize=256)
def _persistence(workspace_id: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=config.table_name(),
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"IDEMPOTENCY#{workspace_id}",
        expiry_attr="ttl",
    )
