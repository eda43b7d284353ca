"""SQS: sending work (in batches of 10) and running a queue's batch with partial failures.

Messages are JSON objects with a `kind` (S3's notifications, which have none, are the kind
`S3_NOTIFICATION`); the dispatch table (chalicelib.events.dispatch) gives each kind one
`Route`. A handler that raises fails only its own message, which SQS delivers again (and,
after the queue's maxReceiveCount, moves to the dead-letter queue). A route can also have
`on_last_failure`: called when its handler fails on the last delivery, so what the message
was doing is marked failed instead of looking busy forever in the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from chalicelib.platform.logs import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

# (message, attempt): attempt is SQS's receive count, 1 on the first delivery
Handler = Callable[[dict[str, Any], int], None]
LastFailure = Callable[[dict[str, Any], BaseException], None]
# The queues' maxReceiveCount (infra/resources.json; tests/groups/test_jobs.py checks they agree).
LAST_ATTEMPT = 5
S3_NOTIFICATION = "s3.notification"


@dataclass(frozen=True)
class Route:
    handler: Handler
    on_last_failure: LastFailure | None = None


Routes = Mapping[str, Route]

MAX_DELAY_SECONDS = 900
_BATCH = 10


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3  # cold start: only functions that send load the SQS client

    return boto3.client("sqs")


def send(queue_url: str, messages: Iterable[dict[str, Any]], delay_seconds: int = 0) -> int:
    """Send every message (SendMessageBatch, 10 at a time); returns the number of calls.

    Raises when SQS refuses any entry, so the caller's own retry covers it.
    """
    return send_each(queue_url, ((message, delay_seconds) for message in messages))


def send_each(queue_url: str, messages: Iterable[tuple[dict[str, Any], int]], *, workers: int = 1) -> int:
    """`send` with a delay per message. With `workers` over 1 the calls go side by side (a
    launch page's first steps are 10 calls; the client is thread-safe), else one after the
    other, the messages read as they come."""
    batches = _batches(messages)
    if workers > 1:
        pending = list(batches)
        if len(pending) > 1:
            _client()  # made before the threads: making a boto3 client is not thread-safe
            with ThreadPoolExecutor(max_workers=min(workers, len(pending))) as pool:
                list(pool.map(partial(_send_batch, queue_url), pending))
            return len(pending)
        batches = iter(pending)
    calls = 0
    for batch in batches:
        _send_batch(queue_url, batch)
        calls += 1
    return calls


def _batches(messages: Iterable[tuple[dict[str, Any], int]]) -> Iterator[list[tuple[dict[str, Any], int]]]:
    batch: list[tuple[dict[str, Any], int]] = []
    for message in messages:
        batch.append(message)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _send_batch(queue_url: str, batch: list[tuple[dict[str, Any], int]]) -> None:
    entries = [
        {
            "Id": str(i),
            "MessageBody": json.dumps(message, separators=(",", ":")),
            "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, int(delay))),
        }
        for i, (message, delay) in enumerate(batch)
    ]
    response = _client().send_message_batch(QueueUrl=queue_url, Entries=entries)
    failed = response.get("Failed") or []
    if failed:
        raise RuntimeError(f"SQS refused {len(failed)} of {len(entries)} messages: {failed[0]}")


def handle(event: dict[str, Any], context: Any, routes: Routes) -> PartialItemFailureResponse:
    """Run each message through the route of its kind (the table app.py passes); returns
    {"batchItemFailures": [...]}."""
    from aws_lambda_powertools.utilities.batch import (  # cold start: the queue Lambdas only
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event,
        record_handler=lambda record: _run_record(record, routes),
        processor=processor,
        context=context,
    )


def kind_of(message: dict[str, Any]) -> str | None:
    if "kind" in message:
        return str(message["kind"])
    if "Records" in message or message.get("Event") == "s3:TestEvent":
        return S3_NOTIFICATION
    return None


def _run_record(record: Any, routes: Routes) -> None:
    message = json.loads(record.body)
    kind = kind_of(message)
    route = routes.get(kind) if kind else None
    if route is None:
        # Retrying cannot help an unknown kind: log it and let it go to the DLQ via failure.
        logger.error("no handler for message kind", extra={"kind": kind})
        raise LookupError(f"no handler for message kind {kind!r}")
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        route.handler(message, attempt)
    except Exception as error:
        if route.on_last_failure is not None and attempt >= LAST_ATTEMPT:
            route.on_last_failure(message, error)
        raise  # to the dead-letter queue, where it can be inspected and redriven
