"""SQS: sending work (in batches of 10) and running a queue's batch with partial failures.

Messages are JSON objects with a `kind`; each kind has one registered handler. A handler
that raises fails only its own message, which SQS delivers again (and, after the queue's
maxReceiveCount, moves to the dead-letter queue). A kind can also register `on_last_failure`:
called when its handler fails on the last delivery, so what the message was doing is marked
failed instead of looking busy forever while the message sits in the dead-letter queue.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from chalicelib.platform.logs import logger

Handler = Callable[[dict[str, Any]], None]
LastFailure = Callable[[dict[str, Any], BaseException], None]
_HANDLERS: dict[str, Handler] = {}
_LAST_FAILURES: dict[str, LastFailure] = {}
# The queues' maxReceiveCount (infra/resources.json; tests/test_jobs.py checks they agree).
LAST_ATTEMPT = 5
# Modules whose import registers message handlers; imported by the queue Lambdas only.
HANDLER_MODULES: tuple[str, ...] = (
    "chalicelib.flows.group_actions",
    "chalicelib.campaigns.workflow",
    "chalicelib.campaigns.launch",
)

MAX_DELAY_SECONDS = 900
_BATCH = 10


def handles(kind: str, *, on_last_failure: LastFailure | None = None) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        if on_last_failure is not None:
            _LAST_FAILURES[kind] = on_last_failure
        return handler

    return register


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("sqs")


def send(queue_url: str, messages: Iterable[dict[str, Any]], delay_seconds: int = 0) -> int:
    """Send every message (SendMessageBatch, 10 at a time); returns the number of calls.

    Raises when SQS refuses any entry, so the caller's own retry covers it.
    """
    calls = 0
    chunk: list[dict[str, Any]] = []
    for message in messages:
        chunk.append(message)
        if len(chunk) == _BATCH:
            _send_chunk(queue_url, chunk, delay_seconds)
            calls += 1
            chunk = []
    if chunk:
        _send_chunk(queue_url, chunk, delay_seconds)
        calls += 1
    return calls


def _send_chunk(queue_url: str, chunk: list[dict[str, Any]], delay_seconds: int) -> None:
    delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
    entries = [
        {"Id": str(i), "MessageBody": json.dumps(m, separators=(",", ":")), "DelaySeconds": delay}
        for i, m in enumerate(chunk)
    ]
    response = _client().send_message_batch(QueueUrl=queue_url, Entries=entries)
    failed = response.get("Failed") or []
    if failed:
        raise RuntimeError(f"SQS refused {len(failed)} of {len(entries)} messages: {failed[0]}")


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point of the queue Lambdas (app.py); returns {"batchItemFailures": [...]}."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    for module in HANDLER_MODULES:
        importlib.import_module(module)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=_run_record, processor=processor, context=context
    )


def _run_record(record: Any) -> None:
    message = json.loads(record.body)
    kind = message.get("kind")
    handler = _HANDLERS.get(kind)
    if handler is None:
        # Retrying cannot help an unknown kind: log it and let it go to the DLQ via failure.
        logger.error("no handler for message kind", extra={"kind": kind})
        raise LookupError(f"no handler for message kind {kind!r}")
    try:
        handler(message)
    except Exception as error:
        last_failure = _LAST_FAILURES.get(kind)
        if last_failure is not None and int(record.attributes.approximate_receive_count or 1) >= LAST_ATTEMPT:
            last_failure(message, error)
        raise  # to the dead-letter queue, where it can be inspected and redriven
