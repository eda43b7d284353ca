"""devstack.moto_patches._update_expressions_checked_once answers as moto's own code: random
update expressions (every clause, functions, arithmetic, nested paths, names and values present
or missing, key attributes, clauses twice, overlapping paths) on random items, new or existing:
the same item afterwards or the same error, on the first call and from the kept tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

_PATHS = ["a", "n", "l", "m", "ss", "#a", "#n", "m.x", "#m.#x", "l[0]", "l[1]", "#k", "fresh"]
_VALUES = [":s", ":n", ":l", ":ss", ":m", ":missing"]
_VALUE_OF = {
    ":s": {"S": "t"},
    ":n": {"N": "2"},
    ":l": {"L": [{"N": "1"}]},
    ":ss": {"SS": ["a", "b"]},
    ":m": {"M": {"x": {"S": "y"}}},
}
_path = st.sampled_from(_PATHS)
_value = st.sampled_from(_VALUES)
_operand = st.one_of(_path, _value)
_rhs = st.one_of(
    _operand,
    st.builds(lambda a, op, b: f"{a} {op} {b}", _operand, st.sampled_from(["+", "-"]), _operand),
    st.builds(lambda p, v: f"if_not_exists({p}, {v})", _path, _value),
    st.builds(lambda a, b: f"list_append({a}, {b})", _operand, _operand),
)
_clause = st.one_of(
    st.lists(st.builds(lambda p, r: f"{p} = {r}", _path, _rhs), min_size=1, max_size=4).map(
        lambda actions: "SET " + ", ".join(actions)
    ),
    st.lists(_path, min_size=1, max_size=3).map(lambda paths: "REMOVE " + ", ".join(paths)),
    st.lists(st.builds(lambda p, v: f"{p} {v}", _path, _value), min_size=1, max_size=2).map(
        lambda actions: "ADD " + ", ".join(actions)
    ),
    st.builds(lambda p, v: f"DELETE {p} {v}", _path, _value),
    st.sampled_from(["SET", "SET a =", "REMOVE", "a = :s"]),
)
_expressions = st.lists(_clause, min_size=1, max_size=3).map(" ".join)
_names = st.fixed_dictionaries(
    {
        "#a": st.sampled_from(["a", "n", "pk"]),
        "#n": st.sampled_from(["n", "a"]),
        "#m": st.just("m"),
        "#x": st.sampled_from(["x", "y"]),
        "#k": st.sampled_from(["pk", "sk", "k"]),
    }
)
_items = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.just({"S": "old"}),
            "n": st.sampled_from([{"N": "5"}, {"S": "five"}]),
            "l": st.just({"L": [{"N": "7"}, {"S": "s"}]}),
            "m": st.sampled_from([{"M": {"x": {"N": "1"}}}, {"M": {}}]),
            "ss": st.just({"SS": ["a", "z"]}),
        },
    ),
)


@contextmanager
def _motos_own() -> Iterator[None]:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator as Validator

    make, init, validate = UpdateExpressionParser.__dict__["make"], Validator.__init__, Validator.validate
    traverse = DepthFirstTraverser.traverse
    assert getattr(make.__func__, "_devstack", False), "the patch is installed (tests/conftest.py)"
    UpdateExpressionParser.make = classmethod(make.__func__.__wrapped__)  # type: ignore[assignment,method-assign]
    Validator.__init__ = init.__wrapped__  # type: ignore[attr-defined,method-assign]
    Validator.validate = validate.__wrapped__  # type: ignore[attr-defined,method-assign]
    DepthFirstTraverser.traverse = traverse.__wrapped__  # type: ignore[attr-defined,method-assign]
    try:
        yield
    finally:
        UpdateExpressionParser.make = make  # type: ignore[method-assign]
        Validator.__init__ = init  # type: ignore[method-assign]
        Validator.validate = validate  # type: ignore[method-assign]
        DepthFirstTraverser.traverse = traverse  # type: ignore[method-assign]


def _update(
    dynamodb: Any, key: str, start: dict[str, Any] | None, expression: str, names: dict[str, str]
) -> Any:
    keys = {"pk": {"S": key}, "sk": {"S": "s"}}
    if start is not None:
        dynamodb.put_item(TableName="upd", Item={**keys, **start})
    used_names = {name: value for name, value in names.items() if name in expression}
    used_values = {name: value for name, value in _VALUE_OF.items() if name in expression}
    call: dict[str, Any] = {"TableName": "upd", "Key": keys, "UpdateExpression": expression}
    if used_names:
        call["ExpressionAttributeNames"] = used_names
    if used_values:
        call["ExpressionAttributeValues"] = used_values
    try:
        dynamodb.update_item(**call)
        outcome: tuple[Any, ...] = ("ok",)
    except ClientError as error:
        outcome = ("error", error.response["Error"]["Code"], error.response["Error"]["Message"])
    after = dynamodb.get_item(TableName="upd", Key=keys).get("Item")
    if after is not None:
        after.pop("pk")
    return outcome, after


@settings(max_examples=300, deadline=None)
@given(_expressions, _names, _names, _items)
def test_an_update_expression_answers_as_motos_own_validation(
    expression: str, names: dict[str, str], other_names: dict[str, str], start: dict[str, Any] | None
) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="upd",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        for run, mapping in enumerate((names, other_names)):
            with _motos_own():
                expected = _update(dynamodb, f"own{run}", start, expression, mapping)
            # the first call checks and keeps the tree; the second uses what was kept
            assert _update(dynamodb, f"first{run}", start, expression, mapping) == expected
            assert _update(dynamodb, f"again{run}", start, expression, mapping) == expected
