"""The moto fix keeps TransactWriteItems all-or-nothing, stream included (devstack/moto_patches.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.provision import Provisioned


def _item(pk: str, sk: str = "s") -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_a_cancelled_transaction_changes_nothing_and_streams_nothing(aws: Provisioned, pump) -> None:
    client = boto3.client("dynamodb")
    client.put_item(TableName=aws.table_name, Item={**_item("kept"), "v": {"S": "before"}})
    client.put_item(TableName=aws.table_name, Item=_item("taken"))
    pump.drain()
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": aws.table_name, "Item": _item("new")}},
                {
                    "Update": {
                        "TableName": aws.table_name,
                        "Key": _item("kept"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "after"}},
                    }
                },
                {
                    "Put": {
                        "TableName": aws.table_name,
                        "Item": _item("taken"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in client.get_item(TableName=aws.table_name, Key=_item("new"))
    assert client.get_item(TableName=aws.table_name, Key=_item("kept"))["Item"]["v"] == {"S": "before"}
    assert pump.drain() == []


def test_a_committed_transaction_writes_every_item_and_its_records(aws: Provisioned, pump) -> None:
    client = boto3.client("dynamodb")
    pump.drain()
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": aws.table_name, "Item": _item(f"t{i}")}} for i in range(3)]
    )
    for i in range(3):
        assert "Item" in client.get_item(TableName=aws.table_name, Key=_item(f"t{i}"))
    assert sum(len(call.records) for call in pump.drain()) == 3


def _moto_server() -> tuple[object, str]:
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/csv",
        "application/octet-stream",
    ],
)
def test_a_presigned_put_stores_its_body_whatever_its_content_type(content_type: str | None) -> None:
    """S3 keeps a PUT's bytes; moto server kept nothing for a form Content-Type (urllib's default)."""
    import urllib.request

    server, endpoint = _moto_server()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="uploads")
        url = s3.generate_presigned_url("put_object", Params={"Bucket": "uploads", "Key": "file.csv"})
        body = "Email;Prénom\r\nann@example.com;Ann\r\n".encode() + bytes(range(256))
        request = urllib.request.Request(url, data=body, method="PUT")
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        stored = s3.get_object(Bucket="uploads", Key="file.csv")
        assert stored["Body"].read() == body
        assert stored["ContentType"] == (content_type or "application/x-www-form-urlencoded")
    finally:
        server.stop()  # type: ignore[attr-defined]


def test_query_protocol_forms_still_reach_moto(aws: Provisioned) -> None:
    """SQS's and SNS's query protocol POST their forms: those are still parsed."""
    server, endpoint = _moto_server()
    try:
        sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
        arn = sns.create_topic(Name="a-topic")["TopicArn"]
        assert arn.endswith(":a-topic")
    finally:
        server.stop()  # type: ignore[attr-defined]


def test_moto_does_not_keep_every_item_copy_and_iterator_it_ever_made(aws: Provisioned) -> None:
    """Memory bounded by the data, not by the stack's age (devstack.moto_patches._bounded_memory)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from devstack import moto_patches

    client = boto3.client("dynamodb")
    client.put_item(TableName=aws.table_name, Item=_item("one"))
    for _ in range(50):
        client.query(
            TableName=aws.table_name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "one"}},
        )
    assert len(Item.instances_tracked) == 0  # type: ignore[attr-defined]

    from devstack.aws import client as devstack_client

    streams = devstack_client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=aws.stream_arn, ShardId=shard, ShardIteratorType="LATEST"
    )["ShardIterator"]
    limit = moto_patches.MAX_SHARD_ITERATORS
    moto_patches.MAX_SHARD_ITERATORS = 20
    try:
        for _ in range(100):
            iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
        backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
        assert len(backend.shard_iterators) <= 21
    finally:
        moto_patches.MAX_SHARD_ITERATORS = limit


def test_the_json_fast_path_answers_as_motos_serializer(aws: Provisioned) -> None:
    """devstack.moto_patches._fast_json_results: the same parsed answers, operation by operation."""
    from devstack import moto_patches
    from devstack.aws import client as devstack_client

    client = boto3.client("dynamodb")
    streams = devstack_client("dynamodbstreams")
    table = aws.table_name
    shard = streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    start = streams.get_shard_iterator(
        StreamArn=aws.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    rich = {
        **_item("rich", "1"),
        "n": {"N": "12.50"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "l": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]},
        "m": {"M": {"k": {"S": "é"}, "inner": {"M": {"b": {"B": b"\x10"}}}}},
        "gsi1pk": {"S": "G"},
        "gsi1sk": {"S": "1"},
    }

    def run(tag: str) -> list[Any]:
        answers: list[Any] = []

        def keep(reply: dict[str, Any]) -> None:
            reply.pop("ResponseMetadata", None)
            answers.append(reply)

        item = {**rich, **_item(f"rich-{tag}", "1")}
        keep(client.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"))
        keep(client.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"))
        keep(client.get_item(TableName=table, Key=_item(f"rich-{tag}", "1")))
        keep(client.get_item(TableName=table, Key=_item("nothing", "1")))
        keep(
            client.update_item(
                TableName=table,
                Key=_item(f"rich-{tag}", "1"),
                UpdateExpression="SET n = n + :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        )
        keep(
            client.query(
                TableName=table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :g",
                ExpressionAttributeValues={":g": {"S": "G"}},
                Limit=1,
            )
        )
        keep(client.scan(TableName=table, Limit=2))
        keep(
            client.batch_get_item(
                RequestItems={table: {"Keys": [_item(f"rich-{tag}", "1"), _item("none", "1")]}}
            )
        )
        keep(
            client.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": _item(f"bw-{tag}-{i}")}} for i in range(3)]}
            )
        )
        keep(
            client.transact_write_items(
                TransactItems=[{"Put": {"TableName": table, "Item": _item(f"tw-{tag}")}}]
            )
        )
        keep(
            client.transact_get_items(
                TransactItems=[{"Get": {"TableName": table, "Key": _item(f"rich-{tag}", "1")}}]
            )
        )
        keep(client.delete_item(TableName=table, Key=_item(f"rich-{tag}", "1"), ReturnValues="ALL_OLD"))
        records = streams.get_records(ShardIterator=start, Limit=5)
        records.pop("ResponseMetadata", None)
        records.pop("NextShardIterator", None)
        for record in records["Records"]:
            record.pop("eventID", None)
            record["dynamodb"].pop("ApproximateCreationDateTime", None)
        answers.append(records)
        for key in [_item(f"bw-{tag}-{i}") for i in range(3)] + [_item(f"tw-{tag}")]:
            client.delete_item(TableName=table, Key=key)  # the next run starts from the same table
        return answers

    fast = run("a")
    moto_patches.fast_json["enabled"] = False
    try:
        slow = run("a")  # the same writes again (the first run deleted its item at its end)
    finally:
        moto_patches.fast_json["enabled"] = True
    assert fast == slow
    assert fast[2]["Item"]["b"] == {"B": b"\x00\xffbytes"} and fast[2]["Item"]["n"] == {"N": "12.50"}


def test_an_item_above_400_kb_is_still_refused(aws: Provisioned) -> None:
    client = boto3.client("dynamodb")
    with pytest.raises(ClientError) as refused:
        client.put_item(
            TableName=aws.table_name,
            Item={**_item("big"), "a": {"S": "x" * 200_000}, "b": {"S": "y" * 205_000}},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    client.put_item(TableName=aws.table_name, Item={**_item("fits"), "a": {"S": "x" * 200_000}})


def test_stream_records_every_consumer_read_are_dropped_and_reading_them_says_trimmed(
    aws: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models import dynamodb_backends

    from devstack import moto_patches
    from devstack.aws import client as devstack_client

    monkeypatch.setattr(moto_patches, "KEEP_CONSUMED_RECORDS", 5)
    monkeypatch.setattr(moto_patches, "TRIM_EVERY", 10)
    monkeypatch.setattr(moto_patches, "_consumers", {})  # pollers of earlier tests may live on
    shard = dynamodb_backends["123456789012"]["us-east-1"].tables[aws.table_name].stream_shard
    first = shard.starting_sequence_number

    class Reader:
        point: str | None = None

        def checkpoint(self) -> str | None:
            return self.point

    reader = Reader()
    moto_patches.register_stream_consumer(aws.stream_arn, reader)
    client = boto3.client("dynamodb")
    for i in range(10):
        client.put_item(TableName=aws.table_name, Item=_item(f"s{i}"))
    assert shard.starting_sequence_number == first  # the reader has read nothing yet
    reader.point = str(first + 14)  # done with the first 15 records
    for i in range(10, 20):
        client.put_item(TableName=aws.table_name, Item=_item(f"s{i}"))
    assert shard.starting_sequence_number == first + 10  # 15 read, the newest 5 of them kept
    assert len(shard.items) == 10

    streams = devstack_client("dynamodbstreams")
    shard_id = streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    old = streams.get_shard_iterator(
        StreamArn=aws.stream_arn,
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=str(first),
    )["ShardIterator"]
    with pytest.raises(ClientError) as trimmed:
        streams.get_records(ShardIterator=old)
    assert trimmed.value.response["Error"]["Code"] == "TrimmedDataAccessException"
    oldest = streams.get_shard_iterator(
        StreamArn=aws.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )
    records = streams.get_records(ShardIterator=oldest["ShardIterator"])["Records"]
    assert records[0]["dynamodb"]["SequenceNumber"] == str(first + 10)
    assert len(records) == 10


_OPERANDS = st.sampled_from(["#a", "#b", "#missing", "plain", ":x", ":y", ":missing", "size(#a)"])
_CONDITIONS = st.recursive(
    st.one_of(
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", _OPERANDS, st.sampled_from(["=", "<>", "<", ">="]), _OPERANDS
        ),
        st.builds(
            lambda f, a: f"{f}({a})", st.sampled_from(["attribute_exists", "attribute_not_exists"]), _OPERANDS
        ),
        st.builds(lambda a, b: f"begins_with({a}, {b})", _OPERANDS, _OPERANDS),
        st.sampled_from(["", "(", "#a = ", "AND", "#a BETWEEN :x AND :y", "#a IN (:x, :y)"]),
    ),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["AND", "OR"]), inner),
        inner.map(lambda a: f"NOT ({a})"),
        inner.map(lambda a: f"({a})"),
    ),
    max_leaves=5,
)


def _checked(create: Any, expr: str | None, names: dict[str, str], values: dict[str, Any]) -> Any:
    parser = create(expr, names, values)
    try:
        parser.parse()
    except Exception as error:  # the same error, or the same lists
        return ("error", type(error).__name__, str(error))
    return ("ok", list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), _CONDITIONS),
    st.dictionaries(st.sampled_from(["#a", "#b", "#c"]), st.sampled_from(["pk", "id", "v"]), max_size=3),
    st.dictionaries(
        st.sampled_from([":x", ":y", ":z"]), st.sampled_from([{"S": "1"}, {"N": "2"}]), max_size=3
    ),
)
def test_a_request_condition_checked_once_answers_as_motos_check(
    expr: str | None, names: dict[str, str], values: dict[str, Any]
) -> None:
    """devstack.moto_patches._request_conditions_parsed_once: the same error or the same names
    and values found, on the first call and from the cache, each caller with its own lists."""
    from moto.dynamodb import comparisons, responses

    original = comparisons.create_condition_expression_parser
    patched = responses.create_condition_expression_parser
    assert getattr(patched, "_devstack", False)
    expected = _checked(original, expr, names, values)
    assert _checked(patched, expr, names, values) == expected
    again = patched(expr, names, values)
    if expected[0] == "ok":
        again.parse()
        again.expr_attr_names_found += ["#added-by-a-caller"]  # as moto's handlers extend it
        assert _checked(patched, expr, names, values) == expected


def test_describe_and_scan_answer_while_writes_add_partitions(aws: Provisioned) -> None:
    """A DescribeTable (its ItemCount) or a Scan walks every partition; a write adding one
    meanwhile made it fail (a 500 from `aws dynamodb describe-table` during an import)."""
    import sys
    import threading

    dynamodb = boto3.client("dynamodb")
    stop = threading.Event()
    failures: list[Exception] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            dynamodb.put_item(TableName=aws.table_name, Item=_item(f"W#{i}"))
            i += 1

    for start in range(0, 2000, 25):
        batch = [{"PutRequest": {"Item": _item(f"P#{i}")}} for i in range(start, start + 25)]
        dynamodb.batch_write_item(RequestItems={aws.table_name: batch})
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows at once
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            try:
                dynamodb.describe_table(TableName=aws.table_name)
                dynamodb.scan(TableName=aws.table_name, Limit=5000, Select="COUNT")
            except Exception as error:
                failures.append(error)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert failures == []
