"""Test-data builders for contacts: through the bulk sync (as imports create them), written
straight to the table (many, fast), or only counted (the plan limit)."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.workspaces import workspace_of


def make_contacts(api: Api, count: int, *, prefix: str = "person", **fields: Any) -> list[str]:
    """Contacts <prefix>0@example.com... created through the contacts' bulk sync; ids in order."""
    from chalicelib.contacts import bulk_sync

    rows = [
        {"email": f"{prefix}{i}@example.com", "firstName": f"First{i}", "lastName": f"Last{i}", **fields}
        for i in range(count)
    ]
    outcomes = bulk_sync.sync_many(workspace_of(api), rows, update_existing=False, source="test")
    assert [o.result for o in outcomes] == ["created"] * count, outcomes[:3]
    return [str(o.contact_id) for o in outcomes]


def seed_contacts(api: Api, count: int, *, prefix: str = "bulk") -> list[dict[str, Any]]:
    """Many Contact items written straight to the table with BatchWriteItem, without the
    lookup copies the contacts module adds (so they cannot be found by email): moto copies
    the whole table for every action of a transaction, so creating thousands through the
    real (transactional) path takes minutes. Use make_contacts where creation matters.
    Returns the contacts' states (their attributes)."""
    from chalicelib.contacts.store import canonical
    from chalicelib.models.workspaces import Workspace
    from chalicelib.platform import clock, ids
    from chalicelib.platform.db import Item

    ws = workspace_of(api)
    now = clock.now_iso()
    created = []
    with Item.batch_write() as batch:
        for i in range(count):
            state = {
                "id": ids.new_id(),
                "workspaceId": ws,
                "email": f"{prefix}{i}@example.com",
                "phone": None,
                "firstName": f"First{i}",
                "lastName": f"Last{i}",
                "company": None,
                "title": None,
                "customFields": {},
                "tags": [],
                "status": "ACTIVE",
                "statusReason": None,
                "pipelineStage": "LEAD",
                "source": "test",
                "createdAt": now,
                "updatedAt": now,
                "anonymizedAt": None,
                "revision": 1,
            }
            batch.save(canonical(state))
            created.append(state)
    Workspace(*Workspace.key(ws)).update([Workspace.contactCount.add(count)])
    return created


def count_as_if(workspace_id: str, contacts: int) -> None:
    """Make the workspace count `contacts` more contacts, as that many creates would have.

    The plan limit is enforced on this counter alone (the creates' transactions condition on
    it), so a test at the limit needs the count, not hundreds of contacts: moto copies the
    whole table once per transaction action, which would make such a test take minutes.
    """
    from chalicelib.models.workspaces import Workspace

    Workspace(*Workspace.key(workspace_id)).update(actions=[Workspace.contactCount.add(contacts)])
