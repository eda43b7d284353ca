"""The DynamoDB Streams handler: turns each record into a `Change` and hands it to the
reactions the dispatch table gives that item type (chalicelib.events.dispatch).

Processing goes through Powertools' BatchProcessor, so one failing record is reported in
`batchItemFailures` (by sequence number) and Lambda retries from it; the reactions must
therefore be idempotent (conditional puts, per-record markers), never "exactly once by luck".

A stream is ordered: Lambda redelivers from the first failed record and treats every record
before it as done. So once a record fails the rest of the batch is not run (it comes again),
and the work deferred by the records before the failure is carried out all the same: those
records are never delivered again. Every deferred action runs even if one before it fails
(then the batch fails and comes again): their writes are idempotent, so doing one twice is
harmless where skipping one can lose it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.platform.logs import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


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
# item type -> its reactions, in order (chalicelib.events.dispatch.stream_reactions)
Reactions = Mapping[str, Sequence[Reaction]]


class AfterFailedRecord(Exception):
    """Marks a record not run because an earlier one of its batch failed; it comes again."""


def handle(event: dict[str, Any], context: Any, reactions: Reactions) -> PartialItemFailureResponse:
    """Run each record through the reactions of its item type (the table app.py passes);
    returns {"batchItemFailures": [...]}."""
    from aws_lambda_powertools.utilities.batch import (  # cold start: the stream Lambda only
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    batch = Batch()
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

    failed = False

    def record_handler(record: Any) -> None:
        nonlocal failed
        if failed:
            raise AfterFailedRecord(record.dynamodb.sequence_number)
        try:
            change = to_change(record.raw_event)
            for reaction in reactions.get(change.item_type, ()):
                reaction(change, batch)
        except Exception:
            failed = True
            # Why a record fails (and the ones after it wait): the batch's answer only says which.
            logger.exception(
                "stream record failed; it and the records after it will be delivered again",
                extra={"sequence_number": record.dynamodb.sequence_number},
            )
            raise

    result = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    # Only records before the first failure contributed: Lambda will not deliver them again.
    # Each action runs even when one before it failed: a redelivered batch finds its writes
    # done and would not count them again (enrollments), so skipping one loses it for good.
    errors: list[Exception] = []
    for action in batch.deferred.values():
        try:
            action()
        except Exception as error:
            logger.exception("deferred stream work failed; the batch will be delivered again")
            errors.append(error)
    if errors:
        raise errors[0]
    return result


def to_change(record: dict[str, Any]) -> Change:
    from boto3.dynamodb.types import TypeDeserializer  # cold start: the stream Lambda only

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
