"""One Query request, one page: what the lists and the jobs read.

PynamoDB's ResultIterator keeps requesting pages until `limit` items passed the filter; a
list answered "in one Query" must not, so this reads one page of at most `read_limit` items,
returns up to `limit` of those that pass the filter, and the key to resume after the last
item returned (or after the last item read, when fewer passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.expressions.condition import Condition

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
    index: str | None = None,
    start_key: dict[str, Any] | None = None,
    consistent: bool = False,
) -> Page[ItemT]:
    results = model.query(
        hash_key,
        range_key_condition,
        filter_condition,
        consistent_read=consistent,
        index_name=index,
        last_evaluated_key=start_key,
        page_size=max(limit, read_limit or limit),
    )
    page = next(results.page_iter)
    raw_items = page.get("Items", [])
    taken = raw_items[:limit]
    if len(raw_items) > limit:
        key_names = (*_BASE_KEYS, f"{index}pk", f"{index}sk") if index else _BASE_KEYS
        last_key: dict[str, Any] | None = {name: taken[-1][name] for name in key_names}
    else:
        last_key = page.get("LastEvaluatedKey")
    return Page([model.from_raw_data(raw) for raw in taken], last_key)
