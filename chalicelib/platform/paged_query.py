"""One Query request, one page: what the lists and the jobs read.

PynamoDB's ResultIterator keeps requesting pages until `limit` items passed the filter; a
list answered "in one Query" must not, so this reads one page of at most `read_limit` items,
returns up to `limit` of those that pass the filters (DynamoDB's `filter_condition`, then
`keep`, a test in Python), and the key to resume after the last item returned (or after the
last item read, when fewer passed). `cursor_page` is the same page behind an API cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.expressions.condition import Condition

from chalicelib.platform import pagination
from chalicelib.platform.db import Item

ItemT = TypeVar("ItemT", bound=Item)

# How many items a filtered page reads at most to find `limit` matches (one Query).
FILTERED_READ = 1000

_BASE_KEYS = ("pk", "sk")


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    last_key: dict[str, Any] | None  # DynamoDB JSON, as ExclusiveStartKey wants it


def query_page(
    model: type[ItemT],
    hash_key: str,
    range_key_condition: Condition | None = None,
    *,
    limit: int,
    read_limit: int | None = None,
    filter_condition: Condition | None = None,
    keep: Callable[[ItemT], bool] | None = None,
    index: str | None = None,
    start_key: dict[str, Any] | None = None,
    consistent: bool = False,
    forward: bool = True,
) -> Page[ItemT]:
    """`model` may be `Item` itself: each item is then loaded as the model its discriminator
    names (a partition holding several kinds). A filtered page (`filter_condition` or
    `keep`) reads `read_limit` items (FILTERED_READ unless said), an unfiltered one `limit`."""
    filtered = filter_condition is not None or keep is not None
    read = max(limit, read_limit or FILTERED_READ) if filtered else limit
    condition = filter_condition
    if model is not Item:  # only the model's own items, as Model.query does
        kinds = Item.type.is_in(*Item.type.get_registered_subclasses(model))
        condition = kinds if condition is None else condition & kinds
    page = model._get_connection().query(
        hash_key,
        range_key_condition=range_key_condition,
        filter_condition=condition,
        index_name=index,
        limit=read,
        exclusive_start_key=start_key,
        consistent_read=consistent,
        scan_index_forward=forward,
    )
    raw_items = page.get("Items", [])
    items: list[ItemT] = []
    for position, raw in enumerate(raw_items):
        item = model.from_raw_data(raw)
        if keep is not None and not keep(item):
            continue
        items.append(item)
        if len(items) == limit:
            if position < len(raw_items) - 1:
                names = (*_BASE_KEYS, f"{index}pk", f"{index}sk") if index else _BASE_KEYS
                return Page(items, {name: raw[name] for name in names})
            break
    return Page(items, page.get("LastEvaluatedKey"))


def cursor_page(
    model: type[ItemT],
    hash_key: str,
    range_key_condition: Condition | None = None,
    *,
    scope: str,
    limit: int,
    cursor: str | None,
    filter_condition: Condition | None = None,
    index: str | None = None,
    forward: bool = True,
) -> tuple[list[ItemT], str | None]:
    """A list's page behind an API cursor signed for `scope` (a cursor of another list or
    workspace is refused): the items and the next cursor."""
    page = query_page(
        model,
        hash_key,
        range_key_condition,
        limit=limit,
        filter_condition=filter_condition,
        index=index,
        start_key=pagination.decode(cursor, scope),
        forward=forward,
    )
    return page.items, pagination.encode(page.last_key, scope)
