"""Lambda-shaped events and context: the one place that knows what Lambda hands a handler.

Two kinds of builders:
- converters of what boto3 returns (`dynamodbstreams.get_records`, `sqs.receive_message`, an
  SNS message delivered to SQS) into the records Lambda delivers, used by the pollers;
- synthetic builders (`make_stream_record`, `make_sqs_record`, `make_sns_record`) for tests
  that call a handler directly, with distinct ids (Chalice's `generate_sqs_event` repeats one messageId, which
  hides partial-failure bugs).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"


# --- context -------------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 128
    region: str = REGION
    account_id: str = ACCOUNT_ID
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: Any = None
    identity: Any = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


# --- DynamoDB Streams ------------------------------------------------------------------------


def stream_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of `get_records` as Lambda delivers it.

    boto3 parses ApproximateCreationDateTime into a datetime; Lambda sends epoch seconds (a
    number), and Chalice's DynamoDBRecord raises TypeError on anything else.
    """
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    record = {key: value for key, value in raw.items() if key != "dynamodb"}
    record.setdefault("eventVersion", "1.1")
    record.setdefault("eventSource", "aws:dynamodb")
    record["dynamodb"] = dynamodb
    record["eventSourceARN"] = stream_arn
    return record


_sequence = itertools.count(100000000000000000000)


def make_stream_record(
    event_name: str,
    keys: dict[str, Any],
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    *,
    stream_arn: str = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/cohort/stream/local",
    sequence_number: str | None = None,
) -> dict[str, Any]:
    """A stream record from plain Python values (INSERT | MODIFY | REMOVE), NEW_AND_OLD_IMAGES."""
    serialize = TypeSerializer().serialize

    def image(values: dict[str, Any]) -> dict[str, Any]:
        return {name: serialize(value) for name, value in values.items()}

    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": image(keys),
        "SequenceNumber": sequence_number or str(next(_sequence)),
        "SizeBytes": len(json.dumps([keys, new, old], default=str)),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = image(new)
    if old is not None:
        dynamodb["OldImage"] = image(old)
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


# --- SQS -------------------------------------------------------------------------------------


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One message of `receive_message` (asked with all attributes) as Lambda delivers it."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # boto3 spells these StringValue/BinaryValue (bytes); Lambda stringValue/binaryValue (base64).
    out: dict[str, Any] = {
        "dataType": value["DataType"],
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])],
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


def make_sqs_record(
    body: str | dict[str, Any],
    *,
    queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:cohort-steps",
    receive_count: int = 1,
    message_id: str | None = None,
) -> dict[str, Any]:
    """An SQS record with its own messageId; a dict body is sent as JSON, as chalicelib.platform.queues does."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SenderId": ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


# --- SNS -------------------------------------------------------------------------------------


def sns_record(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """A message as an SNS topic delivers it to SQS (the JSON body) as Lambda delivers it.
    Lambda spells SigningCertUrl and UnsubscribeUrl where the SQS body has ...URL."""
    sns = {key: value for key, value in envelope.items() if key not in ("SigningCertURL", "UnsubscribeURL")}
    sns["SigningCertUrl"] = envelope.get("SigningCertURL", "")
    sns["UnsubscribeUrl"] = envelope.get("UnsubscribeURL", "")
    sns.setdefault("MessageAttributes", {})
    sns.setdefault("Subject", None)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }


def make_sns_record(
    message: str | dict[str, Any],
    *,
    topic_arn: str = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:cohort-ses-notifications",
    subject: str | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """An SNS record as Lambda delivers it; a dict message is sent as JSON (as SES does)."""
    text = message if isinstance(message, str) else json.dumps(message)
    envelope = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Subject": subject,
        "Message": text,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe",
    }
    return sns_record(envelope, f"{topic_arn}:{uuid.uuid4()}")


def batch(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The event of a stream or SQS invocation: its records, oldest first."""
    return {"Records": records}


# --- schedules -------------------------------------------------------------------------------


def scheduled_event(
    rule_name: str, *, region: str = REGION, account_id: str = ACCOUNT_ID, at: datetime | None = None
) -> dict[str, Any]:
    """The EventBridge (CloudWatch Events) event of a scheduled rule firing."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        "detail": {},
    }


# --- on-failure destination ------------------------------------------------------------------


def stream_failure(
    record: dict[str, Any],
    *,
    shard_id: str,
    function_arn: str,
    attempts: int,
    error: str | None,
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's on-failure destination for a discarded batch
    (here always one record: retries narrow down to it). Like Lambda's, it points at the
    record by sequence number rather than carrying it: read it from the stream."""
    sequence = record["dynamodb"]["SequenceNumber"]
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    arrival = (
        datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(created, int | float)
        else None
    )
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if error:
        response["functionError"] = "Unhandled"
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence,
            "endSequenceNumber": sequence,
            "approximateArrivalOfFirstRecord": arrival,
            "approximateArrivalOfLastRecord": arrival,
            "batchSize": 1,
            "streamArn": record["eventSourceARN"],
        },
    }
