"""The pump delivers stream records and queue messages as Lambda does, failures included.

A small Chalice app of its own (built per test) fails the records a test names, against the
in-process moto of the `aws` fixture, with the resources of infra/resources.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice import Chalice, Rate

from devstack.pump import Pump
from devstack.settings import STREAM_MAX_RETRIES
from infra.provision import Provisioned

# The decorator's ARN is a placeholder, as in app.py: the pump maps it to the table's stream.
PLACEHOLDER_STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/cohort/stream/local"
FOREVER = -1


@dataclass
class Script:
    """Which items fail (key → how many more times; FOREVER), and what each handler saw."""

    fail: dict[str, int] = field(default_factory=dict)
    raise_on: set[str] = field(default_factory=set)
    seen: list[tuple[str, list[str]]] = field(default_factory=list)

    def fails(self, key: str) -> bool:
        left = self.fail.get(key, 0)
        if left > 0:
            self.fail[key] = left - 1
        return left != 0

    def batches(self, handler: str) -> list[list[str]]:
        return [keys for name, keys in self.seen if name == handler]


def build_app(script: Script, stream_batch: int = 10) -> Chalice:
    app = Chalice(app_name="devstack-test", configure_logs=False)

    @app.on_dynamodb_record(
        stream_arn=PLACEHOLDER_STREAM, batch_size=stream_batch, starting_position="TRIM_HORIZON"
    )
    def changes(event: Any) -> dict[str, Any]:
        records = list(event)
        keys = [record.keys["pk"]["S"] for record in records]
        assert all(record.timestamp.year >= 2024 for record in records)  # epoch seconds, not a datetime
        script.seen.append(("changes", keys))
        if script.raise_on & set(keys):
            raise RuntimeError("poison record")
        failed = [r.sequence_number for r, key in zip(records, keys, strict=True) if script.fails(key)]
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    def queue_handler(name: str) -> Callable[[Any], dict[str, Any]]:
        def handle(event: Any) -> dict[str, Any]:
            records = event.to_dict()["Records"]
            script.seen.append((name, [r["body"] for r in records]))
            failed = [r["messageId"] for r in records if script.fails(r["body"])]
            return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

        handle.__name__ = name
        return handle

    app.on_sqs_message(queue="cohort-steps", batch_size=10)(queue_handler("steps"))
    app.on_sqs_message(queue="cohort-jobs", batch_size=1)(queue_handler("jobs"))

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def tick(event: Any) -> None:
        script.seen.append(("tick", [event.detail_type]))

    return app


def put(table: str, *keys: str) -> list[str]:
    """Write one item per key, in order; returns the keys."""
    client = boto3.client("dynamodb")
    for key in keys:
        client.put_item(TableName=table, Item={"pk": {"S": key}, "sk": {"S": "item"}})
    return list(keys)


def messages(queue_url: str) -> list[dict[str, Any]]:
    reply = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )
    return reply.get("Messages", [])


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def test_pump(aws: Provisioned, script: Script) -> Pump:
    return Pump(build_app(script), aws, retry_delay=0)


# --- streams ---------------------------------------------------------------------------------


def test_stream_batches_follow_the_decorators_batch_size(aws: Provisioned, script: Script) -> None:
    keys = put(aws.table_name, *(f"k{i:02}" for i in range(25)))
    Pump(build_app(script, stream_batch=10), aws, retry_delay=0).drain()
    assert script.batches("changes") == [keys[:10], keys[10:20], keys[20:]]


def test_a_failed_stream_record_is_retried_from_its_sequence_number(
    aws: Provisioned, script: Script, test_pump: Pump
) -> None:
    keys = put(aws.table_name, "a", "b", "c", "d")
    script.fail["b"] = 1
    calls = test_pump.drain()
    # As Lambda: "a" is done, the retry starts at "b" and still holds everything after it.
    assert script.batches("changes") == [keys, ["b", "c", "d"]]
    assert [len(call.failed) for call in calls] == [1, 0]
    assert messages(aws.refs["StreamFailureQueue"]) == []


def test_after_the_retries_a_stream_record_goes_to_the_failure_queue(
    aws: Provisioned, script: Script, test_pump: Pump
) -> None:
    put(aws.table_name, "a", "b", "c", "d")
    script.fail["b"] = FOREVER
    test_pump.drain()
    assert script.batches("changes") == [
        ["a", "b", "c", "d"],
        *[["b", "c", "d"]] * STREAM_MAX_RETRIES,
        ["c", "d"],  # the rest proceeds; nothing after "b" was skipped
    ]
    [failure] = messages(aws.refs["StreamFailureQueue"])
    body = json.loads(failure["Body"])
    info = body["DDBStreamBatchInfo"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == STREAM_MAX_RETRIES + 1
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == aws.stream_arn
    record = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    iterator = record.get_shard_iterator(
        StreamArn=aws.stream_arn,
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    assert record.get_records(ShardIterator=iterator, Limit=1)["Records"][0]["dynamodb"]["Keys"]["pk"] == {
        "S": "b"
    }


def test_a_raising_handler_has_its_batch_split_until_the_bad_record_is_alone(
    aws: Provisioned, script: Script, test_pump: Pump
) -> None:
    put(aws.table_name, "a", "b", "c", "d")
    script.raise_on.add("c")
    test_pump.drain()
    assert script.batches("changes") == [
        ["a", "b", "c", "d"],
        ["a", "b"],  # halves: splits are not retries
        ["c", "d"],
        *[["c"]] * (STREAM_MAX_RETRIES + 1),
        ["d"],
    ]
    [failure] = messages(aws.refs["StreamFailureQueue"])
    assert json.loads(failure["Body"])["responseContext"]["functionError"] == "Unhandled"


# --- queues ----------------------------------------------------------------------------------


def test_sqs_partial_failure_redelivers_only_the_failed_message(
    aws: Provisioned, script: Script, test_pump: Pump
) -> None:
    sqs = boto3.client("sqs")
    for body in ("m1", "m2", "m3"):
        sqs.send_message(QueueUrl=aws.refs["StepsQueue"], MessageBody=body)
    script.fail["m2"] = 1
    calls = test_pump.drain()
    assert [sorted(keys) for keys in script.batches("steps")] == [["m1", "m2", "m3"], ["m2"]]
    assert calls[1].records[0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert len({record["messageId"] for record in calls[0].records}) == 3
    assert messages(aws.refs["StepsQueue"]) == []


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue(
    aws: Provisioned, script: Script, test_pump: Pump
) -> None:
    boto3.client("sqs").send_message(QueueUrl=aws.refs["JobsQueue"], MessageBody="poison")
    script.fail["poison"] = FOREVER
    calls = test_pump.drain()
    counts = [call.records[0]["attributes"]["ApproximateReceiveCount"] for call in calls]
    assert counts == ["1", "2", "3", "4", "5"]  # maxReceiveCount of JobsQueue
    [dead] = messages(aws.refs["JobsDeadLetterQueue"])
    assert dead["Body"] == "poison"


def test_a_delayed_message_is_delivered_when_due(
    aws: Provisioned, script: Script, test_pump: Pump, fake_clock
) -> None:
    boto3.client("sqs").send_message(QueueUrl=aws.refs["StepsQueue"], MessageBody="later", DelaySeconds=1)
    assert test_pump.drain() == []
    assert [call.handler for call in fake_clock.drain(test_pump, wait=5)] == ["steps"]


# --- schedules, sources, the real app ---------------------------------------------------------


def test_a_schedule_fires_when_due_or_when_asked(script: Script, test_pump: Pump) -> None:
    call = test_pump.invoke_schedule("tick")
    assert call.ok and call.event["detail-type"] == "Scheduled Event"
    assert test_pump.run_due_schedules() == []
    due = test_pump.scheduler.next["tick"]
    assert [c.handler for c in test_pump.run_due_schedules(due)] == ["tick"]
    assert test_pump.scheduler.next["tick"] > due
    assert script.batches("tick") == [["Scheduled Event"], ["Scheduled Event"]]


def test_an_unknown_queue_name_is_refused(aws: Provisioned) -> None:
    app = Chalice(app_name="devstack-test")
    app.on_sqs_message(queue="no-such-queue")(lambda event: None)
    with pytest.raises(LookupError, match="no-such-queue"):
        Pump(app, aws)


def test_the_pumps_own_requests_are_not_counted(aws: Provisioned, requests, test_pump: Pump) -> None:
    # GIVEN
    requests.reset()  # after provisioning
    put(aws.table_name, "a")
    # WHEN
    boto3.client("sqs").send_message(QueueUrl=aws.refs["StepsQueue"], MessageBody="m")
    # THEN
    assert len(test_pump.drain()) == 2
    assert requests.snapshot() == {"dynamodb.PutItem": 1, "sqs.SendMessage": 1}


def test_the_deployed_mapping_retries_as_often_as_the_local_one() -> None:
    package = pytest.importorskip("infra.package")

    assert package.STREAM_MAX_RETRIES == STREAM_MAX_RETRIES


def test_the_pump_fixture_runs_the_apps_stream_handler(client, pump: Pump) -> None:
    from tests.conftest import ADMIN_TOKEN
    from tests.support.api import Api

    created = Api(client).post("/api/v1/workspaces", {"name": "Acme"}, headers={"X-Admin-Token": ADMIN_TOKEN})
    assert created.status == 201
    calls = pump.drain()
    assert [call.handler for call in calls] == ["table_changes"]
    assert calls[0].ok and len(calls[0].records) >= 1
