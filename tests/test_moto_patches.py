"""The moto fix keeps TransactWriteItems all-or-nothing, stream included (devstack/moto_patches.py)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

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
