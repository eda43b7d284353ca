"""Loading an import or an export of a workspace by its id (one consistent GetItem), the one
copy that the imports, their steps and the contacts' export share."""

from __future__ import annotations

from typing import TypeVar

from pynamodb.exceptions import DoesNotExist

from chalicelib.models.imports import Export, Import
from chalicelib.platform import ids
from chalicelib.platform.errors import NotFound

Job = TypeVar("Job", Import, Export)


def load(kind: type[Job], workspace_id: str, item_id: str) -> Job | None:
    """The item, read consistently (a step must see its last checkpoint); None when absent."""
    try:
        return kind.get(*kind.key(workspace_id, item_id), consistent_read=True)
    except DoesNotExist:
        return None


def get(kind: type[Job], workspace_id: str, item_id: str) -> Job:
    """The item; 404 ("import not found", "export not found") for an unknown id or one of
    another workspace."""
    item = load(kind, workspace_id, item_id) if ids.is_id(item_id) else None
    if item is None:
        raise NotFound(f"{kind.__name__.lower()} not found")
    return item
