"""A fix for moto's TransactWriteItems, applied wherever moto runs here (local stack, tests, bench).

moto 5.2.5 makes a transaction undoable by deep-copying the whole table, once per action, before
running it: a 3-item TransactWriteItems on a table of 10,000 items copies 30,000 items, so every
transactional write (the contact upsert, enrollment) slows down as the table grows and a
100,000-row import never ends. This keeps moto's semantics (all actions or none, no stream
record for a cancelled transaction) and undoes item by item instead: before the transaction it
saves the items the actions name and the length of the table's stream, and on failure puts
those items back and drops the stream records the failed transaction appended.

`install()` also installs devstack.moto_index (sorted indexes: a Query at O(log n + page)), and
makes moto server keep the body of a PUT whatever its Content-Type (`_put_bodies_are_bytes`), and
keeps moto's memory bounded by its data, not by its age (`_bounded_memory`), and writes the
answers of DynamoDB's item operations and of GetRecords with `json` (`_fast_json_results`), and
parses their requests with a compiled walker (devstack.moto_requests), and checks a request's
condition expression once per (expression, names, values) (`_request_conditions_parsed_once`),
and parses an update expression once and checks what in it depends on neither the item nor the
values once (`_update_expressions_checked_once`).
"""

from __future__ import annotations

import copy
from typing import Any

from devstack.moto_requests import FAST_OPERATIONS

_installed = False


class _NoTableCopies:
    """Stands in for the `copy` module inside moto.dynamodb.models: tables are not copied
    (the wrapper below undoes their changes item by item); anything else is copied as before."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    from devstack import moto_index, moto_requests

    moto_index.install()
    moto_requests.install()
    models.copy = _NoTableCopies()  # type: ignore[assignment]
    _item_size_checked_once()
    _conditions_parsed_once()
    _update_expressions_checked_once()
    _put_bodies_are_bytes()
    _bounded_memory()
    _stream_retention()
    _fast_json_results()
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _save(self, transact_items)
        try:
            transact(self, transact_items)
        except Exception:
            _restore(saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True


def _save(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    items: list[tuple[Any, Any, Any, Any]] = []
    streams: dict[int, tuple[Any, int]] = {}
    for action in transact_items:
        try:
            _, op = next(iter(action.items()))
            table = backend.tables[op["TableName"]]
            key = op["Key"] if "Key" in op else op["Item"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, AttributeError, TypeError):
            continue  # moto itself will refuse this action
        current = table.get_item(hash_key, range_key)
        # Only an Update changes the item in place; a Put or Delete replaces or drops the object.
        items.append((table, hash_key, range_key, copy.deepcopy(current) if "Update" in action else current))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    return {"items": items, "streams": list(streams.values())}


def _restore(saved: dict[str, Any]) -> None:
    from devstack.moto_index import touch

    for table, hash_key, range_key, item in reversed(saved["items"]):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
        touch(table, hash_key, range_key)
    for shard, length in saved["streams"]:
        del shard.items[length:]


def _put_bodies_are_bytes() -> None:
    """S3 stores a PUT's bytes whatever its Content-Type; moto server stored an empty object.

    moto server reads a request through Werkzeug, which parses a body sent as
    `application/x-www-form-urlencoded` or `multipart/form-data` into `request.form` and leaves
    `request.data` empty: a presigned PUT sent with urllib's default Content-Type
    (application/x-www-form-urlencoded) became an empty object (and an import of it "has no
    header line"). No AWS API takes a form in a PUT (query-protocol services such as SQS and SNS
    POST their forms; S3's browser-form upload is a POST), so a PUT's body is never parsed as a
    form: moto reads its bytes, and the object keeps the Content-Type it was sent with.

    Before that, moto's dispatcher reads a form body to find the service it is for, decodes it
    as UTF-8 and puts it back for the next reader, but not when it fails to decode (a binary
    file): the request then waited for a body already read. It is put back in every case.
    """
    import io

    from moto.core.request import Request
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    def _get_body(self: Any, environ: dict[str, Any]) -> str | None:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not size or not str(environ.get("CONTENT_TYPE", "")).startswith(
            "application/x-www-form-urlencoded"
        ):
            return None
        raw = environ["wsgi.input"].read(size)
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    DomainDispatcherApplication._get_body = _get_body  # type: ignore[method-assign]

    wants = Request.want_form_data_parsed
    if getattr(wants.fget, "_devstack", False):
        return

    def want_form_data_parsed(self: Any) -> bool:
        return self.method != "PUT" and bool(wants.fget(self))  # type: ignore[attr-defined]

    patched = property(want_form_data_parsed)
    patched.fget._devstack = True  # type: ignore[attr-defined]
    Request.want_form_data_parsed = patched  # type: ignore[assignment,method-assign]


# Shard iterators kept (AWS: each lives 15 minutes); the oldest go first.
MAX_SHARD_ITERATORS = 10_000


def _bounded_memory() -> None:
    """Two things moto keeps forever, which made a long-running stack grow with time:

    - every instance of a moto model ever made is appended to its class's `instances_tracked`
      (for the /moto-api dashboard and data.json): each DynamoDB item ever written *and each copy
      a Query or GetItem returns*, each stream record, SQS message, S3 object version and shard
      iterator. Those classes are no longer tracked (data.json then lists SES's emails, queues,
      tables... but not every item: it stays quick for `make emails` at 100,000 contacts);
    - every shard iterator GetRecords hands out stays in the streams backend (one per poll, five
      a second): the newest MAX_SHARD_ITERATORS are kept.
    """
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord
    from moto.dynamodbstreams import models as streams
    from moto.s3.models import FakeKey
    from moto.sqs.models import Message

    def plain_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    for model in (Item, StreamRecord, Message, FakeKey, streams.ShardIterator):
        model.__new__ = staticmethod(plain_new)  # type: ignore[assignment,method-assign]
        model.instances_tracked = []  # type: ignore[attr-defined]

    get = streams.ShardIterator.get

    def bounded_get(self: Any, limit: int = 1000) -> dict[str, Any]:
        result = get(self, limit)
        kept = self.streams_backend.shard_iterators
        while len(kept) > MAX_SHARD_ITERATORS:
            kept.pop(next(iter(kept)))
        return result

    streams.ShardIterator.get = bounded_get  # type: ignore[method-assign]


# The operations whose answers are written with json.dumps (see _fast_json_results): the
# item operations moto_requests parses fast, and the stream's reads.
FAST_JSON_OPERATIONS = FAST_OPERATIONS | {"GetRecords"}
fast_json = {"enabled": True}


def _fast_json_results() -> None:
    """moto 5.2.5 writes every answer through a generic serializer that walks botocore's shape
    model value by value: a third of the local stack's CPU during an import went there, mostly
    in GetRecords (a stream record carries two images) and TransactWriteItems. The answers of
    DynamoDB's item operations are JSON already once moto's `dynamo_to_dict` has run (DynamoDB's
    wire format is JSON); here they are written with `json.dumps`: bytes (B, BS) in base64 and
    datetimes as epoch seconds, as the serializer does, None left out. Errors and every other
    operation keep moto's serializer. tests/devstack/test_moto_patches.py compares both answers.
    """
    import base64
    import json
    from datetime import UTC, datetime

    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def default(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    original = ActionResult.execute_result

    class FastJsonResult(DynamoResult):
        def execute_result(self, context: Any) -> Any:
            name = context.operation_model.name
            if (
                not fast_json["enabled"]
                or name not in FAST_JSON_OPERATIONS
                or isinstance(self.result, Exception)
            ):
                return original(self, context)
            body = json.dumps(clean(self.result), default=default, separators=(",", ":"))
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = FastJsonResult.execute_result  # type: ignore[method-assign]

    def get_records(self: Any) -> Any:
        limit = self._get_param("Limit")
        result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        return _StreamsResult(result)

    class _StreamsResult(ActionResult):
        execute_result = FastJsonResult.execute_result  # type: ignore[assignment]

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign]


def _item_size_checked_once() -> None:
    """moto builds an item attribute by attribute into a LimitedSizeDict whose every insertion
    sums the size of the whole item again (quadratic in attributes: 7 % of an import's CPU).
    The size is checked once, on the whole item: the same ItemSizeTooLarge above 405,000 bytes
    (sizes are never negative, so the running total exceeds the limit iff the final one does)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    DynamoType, LimitedSizeDict = dynamo_type.DynamoType, dynamo_type.LimitedSizeDict

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > 405000:
            raise ItemSizeTooLarge
        limited = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(limited)
        dict.update(limited, values)
        self.attrs = limited

    dynamo_type.Item.__init__ = __init__  # type: ignore[method-assign]


def _conditions_parsed_once() -> None:
    """moto lexes and parses a condition expression on every write that carries one (twice per
    transaction action); the same expressions come back on every row of an import. A parsed
    condition is a tree that only reads the item it is given: it is kept (the 4,096 most recent
    expression, names and values) and reused. An expression that does not parse is not kept:
    moto raises its error again."""
    import functools
    import json

    from moto.dynamodb import comparisons
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import table as table_module

    parse = comparisons.get_filter_expression

    @functools.lru_cache(maxsize=4096)
    def cached(expr: str | None, names: str, values: str) -> Any:
        return parse(expr, json.loads(names), json.loads(values))

    def get_filter_expression(expr: str | None, names: Any, values: Any) -> Any:
        try:
            key_names, key_values = json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True)
        except (TypeError, ValueError):  # bytes among the values: not kept
            return parse(expr, names, values)
        return cached(expr, key_names, key_values)

    dynamodb_models.get_filter_expression = get_filter_expression  # type: ignore[attr-defined]
    table_module.get_filter_expression = get_filter_expression  # type: ignore[attr-defined]
    _request_conditions_parsed_once()


def _request_conditions_parsed_once() -> None:
    """moto's request handlers parse each condition, filter and projection expression once more
    to check it before the backend parses it (again) to run it: every action of an import's
    transaction. What that check gives back (the parsed result and the names and values it
    found) is kept per (expression, names, values), handed out as fresh lists (the handlers
    extend them); an expression that does not parse is not kept: moto raises again."""
    import json

    from moto.dynamodb import responses

    create = responses.create_condition_expression_parser
    if getattr(create, "_devstack", False):
        return
    kept: dict[tuple[str | None, str, str], tuple[Any, list[str], list[str]]] = {}

    class CheckedOnce:
        def __init__(self, expr: str | None, names: Any, values: Any) -> None:
            self._call = (expr, names, values)
            self.expr_attr_names_found: list[str] = []
            self.expr_attr_values_found: list[str] = []

        def parse(self) -> Any:
            expr, names, values = self._call
            try:
                key = (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
            except (TypeError, ValueError):  # bytes among the values: not kept
                return self._parse_now()
            found = kept.get(key)
            if found is None:
                result = self._parse_now()
                if len(kept) >= 4096:
                    kept.clear()
                kept[key] = (result, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
                return result
            result, names_found, values_found = found
            self.expr_attr_names_found = list(names_found)
            self.expr_attr_values_found = list(values_found)
            return result

        def _parse_now(self) -> Any:
            parser = create(*self._call)
            result = parser.parse()
            self.expr_attr_names_found = list(parser.expr_attr_names_found)
            self.expr_attr_values_found = list(parser.expr_attr_values_found)
            return result

    def create_checked_once(expr: str | None, names: Any, values: Any) -> Any:
        return CheckedOnce(expr, names, values)

    create_checked_once._devstack = True  # type: ignore[attr-defined]
    responses.create_condition_expression_parser = create_checked_once  # type: ignore[assignment]


_UPDATE_TREES_KEPT = 1024


def _update_expressions_checked_once() -> None:
    """moto parses an UpdateExpression three times per write (twice in the request handler's
    checks and the backend, again for an item it creates), deep-copies the tree each time it
    validates it, then walks it ten times; two of those walks (the clause counts, the
    overlapping paths) look again below every node for every clause: quadratic in the actions.
    A contact's write sets or removes each of its ~40 attributes, so during an import these
    were 60 % of the stack's CPU. Now:

    - a parsed tree is kept per expression (the 1,024 most recent) and shared: every reader
      of it but the validator only looks (find_clauses), and the validator works on a copy;
    - the copy is made node by node (a tree holds nodes, strings and numbers) instead of by
      deepcopy;
    - the walks that read only the expression, the names and the table's keys (clause counts,
      overlapping paths, key attributes) run once per (tree, names, keys) and are skipped once
      they passed; the walks that read the item or the values run every time, each asking once
      per walk which node types it handles and once per node type whether a node is one.

    An expression that does not parse is not kept (moto raises again), and one whose checks
    fail is checked again next time (the same error). `__wrapped__` keeps moto's own functions
    (tests compare both)."""
    import functools

    from moto.dynamodb.parsing import ast_nodes, validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if getattr(UpdateExpressionParser.make, "_devstack", False):
        return
    Node = ast_nodes.Node
    static = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    plain = (str, int, float, bool, type(None))
    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    cls_validator = validators.UpdateExpressionValidator
    init, validate = cls_validator.__init__, cls_validator.validate

    @functools.lru_cache(maxsize=_UPDATE_TREES_KEPT)
    def parsed(expression: str) -> Any:
        tree = make(UpdateExpressionParser, expression)
        tree._devstack_checked = set()
        return tree

    def make_once(cls: Any, expression_str: Any) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(expression_str, str):
            return make(cls, expression_str)
        return parsed(expression_str)

    def clone(node: Any, parent: Any) -> Any:
        new = object.__new__(type(node))
        for name, value in node.__dict__.items():
            if name == "children" and value is not None:
                value = [
                    clone(c, new) if isinstance(c, Node) else c if type(c) in plain else copy.deepcopy(c)
                    for c in value
                ]
            elif name == "parent":
                value = parent
            elif type(value) not in plain:
                value = copy.deepcopy(value)
            new.__dict__[name] = value
        return new

    def validator_init(
        self: Any,
        expression: Any,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        item: Any,
        table: Any,
    ) -> None:
        checked = getattr(expression, "_devstack_checked", None)
        try:
            key = (tuple(sorted((expression_attribute_names or {}).items())), tuple(table.table_key_attrs))
        except TypeError:  # names that are not strings: moto's own way, its own error
            checked = None
        if checked is None or expression.parent is not None:  # not a kept tree: moto's own way
            init(self, expression, expression_attribute_names, expression_attribute_values, item, table)
            self._devstack_pending = None
            return
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = clone(expression, None)
        if key in checked:
            self.processors = [p for p in self.processors if not isinstance(p, static)]
            self._devstack_pending = None
        else:
            self._devstack_pending = (checked, key)

    def validator_validate(self: Any) -> Any:
        pending = self._devstack_pending
        node = self.node_to_validate
        for processor in self.processors:
            if pending is not None and not isinstance(processor, static):
                pending[0].add(pending[1])  # every check that reads neither item nor values passed
                pending = None
            node = processor.traverse(node)
        return node

    traverse = ast_nodes.DepthFirstTraverser.traverse
    own_pre = ast_nodes.DepthFirstTraverser.pre_processing_of_child

    def walked(self: Any, root: Any) -> Any:
        # moto's traverse_node_recursively, with what it asks of every node asked once per walk
        # (the node types a processor handles) or once per node type (isinstance on ABCs).
        handled = self.nodes_to_be_processed()
        pre = self.pre_processing_of_child if type(self).pre_processing_of_child is not own_pre else None
        process = self.process
        kinds: dict[type, tuple[bool, bool]] = {}

        def walk(node: Any, child_id: int) -> Any:
            kind = kinds.get(type(node))
            if kind is None:
                kind = kinds[type(node)] = (isinstance(node, Node), isinstance(node, handled))
            if not kind[0]:
                return node
            parent = node.parent
            children = node.children
            if children is not None:
                for i, child in enumerate(children):
                    if pre is not None:
                        pre(node, i)
                    walk(child, i)
            if kind[1]:
                node = process(node)
                node.parent = parent
                if parent:
                    parent.children[child_id] = node
            return node

        return walk(root, -1)

    walked.__wrapped__ = traverse  # type: ignore[attr-defined]
    ast_nodes.DepthFirstTraverser.traverse = walked  # type: ignore[method-assign]
    make_once._devstack = True  # type: ignore[attr-defined]
    make_once.__wrapped__ = make  # type: ignore[attr-defined]
    validator_init.__wrapped__ = init  # type: ignore[attr-defined]
    validator_validate.__wrapped__ = validate  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(make_once)  # type: ignore[assignment,method-assign]
    cls_validator.__init__ = validator_init  # type: ignore[method-assign]
    cls_validator.validate = validator_validate  # type: ignore[method-assign]


# Records of a stream kept once every registered consumer is past them (for `aws dynamodbstreams`
# and other readers); records a consumer has not read yet are always kept.
KEEP_CONSUMED_RECORDS = 10_000
TRIM_EVERY = 1000  # records added between two looks
_consumers: dict[str, Any] = {}


def register_stream_consumer(stream_arn: str, consumer: Any) -> None:
    """`consumer.checkpoint()`: the last sequence number it is done with, or None (it needs every
    record). devstack's stream pollers register; records before the oldest checkpoint of the
    stream's consumers, past the newest KEEP_CONSUMED_RECORDS of them, are dropped."""
    import weakref

    _consumers.setdefault(stream_arn, weakref.WeakSet()).add(consumer)


def _stream_retention() -> None:
    """moto keeps every stream record forever (two images each): 10,000 imported contacts made
    80,000 records and most of the stack's memory. Records every consumer has read are dropped
    (past the newest KEEP_CONSUMED_RECORDS), the shard's starting sequence number moving on as
    on AWS, where records older than 24 h go: reading before it is TrimmedDataAccessException
    (moto asserted), which devstack's poller already handles."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.table import StreamShard

    add, get = StreamShard.add, StreamShard.get

    def trimming_add(self: Any, old: Any, new: Any) -> None:
        add(self, old, new)
        if len(self.items) % TRIM_EVERY == 0 and len(self.items) > KEEP_CONSUMED_RECORDS:
            _trim(self)

    def checked_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        if start < self.starting_sequence_number:
            raise JsonRESTError(
                "TrimmedDataAccessException", "The operation attempted to read past the oldest stream record"
            )
        return get(self, start, quantity)

    StreamShard.add = trimming_add  # type: ignore[method-assign]
    StreamShard.get = checked_get  # type: ignore[method-assign]


def _trim(shard: Any) -> None:
    arn = f"{shard.table.table_arn}/stream/{shard.table.latest_stream_label}"
    consumers = list(_consumers.get(arn, ()))
    if not consumers:
        return
    checkpoints = [consumer.checkpoint() for consumer in consumers]
    if any(point is None for point in checkpoints):
        return
    done = min(int(point) for point in checkpoints)  # every record up to here has been read
    drop = done - shard.starting_sequence_number + 1 - KEEP_CONSUMED_RECORDS
    if drop > 0:
        del shard.items[:drop]
        shard.starting_sequence_number += drop
