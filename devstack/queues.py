"""An SQS event source mapping, as Lambda runs one (with ReportBatchItemFailures), for one handler.

Receive up to the decorator's batch size, invoke, delete the messages that succeeded, and make
the failed ones visible again after a short delay (AWS waits for the queue's visibility
timeout). SQS itself counts the receives and, past the queue's maxReceiveCount, moves a
message to its dead-letter queue on the next receive (moto does this too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack.events import LambdaContext, batch, sqs_record
from devstack.invoke import Invocation, invoke
from devstack.settings import SQS_IN_FLIGHT_SECONDS, SQS_RETRY_DELAY_SECONDS
from devstack.sources import QueueSource

_MAX_RECEIVE = 10  # ReceiveMessage's and the batch calls' own limit


class QueuePoller:
    def __init__(
        self,
        source: QueueSource,
        *,
        sqs: Any,
        context: Callable[[str], LambdaContext],
        retry_delay: int = SQS_RETRY_DELAY_SECONDS,
        wait_seconds: int = 0,
    ) -> None:
        self.source = source
        self._sqs = sqs
        self._context = context
        self._retry_delay = retry_delay
        self._wait_seconds = wait_seconds

    def poll(self, honour_window: bool = True) -> list[Invocation]:
        """One receive-invoke-settle round; no invocation when the queue has nothing visible."""
        records = self._receive()
        if not records:
            return []
        call = invoke(
            self.source.name, "sqs", self.source.handler, batch(records), self._context(self.source.name)
        )
        failed = set(call.failed)
        self._delete([r for r in records if r["messageId"] not in failed])
        self._retry_later([r for r in records if r["messageId"] in failed])
        return [call]

    def waiting(self) -> int:
        """Messages not delivered yet: delayed, in flight until a retry, or visible (one that
        came due after the last receive must not end a drain)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.source.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def _receive(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        wait = self._wait_seconds
        while len(records) < self.source.batch_size:
            reply = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(_MAX_RECEIVE, self.source.batch_size - len(records)),
                VisibilityTimeout=SQS_IN_FLIGHT_SECONDS,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = reply.get("Messages", [])
            if not messages:
                break
            records.extend(sqs_record(message, self.source.queue_arn) for message in messages)
            wait = 0  # batch sizes above 10 take what is there now, without waiting again
        return records

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for chunk in _chunks(records):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            self._sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)

    def _retry_later(self, records: list[dict[str, Any]]) -> None:
        for chunk in _chunks(records):
            entries = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": self._retry_delay}
                for i, r in enumerate(chunk)
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=self.source.queue_url, Entries=entries)


def _chunks(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [records[i : i + _MAX_RECEIVE] for i in range(0, len(records), _MAX_RECEIVE)]
