"""Calling a handler the way Lambda does, and the record of one call (`Invocation`).

A handler is what Chalice's decorator returned (`app.handler_map[name]`): called as
`handler(event_dict, context)`, it builds the event object and runs the middleware.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from devstack.events import LambdaContext

Kind = Literal["stream", "sqs", "sns", "schedule"]
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Invocation:
    """One call of one handler: what it got, what it answered, which items failed."""

    handler: str
    kind: Kind
    event: dict[str, Any]
    result: Any = None
    error: BaseException | None = None
    # Item identifiers (SequenceNumber / messageId) the handler reported or that failed with it.
    failed: list[str] = field(default_factory=list)
    ms: float = 0.0

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.event.get("Records", [])

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    @property
    def failures(self) -> int:
        # A schedule has no items: its one "record" failed if it raised.
        return len(self.failed) if self.kind != "schedule" else int(self.error is not None)

    def line(self) -> str:
        """The one line the stack prints per invocation."""
        count = len(self.records) if self.kind != "schedule" else 1
        text = f"[{self.kind}] {self.handler} records={count} failures={self.failures} ms={self.ms:.0f}"
        if self.error is not None:
            text += f" error={type(self.error).__name__}: {self.error}"
        return text


def item_id(kind: Kind, record: dict[str, Any]) -> str:
    """The identifier a handler reports in batchItemFailures for this record."""
    if kind == "sns":
        return record["Sns"]["MessageId"]
    return record["dynamodb"]["SequenceNumber"] if kind == "stream" else record["messageId"]


def invoke(
    name: str, kind: Kind, handler: Handler, event: dict[str, Any], context: LambdaContext
) -> Invocation:
    """Run the handler; an exception fails every record, as it fails the whole Lambda call."""
    call = Invocation(handler=name, kind=kind, event=event)
    started = time.perf_counter()
    try:
        call.result = handler(event, context)
    except Exception as error:  # the handler's bug must not stop the poller
        call.error = error
        traceback.print_exc(file=sys.stderr)
    call.ms = (time.perf_counter() - started) * 1000
    ids = [item_id(kind, record) for record in call.records]
    call.failed = ids if call.error is not None else _reported_failures(call.result, ids)
    return call


def _reported_failures(result: Any, ids: list[str]) -> list[str]:
    """The batchItemFailures of a result, in batch order.

    As Lambda does, an identifier that is empty or not in the batch fails the whole batch
    (the handler is confused; retrying everything is the safe reading).
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return []
    reported = {str((item or {}).get("itemIdentifier") or "") for item in result["batchItemFailures"]}
    if not reported <= set(ids):
        return list(ids)
    return [i for i in ids if i in reported]
