"""devstack.moto_requests parses DynamoDB's requests as moto's own parser does, key order included."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack import moto_requests


def _operation(name: str) -> Any:
    from moto.core.responses import get_service_model

    return get_service_model("dynamodb").operation_model(name)


def _moto_parse(operation: Any, body: str) -> Any:
    from moto.core.parse import JSONParser

    return JSONParser(operation, map_type=dict).parse(
        {
            "method": "POST",
            "values": {},
            "headers": {},
            "body": body.encode(),
            "url_path": "/",
            "url_params": {},
        }
    )


_TEXT = st.text(alphabet="abc:#é_ ", max_size=4)
_NOISE = st.one_of(st.none(), st.integers(-3, 3), _TEXT, st.booleans())


def _value(shape: Any, depth: int, noisy: bool) -> st.SearchStrategy[Any]:
    """Values of a shape, as a client sends them; `noisy` adds nulls, unknown members and
    values of the wrong type (which moto and the walker must then treat alike)."""
    kind = shape.type_name
    if kind == "structure":
        members = list(shape.members.items())
        if depth <= 0:
            return st.just({})
        fields = {
            name: _value(member, depth - 1, noisy)
            for name, member in members
            if member.type_name != "structure" or depth > 1
        }
        optional = st.fixed_dictionaries({}, optional=fields)
        if noisy:
            extra = st.dictionaries(st.sampled_from(["Unknown", "x"]), _NOISE, max_size=1)
            optional = st.builds(lambda a, b: {**b, **a}, optional, extra)
            return st.one_of(optional, optional.map(_shuffled), _NOISE)
        return st.one_of(optional, optional.map(_shuffled))
    if kind == "list":
        inner = st.lists(_value(shape.member, depth - 1, noisy), max_size=3) if depth > 0 else st.just([])
        return st.one_of(inner, _NOISE) if noisy else inner
    if kind == "map":
        inner = (
            st.dictionaries(_TEXT, _value(shape.value, depth - 1, noisy), max_size=3)
            if depth > 0
            else st.just({})
        )
        return st.one_of(inner, _NOISE) if noisy else inner
    if kind in ("integer", "long"):
        base: st.SearchStrategy[Any] = st.integers(-5, 2000)
    elif kind in ("float", "double"):
        base = st.floats(allow_nan=False, allow_infinity=False)
    elif kind == "boolean":
        base = st.booleans()
    elif kind == "blob":
        base = st.binary(max_size=6).map(lambda raw: base64.b64encode(raw).decode())
    elif kind == "timestamp":
        base = st.sampled_from(["2026-12-06T10:00:00Z", "1765000000", "2026-12-06T10:00:00.123+02:00"])
    elif shape.enum:
        base = st.sampled_from(list(shape.enum))
    else:
        base = _TEXT
    return st.one_of(base, _NOISE) if noisy else base


def _shuffled(value: dict[str, Any]) -> dict[str, Any]:
    return dict(reversed(list(value.items())))


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, str, bool]:
    name = draw(st.sampled_from(sorted(moto_requests.FAST_OPERATIONS)))
    noisy = draw(st.booleans())
    body = draw(_value(_operation(name).input_shape, 6, noisy))
    return name, json.dumps(body), noisy


def _ordered(value: Any) -> Any:
    """The value with every dict's key order made visible (== on dicts ignores it)."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_the_compiled_walker_parses_every_request_as_moto_does(request: tuple[str, str, bool]) -> None:
    name, body, noisy = request
    operation = _operation(name)
    fast = moto_requests.parse(operation, body.encode())
    if fast is None:
        assert noisy, f"a well-formed {name} request fell back to moto's parser: {body}"
        return  # moto's own parser answers it (or raises) as it always did
    assert _ordered(fast) == _ordered(_moto_parse(operation, body))


def test_an_import_transaction_takes_the_compiled_walker() -> None:
    """The request the import sends most (a TransactWriteItems of conditional puts and counter
    updates) is parsed without moto's parser, to the same parameters."""
    item = {"pk": {"S": "W#1"}, "sk": {"S": "C#1"}, "tags": {"L": [{"S": "a"}]}, "b": {"B": "AAE="}}
    body = json.dumps(
        {
            "TransactItems": [
                {
                    "Put": {
                        "TableName": "cohort",
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists (#0) OR #1 = :0",
                        "ExpressionAttributeNames": {"#0": "pk", "#1": "id"},
                        "ExpressionAttributeValues": {":0": {"S": "C1"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": "cohort",
                        "Key": {"pk": {"S": "W#1"}, "sk": {"S": "TAG#a"}},
                        "UpdateExpression": "ADD #0 :0",
                        "ExpressionAttributeNames": {"#0": "contactCount"},
                        "ExpressionAttributeValues": {":0": {"N": "1"}},
                    }
                },
            ]
        }
    )
    operation = _operation("TransactWriteItems")
    fast = moto_requests.parse(operation, body.encode())
    assert fast is not None
    assert _ordered(fast) == _ordered(_moto_parse(operation, body))
    assert fast["TransactItems"][0]["Put"]["Item"]["b"] == {"B": b"\x00\x01"}
