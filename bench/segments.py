"""Segments: what keeping rule groups current costs a contact change, change -> join -> first
email on the local stack, a rule group's build against a raw paged Query, a search page.

    .venv/bin/python -m bench.segments [--contacts 20000] [--changes 20] [--samples 20]

1. Requests per contact change (in-process moto, the handlers through devstack's Pump,
   botocore's request counter): in workspaces with 0, 1, 10 and 50 DYNAMIC rule groups (each
   on a tag and a custom field, two of the ten and ten of the fifty also `createdAt
   withinLast`), `--changes` contacts each get a tag (a PATCH) that makes them join none, then
   one that makes them join one group; the stream is drained after every change, so each
   change is its own stream batch (the worst case: the Query of the rule groups and the read
   of their custom fields are once a batch). Target: the change's own writes + at most 1 read
   + 1 write per join or leave, whatever the number of rule groups.
2. Change -> join -> first email on the local stack (`python -m devstack` in a child process):
   a DYNAMIC rule group on a tag, a running campaign on it; `--samples` contacts tagged 0.5 s
   apart; the time from each PATCH to its email in moto's SES. Target: p50 <= 2 s.
3. A rule group's build over `--contacts` contacts (seeded with BatchWriteItem straight into
   in-process moto; one in ten matches) against a raw paged Query of the same items (pages of
   the build's size, and 1 MB pages), in items a second. Target: >= 0.5 x.
4. A search page: the requests of `POST /contacts/search` served by an index (`tags has`) and
   one read through (a custom field).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from email import message_from_string, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SENDER = "noreply@cohort.local"
ONE_EMAIL = [{"type": "email", "subject": "Hello {{firstName}}", "bodyText": "Hi"}]
TARGET_P50_SECONDS = 2.0
TARGET_BUILD_RATIO = 0.5


# ---- 1. requests per contact change ---------------------------------------------------------


def requests_per_change(changes: int, counter: Any, pump: Any, client: Any) -> list[str]:
    from bench.api_client import BenchApi

    lines = []
    for groups in (0, 1, 10, 50):
        api = BenchApi(client)
        api.workspace(name=f"Rules {groups}")
        api.call("post", "/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"}, 201)
        for n in range(groups):
            rules: dict[str, Any] = {
                "all": [
                    {"field": "tags", "op": "has", "value": f"t{n}"},
                    {"field": "customFields.plan", "op": "eq", "value": "pro"},
                ]
            }
            if n % 5 == 1:  # some time-relative: the change times their crossing only if it moved
                rules["all"].append({"field": "createdAt", "op": "withinLast", "value": {"days": 30}})
            body = {"name": f"R{n}", "type": "DYNAMIC", "rules": rules}
            api.call("post", "/api/v1/groups", body, 201)
        ids = [
            api.call(
                "post",
                "/api/v1/contacts",
                {"email": f"c{n}@bench.example", "customFields": {"plan": "pro"}},
                201,
            )["id"]
            for n in range(changes)
        ]
        pump.drain()
        for label, tag in (("joins none", "other"), ("joins one", "t0")):
            if tag == "t0" and groups == 0:
                continue
            own = stream = 0
            ops: dict[str, int] = {}
            for contact_id in ids:
                counter.reset()
                api.call("patch", f"/api/v1/contacts/{contact_id}", {"tags": [tag]}, 200)
                own += sum(counter.snapshot().values())
                counter.reset()
                pump.drain()
                for op, n in counter.snapshot().items():
                    ops[op] = ops.get(op, 0) + n
                stream += sum(counter.snapshot().values())
            shown = ", ".join(f"{op} {n / changes:.2f}" for op, n in sorted(ops.items()))
            lines.append(
                f"{groups:>2} rule groups, a change that {label}: the PATCH {own / changes:.2f} requests, "
                f"the stream and queues after it {stream / changes:.2f}  [{shown}]"
            )
    lines.append(_manual_join(changes, counter, pump, client))
    return lines


def _manual_join(changes: int, counter: Any, pump: Any, client: Any) -> str:
    """For comparison: what a join by hand to a DYNAMIC group costs the stream (its counters,
    enrollment, activity, the rule groups' Query): a rule group's join adds its GetItem + put."""
    from bench.api_client import BenchApi

    api = BenchApi(client)
    api.workspace(name="By hand")
    group = api.call("post", "/api/v1/groups", {"name": "Hand", "type": "DYNAMIC"}, 201)["id"]
    ids = [
        api.call("post", "/api/v1/contacts", {"email": f"h{n}@bench.example"}, 201)["id"]
        for n in range(changes)
    ]
    pump.drain()
    ops: dict[str, int] = {}
    for contact_id in ids:
        api.call("post", f"/api/v1/groups/{group}/members", {"contactIds": [contact_id]}, 200)
        counter.reset()
        pump.drain()
        for op, n in counter.snapshot().items():
            ops[op] = ops.get(op, 0) + n
    shown = ", ".join(f"{op} {n / changes:.2f}" for op, n in sorted(ops.items()))
    total = sum(ops.values()) / changes
    return f"a join by hand (POST members), the stream and queues after it: {total:.2f}  [{shown}]"


# ---- 2. change -> join -> first email on the local stack -----------------------------------


def change_to_email(samples: int) -> tuple[list[float], int]:
    from bench.scale import Client, StackProcess

    with tempfile.TemporaryDirectory() as state:
        stack = StackProcess(Path(state))
        try:
            api = Client(stack.port)
            api.key = api.call("POST", "/api/v1/workspaces", {"name": "Rules", "plan": "PRO"}, status=201)[
                "apiKey"
            ]
            api.call("POST", "/api/v1/senders", {"email": SENDER}, status=201)
            rules = {"field": "tags", "op": "has", "value": "vip"}
            group = api.call(
                "POST", "/api/v1/groups", {"name": "VIP", "type": "DYNAMIC", "rules": rules}, status=201
            )["id"]
            body = {"name": "Welcome", "fromEmail": SENDER, "includeGroupIds": [group], "steps": ONE_EMAIL}
            campaign = api.call("POST", "/api/v1/campaigns", body, status=201)["id"]
            api.call("POST", f"/api/v1/campaigns/{campaign}/launch", status=202)
            ids = {
                f"lat{n}@bench.example": api.call(
                    "POST",
                    "/api/v1/contacts",
                    {"email": f"lat{n}@bench.example", "firstName": "L"},
                    status=201,
                )["id"]
                for n in range(samples)
            }
            time.sleep(3)  # their creations' stream records are done
            tagged: dict[str, float] = {}
            arrived: dict[str, float] = {}
            for email, contact_id in ids.items():
                tagged[email] = time.monotonic()
                api.call("PATCH", f"/api/v1/contacts/{contact_id}", {"tags": ["vip"]})
                _watch(stack.moto_port, arrived, until=time.monotonic() + 0.5)
            deadline = time.monotonic() + 30
            while len(arrived) < samples and time.monotonic() < deadline:
                _watch(stack.moto_port, arrived, until=time.monotonic() + 0.2)
            latencies = [arrived[e] - t for e, t in tagged.items() if e in arrived]
            return latencies, samples - len(latencies)
        finally:
            stack.stop()


def _watch(moto_port: int, arrived: dict[str, float], until: float) -> None:
    """Poll moto's SES every 50 ms until `until`, noting when each recipient's email showed up."""
    while True:
        url = f"http://127.0.0.1:{moto_port}/moto-api/data.json"
        with urllib.request.urlopen(url, timeout=5) as reply:
            raw = json.load(reply).get("ses", {}).get("RawMessage", [])
        now = time.monotonic()
        for message in raw:
            to = str(message_from_string(message["raw_data"], policy=policy.default)["To"])
            arrived.setdefault(to, now)
        if time.monotonic() >= until:
            return
        time.sleep(0.05)


# ---- 3. the build against a raw paged Query ------------------------------------------------


def build_rate(contacts: int, client: Any, monkeypatch_send: Any) -> list[str]:
    import boto3

    from bench.api_client import BenchApi
    from chalicelib.models import keys
    from chalicelib.models.contacts import Contact
    from chalicelib.platform import clock, config, ids
    from chalicelib.segments import membership

    api = BenchApi(client)
    api.workspace(name="Build")
    ws = api.call("get", "/api/v1/workspace", None, 200)["id"]
    api.call("post", "/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"}, 201)
    started = time.monotonic()
    now = clock.now_iso()
    with Contact.batch_write() as batch:
        for i in range(contacts):
            contact_id = ids.new_id()
            batch.save(
                Contact(
                    *Contact.key(ws, contact_id),
                    id=contact_id,
                    workspaceId=ws,
                    email=f"b{i}@bench.example",
                    firstName=f"First{i}",
                    tags=["vip"] if i % 10 == 0 else ["web"],
                    customFields={"plan": "pro" if i % 20 == 0 else "free"},
                    status="ACTIVE",
                    createdAt=now,
                    updatedAt=now,
                    revision=1,
                )
            )
    seeded = time.monotonic() - started

    table = boto3.client("dynamodb")
    raw: dict[str, float] = {}
    for label, limit in ((f"pages of {membership.BUILD_PAGE}", membership.BUILD_PAGE), ("1 MB pages", None)):
        started, items, start_key = time.monotonic(), 0, None
        while True:
            request: dict[str, Any] = {
                "TableName": config.table_name(),
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
                "ExpressionAttributeValues": {":pk": {"S": keys.workspace(ws)}, ":sk": {"S": "CONTACT#"}},
            }
            if limit:
                request["Limit"] = limit
            if start_key:
                request["ExclusiveStartKey"] = start_key
            page = table.query(**request)
            items += len(page["Items"])
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
        raw[label] = items / (time.monotonic() - started)

    # The build's pages, run one after the other as the jobs queue would (each page's message
    # taken as it is sent; the joins' stream reactions are not part of the build).
    rules = {
        "all": [
            {"field": "tags", "op": "has", "value": "vip"},
            {"field": "customFields.plan", "op": "eq", "value": "pro"},
        ]
    }
    sent: list[dict[str, Any]] = []
    with monkeypatch_send(membership, sent):
        started = time.monotonic()
        group = api.call("post", "/api/v1/groups", {"name": "Built", "type": "DYNAMIC", "rules": rules}, 201)
        pages = 0
        while sent:
            membership.on_build_message(sent.pop(0))
            pages += 1
        took = time.monotonic() - started
    status = api.call("get", f"/api/v1/groups/{group['id']}", None, 200)["membershipStatus"]
    rate = contacts / took
    lines = [
        f"{contacts:,} contacts seeded in {seeded:.1f} s (BatchWriteItem); 1 in 20 matches",
        *(f"raw paged Query, {label}: {r:,.0f} items/s" for label, r in raw.items()),
        f"build: {pages} pages in {took:.1f} s = {rate:,.0f} contacts/s ({status}); "
        + ", ".join(f"{rate / r:.2f} x the raw Query in {label}" for label, r in raw.items()),
    ]
    return lines


class _CapturedSend:
    def __init__(self, module: Any, sent: list[dict[str, Any]]) -> None:
        self.module, self.sent = module, sent

    def __enter__(self) -> None:
        self.original = self.module._send

        def capture(ws: str, group_id: str, build: str, cursor: Any, first: bool) -> None:
            message = {"kind": self.module.BUILD_KIND, "workspaceId": ws, "groupId": group_id, "build": build}
            if cursor:
                message["cursor"] = cursor
            if first:
                message["first"] = True
            self.sent.append(message)

        self.module._send = capture

    def __exit__(self, *_: Any) -> None:
        self.module._send = self.original


# ---- 4. a search page ---------------------------------------------------------------------


def search_page(counter: Any, client: Any, pump: Any) -> list[str]:
    from bench.api_client import BenchApi

    api = BenchApi(client)
    api.workspace(name="Search")
    api.call("post", "/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"}, 201)
    for n in range(300):
        body = {
            "email": f"s{n}@bench.example",
            "tags": ["vip"] if n % 3 == 0 else [],
            "customFields": {"plan": "pro" if n % 2 else "free"},
        }
        api.call("post", "/api/v1/contacts", body, 201)
    pump.drain()
    lines = []
    for label, flt in (
        ("tags has vip (the tag's index)", {"field": "tags", "op": "has", "value": "vip"}),
        (
            "customFields.plan eq pro (read through)",
            {"field": "customFields.plan", "op": "eq", "value": "pro"},
        ),
    ):
        counter.reset()
        page = api.call("post", "/api/v1/contacts/search", {"filter": flt, "limit": 50}, 200)
        snapshot = {op: n for op, n in counter.snapshot().items() if op.startswith("dynamodb.")}
        reads = {
            op: n for op, n in snapshot.items() if op.split(".")[1] in ("Query", "GetItem", "BatchGetItem")
        }
        lines.append(
            f"{label}: {len(page['items'])} contacts, scanned {page.get('scanned', '-')}; "
            f"DynamoDB {sum(snapshot.values())} requests {snapshot} (reads: {sum(reads.values())})"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--skip-stack", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print(f"load average at start: {os.getloadavg()}")

    from bench.moto_server import in_process
    from devstack.requests_count import install

    counter = install()  # before any client is created
    with in_process() as resources:
        from chalice.test import Client

        from app import app
        from devstack.pump import Pump

        pump = Pump(app, resources, retry_delay=0, remember=False)
        with Client(app, stage_name="local") as client:
            print(f"\n1. requests per contact change ({args.changes} changes a row, each its own batch)")
            for line in requests_per_change(args.changes, counter, pump, client):
                print("  " + line)
            print("\n4. a search page (limit 50, 300 contacts)")
            for line in search_page(counter, client, pump):
                print("  " + line)
            print(f"\n3. a rule group's build vs a raw paged Query ({args.contacts:,} contacts)")
            for line in build_rate(args.contacts, client, _CapturedSend):
                print("  " + line)
    ok = True
    if not args.skip_stack:
        latencies, missing = change_to_email(args.samples)
        p50 = statistics.median(latencies) if latencies else float("inf")
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else p50
        print(f"\n2. change -> join -> first email on the local stack, {args.samples} tagged 0.5 s apart")
        print(f"  p50 {p50:.2f} s  p95 {p95:.2f} s  max {max(latencies, default=0):.2f} s  missing {missing}")
        ok = p50 <= TARGET_P50_SECONDS and not missing
        print(f"  target p50 <= {TARGET_P50_SECONDS} s: {'ok' if ok else 'MISSED'}")
    print(f"\nload average at the end: {os.getloadavg()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
