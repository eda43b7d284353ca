"""DynamoDB requests parsed by a compiled walker: moto's own parser's result, at a fraction of its cost.

moto 5.2.5 turns a JSON request into the parameters its handlers read with a generic parser
(`moto.core.parse.JSONParser`) that walks botocore's shape model value by value: for each
AttributeValue of each item it looks up every one of the shape's ten members by name, through a
method found with `getattr` by type name. During an import on the local stack that walk was a
tenth of the process's time (the body of a 100-action TransactWriteItems has thousands of
values). Here each input shape is compiled once into a closure that does what that parser does
for a JSON body, in the same order:

- a structure keeps the members its shape names (by their wire name) whose value is not null,
  in the shape's order; a null structure stays None;
- a list and a map are walked element by element (map values may be null, as in moto);
- integers become `int`, floats `float`, blobs are base64-decoded, timestamps parsed by moto's
  own function; strings and booleans are kept as sent.

Anything the compiled walker does not take as moto would (a body that is not a JSON object, a
value of the wrong type) falls back to moto's own parser, which then answers as it always did.
`tests/devstack/test_moto_requests.py` runs random requests of every DynamoDB operation through
both and compares the results, key order included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Walker = Callable[[Any], Any]

# Operations whose requests take the compiled walker (the item operations and the table's own
# reads: every call the handlers make many times).
FAST_OPERATIONS = frozenset(
    {
        "Query",
        "Scan",
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
enabled = {"on": True}
_compiled: dict[str, Walker] = {}


class _Fallback(Exception):
    """The value is not what the shape expects: moto's parser decides."""


def compile_shape(shape: Any, memo: dict[str, Walker] | None = None) -> Walker:
    """The walker of one botocore shape (recursive shapes share one walker per name)."""
    memo = {} if memo is None else memo
    key = f"{shape.type_name}:{shape.name}"
    if key in memo:
        return memo[key]
    kind = shape.type_name
    if kind == "structure" and not getattr(shape, "is_document_type", False):
        members: dict[str, tuple[int, str, list[Walker]]] = {}
        holder: list[Walker] = []

        def structure(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dict:
                raise _Fallback
            if len(value) == 1:  # most of them: an AttributeValue ({"S": ...})
                for wire, raw in value.items():
                    entry = members.get(wire)
                    if entry is None or raw is None:
                        return {}
                    walk = entry[2][0]
                    return {entry[1]: raw if walk is _same else walk(raw)}
            found = []
            for wire, raw in value.items():
                entry = members.get(wire)
                if entry is not None and raw is not None:
                    walk = entry[2][0]
                    found.append((entry[0], entry[1], raw if walk is _same else walk(raw)))
            if len(found) > 1:
                found.sort(key=lambda member: member[0])
            return {name: parsed for _, name, parsed in found}

        memo[key] = structure
        holder.append(structure)
        for position, (name, member) in enumerate(shape.members.items()):
            wire = member.serialization.get("name", name)
            if wire in members:  # two members on one wire name: leave it to moto
                raise _Fallback
            members[wire] = (position, name, [compile_shape(member, memo)])
        return structure
    if kind == "list":
        element: list[Walker] = []

        def listed(value: Any) -> Any:
            if isinstance(value, str | bytes | dict) or value is None:
                raise _Fallback  # moto iterates whatever it is given; not worth copying
            walk = element[0]
            return list(value) if walk is _same else [walk(item) for item in value]

        memo[key] = listed
        element.append(compile_shape(shape.member, memo))
        return listed
    if kind == "map":
        parts: list[Walker] = []

        def mapped(value: Any) -> Any:
            if not isinstance(value, dict):
                raise _Fallback
            walk_key, walk_value = parts
            if walk_key is _same:
                return {k: walk_value(v) for k, v in value.items()}
            return {walk_key(k): walk_value(v) for k, v in value.items()}

        memo[key] = mapped
        parts.extend((compile_shape(shape.key, memo), compile_shape(shape.value, memo)))
        return mapped
    walker = _scalar(kind)
    memo[key] = walker
    return walker


def _scalar(kind: str) -> Walker:
    from moto.core.parse import default_blob_parser, default_timestamp_parser

    if kind in ("integer", "long", "short", "byte"):
        return _checked(int)
    if kind in ("float", "double"):
        return _checked(float)
    if kind == "blob":
        return _checked(default_blob_parser)
    if kind == "timestamp":
        return _checked(default_timestamp_parser)
    return _same  # string, boolean, document: moto keeps them as sent


def _same(value: Any) -> Any:
    return value


def _checked(convert: Callable[[Any], Any]) -> Walker:
    def walk(value: Any) -> Any:
        if not isinstance(value, str | int | float | bool):
            raise _Fallback
        return convert(value)

    return walk


def parse(operation_model: Any, body: Any) -> dict[str, Any] | None:
    """The parameters of a JSON request, as moto's JSONParser makes them; None: ask moto's."""
    import json

    shape = operation_model.input_shape
    if shape is None:
        return None
    if isinstance(body, bytes | bytearray):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not body:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    walker = _compiled.get(operation_model.name)
    if walker is None:
        try:
            walker = compile_shape(shape)
        except _Fallback:
            return None
        _compiled[operation_model.name] = walker
    try:
        parsed = walker(value)
    except (_Fallback, ValueError, TypeError):  # bad base64, a number that is not: moto's way
        return None
    return dict(parsed)


def install() -> None:
    """DynamoDB's handler parses the item operations' requests with `parse`."""
    from moto.core.responses import determine_request_protocol, get_service_model
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.parse_parameters
    if getattr(original, "_devstack", False):
        return

    def parse_parameters(self: Any, request: Any) -> None:
        action = self._get_action()
        if enabled["on"] and action in FAST_OPERATIONS:
            service_model = get_service_model(self.boto3_service_name)
            if determine_request_protocol(service_model, request.content_type) == "json":
                parsed = parse(service_model.operation_model(action), request.data)
                if parsed is not None:
                    self.params = parsed
                    return
        original(self, request)

    parse_parameters._devstack = True  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
