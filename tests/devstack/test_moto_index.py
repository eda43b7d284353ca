"""devstack.moto_index answers every Query as moto's own code does (items, order, counts, keys).

Random tables (a string or number sort key, a GSI with a range key, one without, an LSI, items
missing index attributes: sparse indexes), random writes (puts, updates that move an item in an
index or out of it, deletes, cancelled transactions), then random queries (key conditions of
every kind, filters, projections, Limit, ScanIndexForward, ExclusiveStartKey from a previous
page or from any item) run through both, every page compared, errors included.
"""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from devstack import moto_index, moto_patches

moto_patches.install()

_names = itertools.count()
STRINGS = st.text(alphabet="abc", min_size=1, max_size=3)
NUMBERS = st.sampled_from(["-2", "0", "1", "1.0", "1.5", "2", "10"])


@pytest.fixture(scope="module")
def dynamodb() -> Any:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _create(client: Any, sort_type: str) -> str:
    name = f"tab{next(_names)}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": sort_type},
            {"AttributeName": "gh", "AttributeType": "S"},
            {"AttributeName": "gr", "AttributeType": "N"},
            {"AttributeName": "lr", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gs1",
                "KeySchema": [
                    {"AttributeName": "gh", "KeyType": "HASH"},
                    {"AttributeName": "gr", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "gs2",
                "KeySchema": [{"AttributeName": "gh", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "ls1",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "lr", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


@st.composite
def items(draw: Any, sort_type: str) -> dict[str, Any]:
    sort = draw(STRINGS) if sort_type == "S" else draw(NUMBERS)
    item: dict[str, Any] = {"pk": {"S": draw(st.sampled_from(["p", "q", "r"]))}, "sk": {sort_type: sort}}
    if draw(st.booleans()):
        item["gh"] = {"S": draw(st.sampled_from(["x", "y"]))}
    if draw(st.booleans()):
        item["gr"] = {"N": draw(NUMBERS)}
    if draw(st.booleans()):
        item["lr"] = {"S": draw(STRINGS)}
    if draw(st.booleans()):
        item["v"] = {"N": draw(NUMBERS)}
    if draw(st.integers(0, 9)) == 0:
        item["big"] = draw(st.sampled_from([150_000, 300_000]))  # bytes, made at put time
    return item


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    sort_type = draw(st.sampled_from(["S", "N"]))
    puts = draw(st.lists(items(sort_type), max_size=30))
    writes = draw(
        st.lists(
            st.tuples(st.sampled_from(["update", "remove", "delete", "cancel"]), st.integers(0, 29), NUMBERS),
            max_size=8,
        )
    )
    return {
        "sort_type": sort_type,
        "puts": puts,
        "writes": writes,
        "queries": draw(st.lists(queries(sort_type), min_size=1, max_size=6)),
    }


@st.composite
def queries(draw: Any, sort_type: str) -> dict[str, Any]:
    index = draw(st.sampled_from([None, "gs1", "gs2", "ls1"]))
    names: dict[str, str] = {"#h": {None: "pk", "gs1": "gh", "gs2": "gh", "ls1": "pk"}[index]}
    values: dict[str, Any] = {":h": {"S": draw(st.sampled_from(["p", "q", "x", "y"]))}}
    condition = "#h = :h"
    range_attr = {None: "sk", "gs1": "gr", "gs2": None, "ls1": "lr"}[index]
    range_type = {"sk": sort_type, "gr": "N", "lr": "S"}.get(range_attr or "")
    if range_attr and draw(st.booleans()):
        names["#r"] = range_attr
        value = (lambda: {"S": draw(STRINGS)}) if range_type == "S" else (lambda: {"N": draw(NUMBERS)})
        op = draw(
            st.sampled_from(
                ["=", "<", "<=", ">", ">=", "BETWEEN"] + (["begins_with"] if range_type == "S" else [])
            )
        )
        values[":a"] = value()
        if op == "BETWEEN":
            values[":b"] = value()
            condition += " AND #r BETWEEN :a AND :b"
        elif op == "begins_with":
            condition += " AND begins_with(#r, :a)"
        else:
            condition += f" AND #r {op} :a"
    query: dict[str, Any] = {"KeyConditionExpression": condition}
    if index:
        query["IndexName"] = index
    if draw(st.booleans()):
        query["FilterExpression"] = "attribute_exists(v) AND v > :f"
        values[":f"] = {"N": draw(NUMBERS)}
    if draw(st.booleans()):
        query["ProjectionExpression"] = draw(st.sampled_from(["pk, sk", "pk, sk, v", "#h"]))
        if "#r" in names and query["ProjectionExpression"] == "#h":
            query["ProjectionExpression"] = "#h, #r"
    if draw(st.booleans()):
        query["Limit"] = draw(st.integers(1, 5))
    query["ScanIndexForward"] = draw(st.booleans())
    query["ExpressionAttributeNames"] = names
    query["ExpressionAttributeValues"] = values
    query["start"] = draw(st.sampled_from([None, None, "item"]))
    query["start_at"] = draw(st.integers(0, 29))
    return query


def _run(client: Any, table: str, query: dict[str, Any]) -> Any:
    try:
        reply = client.query(TableName=table, **query)
    except ClientError as error:
        return ("error", error.response["Error"]["Code"])
    except Exception as error:  # moto itself crashes (an ExclusiveStartKey missing an attribute)
        return ("crash", type(error).__name__)
    return {key: reply.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")}


def _write(client: Any, table: str, puts: list[dict[str, Any]], write: tuple[str, int, str]) -> None:
    kind, at, number = write
    if not puts:
        return
    target = puts[at % len(puts)]
    key = {"pk": target["pk"], "sk": target["sk"]}
    try:
        if kind == "update":  # moves the item inside g1, or into it
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET gr = :n, gh = :g",
                ExpressionAttributeValues={":n": {"N": number}, ":g": {"S": "x"}},
            )
        elif kind == "remove":  # out of g1 and g2
            client.update_item(TableName=table, Key=key, UpdateExpression="REMOVE gh")
        elif kind == "delete":
            client.delete_item(TableName=table, Key=key)
        else:  # a cancelled transaction: its update is undone
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "SET gr = :n, gh = :g",
                            "ExpressionAttributeValues": {":n": {"N": number}, ":g": {"S": "y"}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "nowhere"}, "sk": target["sk"]},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
    except ClientError:
        pass


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_indexed_queries_answer_as_moto_does(dynamodb: Any, scenario: dict[str, Any]) -> None:
    table = _create(dynamodb, scenario["sort_type"])
    puts = scenario["puts"]
    for item in puts:
        big = {"big": {"S": "z" * item["big"]}} if "big" in item else {}
        dynamodb.put_item(TableName=table, Item={**item, **big})
    dynamodb.query(  # builds the indexes before the writes below, which must keep them right
        TableName=table,
        IndexName="gs1",
        KeyConditionExpression="gh = :h",
        ExpressionAttributeValues={":h": {"S": "x"}},
    )
    for write in scenario["writes"]:
        _write(dynamodb, table, puts, write)
    before = moto_index.counts()["indexed"]
    for query in scenario["queries"]:
        start, at = query.pop("start"), query.pop("start_at")
        if start == "item" and puts:
            source = puts[at % len(puts)]
            query["ExclusiveStartKey"] = {
                k: v for k, v in source.items() if k in ("pk", "sk", "gh", "gr", "lr")
            }
        for _page in range(40):
            indexed = _run(dynamodb, table, query)
            with moto_index.disabled():
                expected = _run(dynamodb, table, query)
            assert indexed == expected, query
            if not isinstance(indexed, dict) or not indexed.get("LastEvaluatedKey"):
                break
            query["ExclusiveStartKey"] = indexed["LastEvaluatedKey"]
    assert moto_index.counts()["indexed"] > before or all(
        "ExclusiveStartKey" in q for q in scenario["queries"]
    )
    dynamodb.delete_table(TableName=table)


def test_a_query_does_not_walk_the_table(dynamodb: Any) -> None:
    """One partition of 3 items beside 20,000 others: the Query reads its page, not the table."""
    table = _create(dynamodb, "S")
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "pk": {"S": f"other{i // 100}"},
                    "sk": {"S": f"{i:06}"},
                    "gh": {"S": "y"},
                    "gr": {"N": str(i)},
                }
            }
        }
        for i in range(20_000)
    ]
    for i in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={table: requests[i : i + 25]})
    for i in range(3):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "mine"}, "sk": {"S": str(i)}, "gh": {"S": "x"}, "gr": {"N": str(i)}},
        )
    import time

    started = time.perf_counter()
    for _ in range(50):
        page = dynamodb.query(
            TableName=table,
            IndexName="gs1",
            KeyConditionExpression="gh = :h",
            ExpressionAttributeValues={":h": {"S": "x"}},
        )
        assert [item["sk"]["S"] for item in page["Items"]] == ["0", "1", "2"]
        base = dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :h", ExpressionAttributeValues={":h": {"S": "mine"}}
        )
        assert base["Count"] == 3
    per_query = (time.perf_counter() - started) / 100
    with moto_index.disabled():
        started = time.perf_counter()
        dynamodb.query(
            TableName=table,
            IndexName="gs1",
            KeyConditionExpression="gh = :h",
            ExpressionAttributeValues={":h": {"S": "x"}},
        )
        unindexed = time.perf_counter() - started
    assert per_query < unindexed / 5, (per_query, unindexed)
    dynamodb.delete_table(TableName=table)
