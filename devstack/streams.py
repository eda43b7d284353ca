"""A DynamoDB Streams event source mapping, as Lambda runs one, for one handler.

Per shard it keeps an iterator and the records read but not yet done with. A batch goes to
the handler when it is full, when the batching window of its oldest record has passed, or at
once when the caller does not honour windows (tests draining). Then, as Lambda with
ReportBatchItemFailures, BisectBatchOnFunctionError and MaximumRetryAttempts does:

- records before the first failed one are done; the next batch starts at the failed one, so
  nothing after it is skipped and order is kept;
- a handler that raises fails the whole batch; the batch is split in half until the record
  that fails is alone (splits are not retries);
- once a record has failed 1 + STREAM_MAX_RETRIES times, a description of it goes to the
  on-failure queue and the shard moves past it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from devstack.events import LambdaContext, batch, stream_failure, stream_record
from devstack.invoke import Invocation, invoke
from devstack.settings import STREAM_MAX_RETRIES
from devstack.sources import StreamSource

_MAX_READ = 1000  # GetRecords' own limit


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None
    buffer: list[dict[str, Any]] = field(default_factory=list)  # read, not done; oldest first
    buffered_since: float | None = None  # when the oldest buffered record was read
    last_read: str | None = None  # newest sequence number read: renews an expired iterator
    attempts: dict[str, int] = field(default_factory=dict)  # failed calls per sequence number
    limit: int | None = None  # a smaller batch while bisecting
    narrowed_until: int | None = None  # last sequence number of the batch being bisected
    done_until: str | None = None  # sequence number of the last record done with (a checkpoint)

    @property
    def closed(self) -> bool:
        return self.iterator is None

    @property
    def finished(self) -> bool:
        return self.closed and not self.buffer


class StreamPoller:
    def __init__(
        self,
        source: StreamSource,
        *,
        streams: Any,
        sqs: Any,
        failure_queue_url: str | None,
        context: Callable[[str], LambdaContext],
        log: Callable[[str], None],
        max_retries: int = STREAM_MAX_RETRIES,
        refresh_seconds: float = 10.0,
        resume: dict[str, str] | None = None,
    ) -> None:
        """`resume`: the checkpoints of a stack restarted from its saved state (`checkpoints()`
        then): each shard goes on after its last record done, a shard without one from its oldest
        record (the mapping has read every shard from its start)."""
        self.source = source
        self._streams = streams
        self._sqs = sqs
        self._failure_queue_url = failure_queue_url
        self._context = context
        self._log = log
        self._max_retries = max_retries
        self._refresh_seconds = refresh_seconds
        self._shards: dict[str, _Shard] = {}
        self._refreshed_at = 0.0
        self._resume = resume
        # The mapping exists from now on: LATEST means records written after this line.
        self._refresh_shards(initial=True)
        from devstack import moto_patches

        moto_patches.register_stream_consumer(source.stream_arn, self)

    def poll(self, honour_window: bool = True) -> list[Invocation]:
        """Read every shard and make at most one invocation per shard."""
        if time.monotonic() - self._refreshed_at >= self._refresh_seconds:
            self._refresh_shards()
        calls = []
        for shard in list(self._shards.values()):
            parent = self._shards.get(shard.parent_id or "")
            if parent is not None and not parent.finished:
                continue  # a child shard's records come after all of its parent's
            self._read(shard)
            if self._ready(shard, honour_window):
                calls.append(self._invoke(shard))
        return calls

    # --- shards and reading ----------------------------------------------------------------

    def _refresh_shards(self, initial: bool = False) -> None:
        self._refreshed_at = time.monotonic()
        arn, start = self.source.stream_arn, None
        while True:
            kwargs = {"StreamArn": arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description["Shards"]:
                if shard["ShardId"] not in self._shards:
                    # Shards that appear later are read whole: LATEST would lose their first records.
                    fresh = initial and self._resume is None
                    position = self.source.starting_position if fresh else "TRIM_HORIZON"
                    after = (self._resume or {}).get(shard["ShardId"])
                    self._shards[shard["ShardId"]] = _Shard(
                        shard_id=shard["ShardId"],
                        parent_id=shard.get("ParentShardId"),
                        iterator=self._iterator(shard["ShardId"], position, after=after),
                        last_read=after,
                        done_until=after,
                    )
            start = description.get("LastEvaluatedShardId")
            if not start:
                break

    def _iterator(self, shard_id: str, position: str, after: str | None = None) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.source.stream_arn, "ShardId": shard_id}
        if after is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs.update(ShardIteratorType=position)
        return self._streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def _read(self, shard: _Shard) -> None:
        while shard.iterator is not None and len(shard.buffer) < self.source.batch_size:
            try:
                page = self._streams.get_records(
                    ShardIterator=shard.iterator, Limit=min(_MAX_READ, self.source.batch_size)
                )
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code == "ExpiredIteratorException":  # unused for 15 min (a slow handler)
                    position = self.source.starting_position
                    shard.iterator = self._iterator(shard.shard_id, position, after=shard.last_read)
                    continue
                if code == "TrimmedDataAccessException":  # older than 24 h: gone, as on AWS
                    self._log(f"[stream] {self.source.name}: records trimmed, reading from the oldest left")
                    shard.iterator = self._iterator(shard.shard_id, "TRIM_HORIZON")
                    continue
                raise
            shard.iterator = page.get("NextShardIterator")  # None: the shard is closed and read
            records = page.get("Records", [])
            if not records:
                return
            shard.buffer.extend(stream_record(raw, self.source.stream_arn) for raw in records)
            shard.last_read = records[-1]["dynamodb"]["SequenceNumber"]
            if shard.buffered_since is None:
                shard.buffered_since = time.monotonic()

    def _ready(self, shard: _Shard, honour_window: bool) -> bool:
        if not shard.buffer:
            return False
        if not honour_window or len(shard.buffer) >= self.source.batch_size or shard.closed:
            return True
        waited = time.monotonic() - (shard.buffered_since or 0.0)
        return waited >= self.source.window_seconds

    # --- invoking and the outcome ----------------------------------------------------------

    def _invoke(self, shard: _Shard) -> Invocation:
        size = min(shard.limit or self.source.batch_size, self.source.batch_size)
        records = shard.buffer[:size]
        call = invoke(
            self.source.name, "stream", self.source.handler, batch(records), self._context(self.source.name)
        )
        if not call.failed:
            self._done(shard, len(records))
            last = int(records[-1]["dynamodb"]["SequenceNumber"])
            if shard.narrowed_until is not None and last >= shard.narrowed_until:
                shard.limit = shard.narrowed_until = None  # the bisected batch is behind us
            return call
        first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == call.failed[0])
        self._done(shard, first)  # what came before the first failure succeeded
        if call.error is not None and len(records) > 1:
            shard.limit = max(1, len(records) // 2)
            shard.narrowed_until = int(records[-1]["dynamodb"]["SequenceNumber"])
            return call
        record = records[first]
        sequence = record["dynamodb"]["SequenceNumber"]
        shard.attempts[sequence] = shard.attempts.get(sequence, 0) + 1
        if shard.attempts[sequence] > self._max_retries:
            self._give_up(shard, record, shard.attempts[sequence], call)
            self._done(shard, 1)
        return call

    def checkpoint(self) -> str | None:
        """The oldest of the shards' checkpoints (moto drops records every consumer is past);
        None while a shard has none: every record may still be needed."""
        points = [shard.done_until for shard in self._shards.values()]
        if not points or any(point is None for point in points):
            return None
        return min(points, key=int)

    def checkpoints(self) -> dict[str, str]:
        """Per shard, the sequence number of the last record done with (what a restart resumes after)."""
        return {shard.shard_id: shard.done_until for shard in self._shards.values() if shard.done_until}

    def _done(self, shard: _Shard, count: int) -> None:
        if count > 0:
            shard.done_until = shard.buffer[count - 1]["dynamodb"]["SequenceNumber"]
        for record in shard.buffer[:count]:
            shard.attempts.pop(record["dynamodb"]["SequenceNumber"], None)
        del shard.buffer[:count]
        if not shard.buffer:
            shard.buffered_since = None

    def _give_up(self, shard: _Shard, record: dict[str, Any], attempts: int, call: Invocation) -> None:
        sequence = record["dynamodb"]["SequenceNumber"]
        if self._failure_queue_url is None:
            self._log(f"[stream] {self.source.name}: dropped record {sequence} (no on-failure queue)")
            return
        context = self._context(self.source.name)
        message = stream_failure(
            record,
            shard_id=shard.shard_id,
            function_arn=context.invoked_function_arn,
            attempts=attempts,
            error=repr(call.error) if call.error is not None else None,
        )
        self._sqs.send_message(QueueUrl=self._failure_queue_url, MessageBody=json.dumps(message))
        self._log(f"[stream] {self.source.name}: record {sequence} sent to the on-failure queue")
