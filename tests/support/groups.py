"""Test-data builders for groups and their members: a group through the API, members added
through the API or written as an add writes them, the member list and stats read back, and
the jobs queue run on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.support.api import Api
from tests.support.workspaces import workspace_of


def seed_members(api: Api, group_id: str, contacts: Sequence[dict[str, Any]]) -> None:
    """Memberships of these contact states written as an add writes them, without the add's
    reads: for tests about what is done with many members, not how they joined."""
    from chalicelib.groups import service as groups
    from chalicelib.groups.snapshots import new_membership
    from chalicelib.models.groups import Membership
    from chalicelib.platform import clock

    ws = workspace_of(api)
    group = groups.get(ws, group_id)
    with Membership.batch_write() as batch:
        for contact in contacts:
            batch.save(new_membership(ws, group, contact, clock.now_iso()))


def new_group(api: Api, name: str, group_type: str = "STATIC", **fields: Any) -> str:
    reply = api.post("/api/v1/groups", {"name": name, "type": group_type, **fields})
    assert reply.status == 201, reply.json
    return reply.json["id"]


def add(
    api: Api, group_id: str, contact_ids: Sequence[str] = (), emails: Sequence[str] = ()
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if contact_ids:
        body["contactIds"] = list(contact_ids)
    if emails:
        body["emails"] = list(emails)
    reply = api.post(f"/api/v1/groups/{group_id}/members", body)
    assert reply.status == 200, reply.json
    return reply.json


def add_members(api: Api, group_id: str, contact_ids: Sequence[str]) -> None:
    """`add` by contact ids, 1000 a call (the route's limit)."""
    for start in range(0, len(contact_ids), 1000):
        add(api, group_id, contact_ids[start : start + 1000])


def run_jobs(runner: Any) -> list[Any]:
    """Deliver the queues' messages (the jobs) until idle, leaving stream records pending:
    moto copies the whole table per action of a transaction, so counting thousands of
    stream records in a test is slow; tests of the counters use small groups."""
    calls: list[Any] = []
    while True:
        made = [call for poller in runner.queues for call in poller.poll(False)]
        if not made:
            return calls
        calls.extend(made)


def member_ids(api: Api, group_id: str, **params: str) -> list[str]:
    """Every member id, following the cursor."""
    found: list[str] = []
    cursor = None
    while True:
        query = "&".join(f"{k}={v}" for k, v in {**params, **({"cursor": cursor} if cursor else {})}.items())
        reply = api.get(f"/api/v1/groups/{group_id}/members?{query}")
        assert reply.status == 200, reply.json
        found.extend(item["id"] for item in reply.json["items"])
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return found


def stats(api: Api, group_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/v1/groups/{group_id}/stats")
    assert reply.status == 200, reply.json
    return reply.json
