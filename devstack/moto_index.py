"""Sorted indexes for moto's DynamoDB: a Query costs O(log n + page), not a walk of the table.

moto 5.2.5 answers every Query by walking the whole table (`Table.all_items()` sorts every
item of the table, on each call), keeping the items of the asked partition, sorting them, then
reading the page. At 100,000 contacts one Query took seconds. This module keeps, per table and
per index (the base table being one), a `SortedDict` per partition whose keys are the very
tuple moto sorts by (`Table._generate_attr_to_sort_by`: index hash, index range, table hash,
table range, each compared by `DynamoType.cast_value`). A Query then bisects to the first item
of its range (key condition, ExclusiveStartKey, direction) and reads on from there.

Same answers as moto's own code, quirks included (tests/devstack/test_moto_index.py runs both on random
tables and queries): Limit counts items matching the key condition, before the filter; a full
page sets LastEvaluatedKey even when no item is left in the key range but one is left in the
partition (moto looks at the next item of the partition); the 1 MB page limit is checked on the
item after the last one taken. Any query this code does not model exactly (legacy QueryFilter,
multi-attribute keys, an ExclusiveStartKey missing an attribute or of another type, an index
holding values of two types...) goes to moto's own `Table.query`.

Keeping the indexes right: every write goes through `Table.put_item`, `Table.delete_item` or
`DynamoDBBackend.update_item` (batches and transactions call these), which re-index the key
they touched; `moto_patches` re-indexes the items a cancelled transaction puts back. An index
is built from the table's items the first time a Query needs it (a table restored from a backup
or loaded from disk starts without one). One lock serialises DynamoDB writes and indexed reads:
moto server answers requests on threads and moto itself has no lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedDict

LOCK = threading.RLock()
RESULT_SIZE_LIMIT = 1_000_000  # moto.dynamodb.models.table.RESULT_SIZE_LIMIT
MAX_ITEM_SIZE = 409_600  # moto refuses items above 405,000 bytes (LimitedSizeDict)

_state = {"disabled": False, "installed": False, "indexed": 0, "fallback": 0}
_COMPARISONS = {
    "=": "=",
    "EQ": "=",
    "<": "<",
    "LT": "<",
    "<=": "<=",
    "LE": "<=",
    ">": ">",
    "GT": ">",
    ">=": ">=",
    "GE": ">=",
    "BETWEEN": "BETWEEN",
    "BEGINS_WITH": "BEGINS_WITH",
}


# Table.query's positional parameters, in order.
_QUERY_PARAMETERS = [
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
]


class _Top:
    """Greater than any value: (v, TOP) sorts after every key that starts with v."""

    def __lt__(self, other: Any) -> bool:
        return False

    def __gt__(self, other: Any) -> bool:
        return True

    def __eq__(self, other: Any) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 0


TOP = _Top()


class _Unsupported(Exception):
    """This query goes to moto's own code."""


class Order:
    """One sort order of a table (the base table or one index) over the items it holds."""

    def __init__(self, signature: Any, attrs: list[str], range_attr: str | None) -> None:
        self.signature = signature
        self.attrs = attrs  # moto's attrs_to_sort_by; attrs[0] is the partition attribute
        self.range_attr = range_attr  # the attribute a key condition's range part applies to
        self.parts: dict[Any, SortedDict] = {}  # partition value (DynamoType) -> sort key -> table key
        self.where: dict[Any, tuple[Any, tuple[Any, ...]]] = {}  # table key -> (partition, sort key)
        self.types: dict[str, str] = {}
        self.broken = False  # values of two types under one attribute: moto's own code decides

    def update(self, table_key: Any, item: Any) -> None:
        old = self.where.pop(table_key, None)
        if old is not None:
            part = self.parts[old[0]]
            del part[old[1]]
            if not part:
                del self.parts[old[0]]
        if item is None or self.broken:
            return
        attrs = item.attrs
        values = []
        for name in self.attrs:
            value = attrs.get(name)
            if value is None:
                return  # not in this index (sparse)
            known = self.types.setdefault(name, value.type)
            if known != value.type:
                self.broken = True
                return
            values.append(value.cast_value)
        key = tuple(values)
        partition = attrs[self.attrs[0]]
        self.parts.setdefault(partition, SortedDict())[key] = table_key
        self.where[table_key] = (partition, key)


def _table_key(item: Any) -> tuple[Any, Any]:
    return (item.hash_key, item.range_key)


def _orders(table: Any) -> dict[str | None, Order]:
    orders = table.__dict__.get("_devstack_orders")
    if orders is None:
        orders = table.__dict__["_devstack_orders"] = {}
    return orders


def _all_items(table: Any) -> Iterator[Any]:
    for value in table.items.values():
        if table.range_key_attr:
            yield from value.values()
        else:
            yield value


def _order_for(table: Any, index_name: str | None) -> Order:
    if index_name is None:
        signature: Any = ("table", table.hash_key_attr, table.range_key_attr)
        attrs = table._generate_attr_to_sort_by([table.hash_key_attr], [table.range_key_attr])
        range_attr = table.range_key_attr
    else:
        index = {i.name: i for i in table.all_indexes()}.get(index_name)
        if index is None:
            raise _Unsupported
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hashes) != 1 or len(ranges) > 1:
            raise _Unsupported  # multi-attribute keys: moto's own code
        signature = (
            "index",
            index_name,
            tuple(hashes),
            tuple(ranges),
            table.hash_key_attr,
            table.range_key_attr,
        )
        if ranges:
            range_attrs: list[str | None] = [ranges[0], table.range_key_attr]
        elif table.range_key_attr and index in (table.global_indexes or []):
            range_attrs = [table.range_key_attr, table.range_key_attr]
        else:
            range_attrs = [table.hash_key_attr, table.range_key_attr]
        attrs = table._generate_attr_to_sort_by([hashes[0], table.hash_key_attr], range_attrs)
        range_attr = ranges[0] if ranges else None
    orders = _orders(table)
    order = orders.get(index_name)
    if order is None or order.signature != signature:
        order = Order(signature, attrs, range_attr)
        for item in _all_items(table):
            order.update(_table_key(item), item)
        orders[index_name] = order
    if order.broken:
        raise _Unsupported
    return order


def touch(table: Any, hash_key: Any, range_key: Any) -> None:
    """Re-index the item at this key (written, updated, deleted or put back)."""
    orders = table.__dict__.get("_devstack_orders")
    if not orders:
        return
    found = table.items.get(hash_key)
    item = found.get(range_key) if table.range_key_attr and found is not None else found
    for order in orders.values():
        order.update((hash_key, range_key), item)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """moto's own Query for the duration (the equivalence test compares both)."""
    with LOCK:
        before = _state["disabled"]
        _state["disabled"] = True
        try:
            yield
        finally:
            _state["disabled"] = before


def counts() -> dict[str, int]:
    """How many Queries used an index and how many went to moto's own code."""
    return {"indexed": _state["indexed"], "fallback": _state["fallback"]}


# --- the query -------------------------------------------------------------------------------


def _query(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None,
    consistent_read: bool,
    filter_expression: Any,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
) -> tuple[list[Any], int, dict[str, Any] | None]:
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType

    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _Unsupported
    if index_name is not None:
        index = {i.name: i for i in table.all_indexes()}.get(index_name)
        if index is None or (consistent_read and index in (table.global_indexes or [])):
            raise _Unsupported  # moto's own code says why
    order = _order_for(table, index_name)

    # The partition.
    if index_name is None:
        if hash_key is None:
            raise _Unsupported
        partition = hash_key
    else:
        if not hash_key_conditions or len(hash_key_conditions) != 1:
            raise _Unsupported
        name, partition = hash_key_conditions[0]
        if name != order.attrs[0]:
            raise _Unsupported
    if order.types.get(order.attrs[0], partition.type) != partition.type:
        raise _Unsupported
    part = order.parts.get(partition)
    if part is None:
        part = SortedDict()
    p = partition.cast_value

    # The key range [lo, hi) of the key condition's range part.
    n = len(part)
    lo, hi = 0, n
    comparison = None
    if range_comparison or range_key_conditions:
        if not range_key_conditions or len(range_key_conditions) != 1 or order.range_attr is None:
            raise _Unsupported
        name, raw_comparison, values = range_key_conditions[0]
        comparison = _COMPARISONS.get(raw_comparison)
        if (
            comparison is None
            or name != order.range_attr
            or _COMPARISONS.get(range_comparison or "") != comparison
            or not values
            or any(order.types.get(name, v.type) != v.type for v in values)
        ):
            raise _Unsupported
        casts = [v.cast_value for v in values]
        v = casts[0]
        if comparison == "=":
            lo, hi = part.bisect_left((p, v)), part.bisect_right((p, v, TOP))
        elif comparison == "<":
            hi = part.bisect_left((p, v))
        elif comparison == "<=":
            hi = part.bisect_right((p, v, TOP))
        elif comparison == ">":
            lo = part.bisect_right((p, v, TOP))
        elif comparison == ">=":
            lo = part.bisect_left((p, v))
        elif comparison == "BETWEEN":
            if len(casts) != 2:
                raise _Unsupported
            lo, hi = part.bisect_left((p, v)), part.bisect_right((p, casts[1], TOP))
        else:  # BEGINS_WITH
            if not isinstance(v, str):
                raise _Unsupported
            lo = part.bisect_left((p, v))
            after = _successor(v)
            hi = part.bisect_left((p, after)) if after is not None else n
        hi = max(lo, hi)

    # Where the ExclusiveStartKey leaves off: moto skips every item "before or at" it.
    if exclusive_start_key is not None:
        esk = []
        for name in order.attrs:
            raw = exclusive_start_key.get(name)
            if not isinstance(raw, dict) or len(raw) != 1:
                raise _Unsupported
            value = DynamoType(raw)
            if order.types.get(name, value.type) != value.type:
                raise _Unsupported
            esk.append(value.cast_value)
        start_key = tuple(esk)
        start = part.bisect_right(start_key) if scan_index_forward else part.bisect_left(start_key) - 1
    else:
        start = 0 if scan_index_forward else n - 1

    if scan_index_forward:
        first, matching_end = max(lo, start), hi
        taken = range(first, matching_end)
        rest = range(max(hi, start), n)
    else:
        first, matching_end = min(hi - 1, start), lo - 1
        taken = range(first, matching_end, -1)
        rest = range(min(lo - 1, start), -1, -1)

    items = table.items

    def item_at(position: int) -> Any:
        h, r = part.peekitem(position)[1]
        return items[h][r] if table.range_key_attr else items[h]

    results: list[Any] = []
    result_size = 0
    last_evaluated_key = None
    full = False
    for position in taken:
        item = item_at(position)
        size = item.size()
        if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            full = True
            break
        if comparison is not None and not item.attrs[order.range_attr].compare(range_comparison, range_objs):
            continue
        results.append(item)
        result_size += size
    if not full:
        for position in rest:
            if len(results) == limit or result_size + item_at(position).size() > RESULT_SIZE_LIMIT:
                last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
                break
            if result_size + MAX_ITEM_SIZE <= RESULT_SIZE_LIMIT:
                break  # no item left can fill the page
    scanned_count = len(results)

    results = copy.deepcopy(results)
    if index_name:
        index = table.get_index(index_name)
        results = [index.project(r) for r in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]
    return results, scanned_count, last_evaluated_key


def _successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None: no bound)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            return "".join(chars) + chr(last + 1)
    return None


# --- installing ------------------------------------------------------------------------------


def install() -> None:
    if _state["installed"]:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    query, put_item, delete_item = Table.query, Table.put_item, Table.delete_item
    describe, scan = Table.describe, Table.scan
    update_item, transact = DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items

    def indexed_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            if not _state["disabled"]:
                names = _QUERY_PARAMETERS
                call = dict(zip(names, args, strict=False))
                call.update(kwargs)
                extra = {k: v for k, v in call.items() if k not in names and not k.endswith("_conditions")}
                if not extra:  # QueryFilter (legacy) conditions arrive as extra keywords
                    try:
                        found = _query(
                            self,
                            call["hash_key"],
                            call["range_comparison"],
                            call["range_objs"],
                            call["limit"],
                            call["exclusive_start_key"],
                            call["scan_index_forward"],
                            call["projection_expressions"],
                            call.get("index_name"),
                            call.get("consistent_read", False),
                            call.get("filter_expression"),
                            call.get("hash_key_conditions"),
                            call.get("range_key_conditions"),
                        )
                        _state["indexed"] += 1
                        return found
                    except _Unsupported:
                        pass
            _state["fallback"] += 1
            return query(self, *args, **kwargs)

    def indexed_put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            item = put_item(self, *args, **kwargs)
            touch(self, item.hash_key, item.range_key)
            return item

    def indexed_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with LOCK:
            try:
                return delete_item(self, hash_key, range_key)
            finally:
                touch(self, hash_key, range_key)

    def indexed_update_item(
        self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        with LOCK:
            try:
                return update_item(self, table_name, key, *args, **kwargs)
            finally:
                table = self.tables.get(table_name)
                if table is not None and table.hash_key_attr in key:
                    hash_value = DynamoType(key[table.hash_key_attr])
                    range_attr = table.range_key_attr
                    range_value = DynamoType(key[range_attr]) if range_attr and range_attr in key else None
                    touch(table, hash_value, range_value)

    def locked_transact(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return transact(self, *args, **kwargs)

    # Reads that walk every partition: a write adding a partition meanwhile made them fail
    # ("dictionary changed size during iteration": a 500 from DescribeTable while an import's
    # stream reactions wrote, seen by bench/scale.py at 100,000 contacts). DescribeTable (a
    # count per partition: milliseconds) holds the lock; a Scan (moto walks the whole table for
    # each page: seconds at 100,000 contacts, which under the lock stalled every write) is tried
    # again, and holds the lock only at its last try.
    def locked_describe(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return describe(self, *args, **kwargs)

    def locked_scan(self: Any, *args: Any, **kwargs: Any) -> Any:
        for _attempt in range(3):
            try:
                return scan(self, *args, **kwargs)
            except RuntimeError:  # a write changed the table under the walk
                continue
        with LOCK:
            return scan(self, *args, **kwargs)

    Table.describe = locked_describe  # type: ignore[method-assign]
    Table.scan = locked_scan  # type: ignore[method-assign]
    Table.query = indexed_query  # type: ignore[method-assign]
    Table.put_item = indexed_put_item  # type: ignore[method-assign]
    Table.delete_item = indexed_delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = indexed_update_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = locked_transact  # type: ignore[method-assign]
    _state["installed"] = True
