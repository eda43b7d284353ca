"""An SNS subscription of a Lambda function, for one `on_sns_message` handler.

SNS invokes Lambda asynchronously, one message per invocation. Locally the topic delivers to
an SQS queue of devstack's own (moto delivers SNS to SQS, in-process and in server mode); the
poller turns each message back into Lambda's SNS event and invokes the handler. A handler
that raises gets the message again (Lambda's asynchronous retries: 2) and then it is dropped
with a line on stderr, as Lambda drops it when the function has no failure destination.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from devstack.events import LambdaContext, batch, sns_record
from devstack.invoke import Invocation, invoke
from devstack.settings import SNS_MAX_ATTEMPTS, SQS_IN_FLIGHT_SECONDS, SQS_RETRY_DELAY_SECONDS
from devstack.sources import TopicSource


class TopicPoller:
    def __init__(
        self,
        source: TopicSource,
        *,
        sns: Any,
        sqs: Any,
        context: Callable[[str], LambdaContext],
        retry_delay: int = SQS_RETRY_DELAY_SECONDS,
    ) -> None:
        self.source = source
        self._sqs = sqs
        self._context = context
        self._retry_delay = retry_delay
        self.queue_url = sqs.create_queue(QueueName=f"devstack-sns-{source.name}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.subscription_arn = sns.subscribe(
            TopicArn=source.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def poll(self, honour_window: bool = True) -> list[Invocation]:
        """Invoke the handler once per message that is there now; [] when there is none."""
        reply = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=SQS_IN_FLIGHT_SECONDS,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        calls = []
        for message in reply.get("Messages", []):
            record = sns_record(json.loads(message["Body"]), self.subscription_arn)
            call = invoke(
                self.source.name, "sns", self.source.handler, batch([record]), self._context(self.source.name)
            )
            calls.append(call)
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if call.ok or attempts >= SNS_MAX_ATTEMPTS:
                if not call.ok:
                    print(
                        f"devstack: {self.source.name} dropped SNS message after {attempts} attempts",
                        file=sys.stderr,
                    )
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_delay,
                )
        return calls

    def waiting(self) -> int:
        """Messages that will be deliverable later (in flight until a retry)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return sum(int(value) for value in attributes.values())
