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
