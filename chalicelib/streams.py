"""The DynamoDB Streams handler: turns each record into a `Change` and hands it to the
reactions registered for that item type (memberships enroll, contacts update counters...).

Processing goes through Powertools' BatchProcessor, so one failing record is reported in
`batchItemFailures` (by sequence number) and Lambda retries from it; the reactions must
therefore be idempotent (conditional puts, per-record markers), never "exactly once by luck".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.logs import logger

# Modules whose import registers reactions; imported on the first batch, not at cold start
# of the API functions.
REACTION_MODULES: tuple[str, ...] = (
    "chalicelib.group_stats",
    "chalicelib.memberships",
    "chalicelib.enrollment",
    "chalicelib.launch",
    "chalicelib.activity",
)


@dataclass(frozen=True)
class Change:
    """One stream record, its images deserialised to plain Python values."""

    event_name: str  # INSERT | MODIFY | REMOVE
    item_type: str
    keys: dict[str, Any]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    sequence_number: str
    event_id: str

    @property
    def image(self) -> dict[str, Any]:
        """The newest image there is (the old one for a REMOVE)."""
        return self.new if self.new is not None else (self.old or {})

    def changed(self, attribute: str) -> bool:
        return (self.old or {}).get(attribute) != (self.new or {}).get(attribute)


@dataclass
class Batch:
    """Work that reactions defer to the end of the batch, merged by key (one write per
    counter per batch instead of one per record)."""

    deferred: dict[Any, Callable[[], None]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def defer(self, key: Any, action: Callable[[], None]) -> None:
        self.deferred[key] = action


Reaction = Callable[[Change, Batch], None]
_REACTIONS: dict[str, list[Reaction]] = {}
_FINISHERS: list[Callable[[Batch], None]] = []


def reacts_to(item_type: str) -> Callable[[Reaction], Reaction]:
    def register(reaction: Reaction) -> Reaction:
        _REACTIONS.setdefault(item_type, []).append(reaction)
        return reaction

    return register


def on_batch_end(finisher: Callable[[Batch], None]) -> Callable[[Batch], None]:
    """Register work that runs once after every record of a batch succeeded."""
    _FINISHERS.append(finisher)
    return finisher


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point of the Lambda (app.py); returns {"batchItemFailures": [...]}."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    for module in REACTION_MODULES:
        importlib.import_module(module)
    batch = Batch()
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

    def record_handler(record: Any) -> None:
        _dispatch(to_change(record.raw_event), batch)

    result = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    if not result.get("batchItemFailures"):
        for action in batch.deferred.values():
            action()
        for finisher in _FINISHERS:
            finisher(batch)
    return result


def _dispatch(change: Change, batch: Batch) -> None:
    for reaction in _REACTIONS.get(change.item_type, ()):
        reaction(change, batch)


def to_change(record: dict[str, Any]) -> Change:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    data = record["dynamodb"]

    def image(name: str) -> dict[str, Any] | None:
        raw = data.get(name)
        return {k: deserializer.deserialize(v) for k, v in raw.items()} if raw else None

    old, new = image("OldImage"), image("NewImage")
    item_type = str((new or old or {}).get("type", ""))
    if not item_type:
        logger.debug("stream record without an item type", extra={"keys": data.get("Keys")})
    return Change(
        event_name=record["eventName"],
        item_type=item_type,
        keys=image("Keys") or {},
        old=old,
        new=new,
        sequence_number=data["SequenceNumber"],
        event_id=record.get("eventID", data["SequenceNumber"]),
    )
