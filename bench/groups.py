"""Groups: DynamoDB requests per added member, time to add 10,000 members as a ratio to raw
BatchWriteItem of the same items, requests for a stats read (and for a member page, a
contact's groups, and the stream's counting), against a moto server started here.

    .venv/bin/python -m bench.groups [--members 10000]

The API runs through Chalice's test client (the routes as Lambda runs them) while moto runs
as a server in a thread (bench.moto_server, AWS_ENDPOINT_URL pointing at it): every request
crosses HTTP like the local stack's. Requests are counted with botocore's hooks
(devstack.requests_count), installed before any client exists. Contacts are seeded with raw
BatchWriteItem (only their Contact items): what is measured is the groups' side.

Targets: <= 0.1 DynamoDB requests per member for a 1,000-member add; a stats read 1 request
(whatever the group's size); a member page and a contact's groups 1 Query each. The 10,000
add is compared with raw BatchWriteItem of the very same membership items (25 a request):
the add also reads every contact (BatchGetItem, for the snapshot the member list shows) and
checks who is a member already, so it cannot be cheaper; the ratio says how much dearer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.api_client import BenchApi
from bench.moto_server import moto_server

ROOT = Path(__file__).resolve().parent.parent
ADD_CALL = 1000
TARGET_PER_MEMBER = 0.1


class OperationClock:
    """Seconds spent in each DynamoDB operation (between botocore's call hooks)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def start(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def stop(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_started", None)
        if started is not None:
            self.seconds[model.name] = self.seconds.get(model.name, 0.0) + time.perf_counter() - started

    def report(self) -> str:
        return ", ".join(f"{op} {s:.1f} s" for op, s in sorted(self.seconds.items()))


CLOCK = OperationClock()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000, help="members of the timed add (10,000)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from botocore import handlers

    from devstack.requests_count import install

    counter = install()  # before any client is created
    handlers.BUILTIN_HANDLERS.extend(
        [("before-call.dynamodb", CLOCK.start), ("after-call.dynamodb", CLOCK.stop)]
    )

    with moto_server() as resources:
        return run(args.members, counter, resources)


def run(members: int, counter: Any, resources: Any) -> int:
    import boto3
    from chalice.test import Client

    from app import app

    raw = boto3.client("dynamodb")
    table = os.environ["COHORT_TABLE"]
    rows: list[tuple[str, float, str, str]] = []
    with Client(app, stage_name="local") as client:
        api = BenchApi(client)
        api.workspace()
        ws = api.call("get", "/api/v1/workspace", None, 200)["id"]  # the key is cached from here on

        print(f"moto server; seeding {ADD_CALL + members} contacts with raw BatchWriteItem...")
        contacts = _seed_contacts(raw, table, ws, ADD_CALL + members)

        # 1. Requests per member of a 1,000-member add.
        small = api.call("post", "/api/v1/groups", {"name": "Thousand"}, 201)["id"]
        counter.reset()
        report = api.call("post", f"/api/v1/groups/{small}/members", {"contactIds": contacts[:ADD_CALL]}, 200)
        assert report["added"] == ADD_CALL, report
        requests = counter.total("dynamodb")
        per_member = requests / ADD_CALL
        rows.append(
            (
                f"add {ADD_CALL} members (one call)",
                per_member,
                f"<= {TARGET_PER_MEMBER}",
                _ops(counter),
            )
        )

        # 2. A stats read, a member page and a contact's groups.
        for name, path, target in (
            ("stats read", f"/api/v1/groups/{small}/stats", "1"),
            ("member page (limit 50)", f"/api/v1/groups/{small}/members", "1"),
            ("member page, q filter", f"/api/v1/groups/{small}/members?q=first12", "1"),
            ("member page, status filter", f"/api/v1/groups/{small}/members?status=ACTIVE", "1"),
            ("a contact's groups", f"/api/v1/contacts/{contacts[0]}/groups", "1"),
        ):
            counter.reset()
            api.call("get", path, None, 200)
            rows.append((name, counter.total("dynamodb"), target, _ops(counter)))

        # 3. The stream's side: counting the 1,000 INSERTs (TransactWriteItems of 98 marks).
        from devstack.pump import Pump

        pump = Pump(app, resources, retry_delay=0)
        counter.reset()
        calls = pump.drain()
        counted = api.call("get", f"/api/v1/groups/{small}/stats", None, 200)["totalContacts"]
        assert counted == ADD_CALL and all(call.ok for call in calls), counted
        stream_requests = counter.of("dynamodb", "TransactWriteItems")
        rows.append(
            ("stream: counter transactions per member", stream_requests / ADD_CALL, "~0.01", _ops(counter))
        )

        # 4. Time to add `members` through the API vs raw BatchWriteItem of the same items.
        big = api.call("post", "/api/v1/groups", {"name": "Big"}, 201)["id"]
        chunk = contacts[ADD_CALL:]
        counter.reset()
        CLOCK.seconds.clear()
        started = time.perf_counter()
        for start in range(0, len(chunk), ADD_CALL):
            api.call(
                "post", f"/api/v1/groups/{big}/members", {"contactIds": chunk[start : start + ADD_CALL]}, 200
            )
        api_seconds = time.perf_counter() - started
        api_requests = counter.total("dynamodb")
        api_time_by_op = CLOCK.report()
        raw_seconds, raw_requests = _raw_batch_write(raw, table, ws, chunk)

    print()
    print(f"{'measure':<42}{'value':>10}  {'target':<8} requests by operation")
    failed = False
    for name, value, target, ops in rows:
        over = (target.startswith("<=") and value > float(target[2:])) or (target == "1" and value > 1)
        failed |= over
        print(f"{name:<42}{value:>10.3f}  {target:<8} {ops}{'  OVER' if over else ''}")
    ratio = api_seconds / raw_seconds
    print()
    print(
        f"add {len(chunk)} members: API {api_seconds:.1f} s ({api_requests} requests) vs raw BatchWriteItem "
        f"{raw_seconds:.1f} s ({raw_requests} requests) = {ratio:.2f} x"
    )
    print(f"  the API's time by operation: {api_time_by_op}")
    return 1 if failed else 0


def _seed_contacts(raw: Any, table: str, ws: str, count: int) -> list[str]:
    from chalicelib.models.contacts import Contact
    from chalicelib.platform import clock, ids

    now = clock.now_iso()
    created = []
    requests = []
    for i in range(count):
        contact_id = ids.new_id()
        pk, sk = Contact.key(ws, contact_id)
        item = Contact(
            pk,
            sk,
            id=contact_id,
            workspaceId=ws,
            email=f"member{i}@bench.example",
            firstName=f"First{i}",
            lastName=f"Last{i}",
            company="Bench",
            status="ACTIVE",
            createdAt=now,
            updatedAt=now,
            revision=1,
        )
        requests.append({"PutRequest": {"Item": item.serialize()}})
        created.append(contact_id)
    for start in range(0, len(requests), 25):
        _write_all(raw, table, requests[start : start + 25])
    return created


def _raw_batch_write(raw: Any, table: str, ws: str, contact_ids: list[str]) -> tuple[float, int]:
    """The membership items the add writes, built the same way, put with raw BatchWriteItem
    into another group's partition: (seconds, requests)."""
    from chalicelib.groups import memberships
    from chalicelib.models.groups import Group
    from chalicelib.platform import clock, ids

    group_id = ids.new_id()
    group = Group(*Group.key(ws, group_id), id=group_id, workspaceId=ws, name="Raw", groupType="STATIC")
    now = clock.now_iso()
    items = [
        {
            "PutRequest": {
                "Item": memberships.new_membership(
                    ws,
                    group,
                    {
                        "id": cid,
                        "email": f"{cid.lower()}@bench.example",
                        "firstName": "F",
                        "lastName": "L",
                        "company": "Bench",
                        "status": "ACTIVE",
                        "revision": 1,
                    },
                    now,
                ).serialize()
            }
        }
        for cid in contact_ids
    ]
    started = time.perf_counter()
    requests = sum(_write_all(raw, table, items[start : start + 25]) for start in range(0, len(items), 25))
    return time.perf_counter() - started, requests


def _write_all(raw: Any, table: str, requests: list[dict[str, Any]]) -> int:
    calls = 0
    pending = {table: requests}
    while pending:
        calls += 1
        pending = raw.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return calls


def _ops(counter: Any) -> str:
    return ", ".join(f"{op} {n}" for (svc, op), n in sorted(counter.calls.items()) if svc == "dynamodb")


if __name__ == "__main__":
    sys.exit(main())
