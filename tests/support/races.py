"""Two writers, interleaved on purpose: a competitor's writes run just before one of ours is
sent (botocore's `before-call` event on the table's client), between our read and our
conditional write. What exactly-once guards are tested with."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

WRITES = ("PutItem", "BatchWriteItem", "TransactWriteItems")


@contextmanager
def competitor_before(
    operations: Sequence[str], match: str, competitor: Callable[[], None]
) -> Iterator[dict[str, int]]:
    """Run `competitor` once, just before the first request of one of `operations` whose body
    contains `match`; the competitor's own requests go through untouched. The state says
    whether it ran."""
    from chalicelib.platform.db import connection

    events = connection().client.meta.events
    state = {"ran": 0, "busy": 0}

    def interleave(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if state["busy"] or state["ran"] or match not in text:
            return
        state["busy"] = 1
        try:
            competitor()
        finally:
            state["busy"] = 0
            state["ran"] = 1

    for operation in operations:
        events.register_first(f"before-call.dynamodb.{operation}", interleave, unique_id=f"race-{operation}")
    try:
        yield state
    finally:
        for operation in operations:
            events.unregister(f"before-call.dynamodb.{operation}", unique_id=f"race-{operation}")


@contextmanager
def atomic_moto_transactions() -> Iterator[None]:
    """DynamoDB runs a transaction atomically: its conditions and its writes as one step that no
    other request sees half done. moto checks, then writes, and another thread may run between:
    a thread test of conditions inside a transaction needs moto made atomic as DynamoDB is
    (a lock around its transact_write_items and update_item; the requests of the threads still
    interleave freely between them)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in ("transact_write_items", "update_item")}

    def guarded(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return run

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, guarded(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)
