"""Contacts: DynamoDB requests per create, sync-update, get and list page, and sync throughput
as a ratio to raw boto3 put_item, against a moto server started here.

    .venv/bin/python -m bench.contacts [--contacts 30] [--throughput 30] [--moto server|in-process]

`--moto in-process` runs the same against moto without HTTP (mock_aws, bench.moto_server.
in_process), as the local stack's own handlers now call it (devstack.stack._share_in_process):
the difference between the two runs is what HTTP to moto costs a handler.

The API is driven through Chalice's test client (the routes as Lambda runs them) while moto
runs as a server in a thread (bench.moto_server, AWS_ENDPOINT_URL pointing at it), so every
request crosses HTTP like the local stack's. Requests are counted with botocore's hooks
(devstack.requests_count), installed before any client exists; each operation's time is
measured between its before-call and after-call hooks.

Targets: a sync <= 2 requests (one read, one transactional write), a get 1, a list page 1;
sync >= 0.4 x the raw put_item rate. moto 5.2.5's TransactWriteItems deep-copies the whole
table once per action; the server runs with devstack.moto_patches, which undoes a failed
transaction item by item instead, so a transaction no longer grows with the table. The
throughput is still measured on a fresh table and again after the request-count phases, and
each operation's own time is printed to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.api_client import BenchApi
from bench.moto_server import in_process, moto_server

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"create": 1, "sync (update)": 2, "sync (create)": 2, "get": 1, "list page": 1}


class OperationClock:
    """Milliseconds spent in each DynamoDB operation (between botocore's call hooks)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)

    def start(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def stop(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_started", None)
        if started is not None:
            self.times[model.name].append((time.perf_counter() - started) * 1000)

    def reset(self) -> None:
        self.times.clear()


class KeyLookups:
    """GetItem requests of API-key items: the authentication, cached a minute per container,
    comes back in phases that moto makes last longer than that; it is not the contacts' cost."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if b'"APIKEY#' in (params.get("body") or b""):
            self.count += 1


class Recorder:
    """The DynamoDB requests of one call, as the app's client built them (operation, params)."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[tuple[str, str]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            self.calls.append((model.name, json.dumps(params)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=30, help="contacts per request-count phase")
    parser.add_argument("--throughput", type=int, default=30, help="syncs and puts per throughput run")
    parser.add_argument("--moto", choices=["server", "in-process"], default="server")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from botocore import handlers

    from devstack.requests_count import install

    counter = install()  # before any client is created
    clock, key_lookups, recorder = OperationClock(), KeyLookups(), Recorder()
    handlers.BUILTIN_HANDLERS.extend(
        [
            ("before-call.dynamodb", clock.start),
            ("after-call.dynamodb", clock.stop),
            ("before-call.dynamodb.GetItem", key_lookups),
            ("before-parameter-build.dynamodb", recorder),
        ]
    )

    with moto_server() if args.moto == "server" else in_process():
        print(f"moto: {args.moto}")
        return run(args.contacts, args.throughput, counter, clock, key_lookups, recorder)


def run(
    n: int, m: int, counter: Any, clock: OperationClock, key_lookups: KeyLookups, recorder: Recorder
) -> int:
    import boto3
    from chalice.test import Client

    from app import app

    raw = boto3.client("dynamodb")
    table = os.environ["COHORT_TABLE"]
    print(f"moto server, {n} contacts per phase, throughput over {m} calls each\n")
    with Client(app, stage_name="local") as client:
        api = BenchApi(client)
        api.workspace()
        api.call("get", "/api/v1/workspace", None, 200)  # the key is resolved once, then cached

        fresh = throughput(api, raw, table, m, "fresh table", clock)

        rows: dict[str, dict[str, float]] = {}
        ids: list[str] = []

        def phase(name: str, calls: list[tuple[str, str, Any, int]], keep: bool = False) -> None:
            counter.reset()
            key_lookups.count = 0
            for method, path, body, status in calls:
                answer = api.call(method, path, body, status)
                if keep:
                    ids.append(answer["id"])
            calls_by_op = {op: k for (svc, op), k in counter.calls.items() if svc == "dynamodb"}
            calls_by_op["GetItem"] = calls_by_op.get("GetItem", 0) - key_lookups.count
            rows[name] = {op: k / len(calls) for op, k in calls_by_op.items() if k}

        person = {"firstName": "Ada", "lastName": "Lovelace", "company": "Analytical", "tags": ["bench"]}
        phase(
            "create",
            [("post", "/api/v1/contacts", {"email": f"c{i}@bench.example", **person}, 201) for i in range(n)],
            keep=True,
        )
        phase(
            "sync (update)",
            [
                ("post", "/api/v1/contacts/sync", {"email": f"c{i}@bench.example", "title": f"T{i}"}, 200)
                for i in range(n)
            ],
        )
        phase(
            "sync (create)",
            [
                ("post", "/api/v1/contacts/sync", {"email": f"s{i}@bench.example", **person}, 201)
                for i in range(n)
            ],
        )
        phase("get", [("get", f"/api/v1/contacts/{cid}", None, 200) for cid in ids])
        pages = _pages(api, "/api/v1/contacts?limit=50")
        phase("list page", [("get", url, None, 200) for url in pages])
        for query in ("status=ACTIVE", "tag=bench", "q=ada", "q=c1&tag=bench&status=ACTIVE"):
            phase(
                f"list page ({query})",
                [("get", url, None, 200) for url in _pages(api, f"/api/v1/contacts?{query}&limit=50")],
            )

        items = raw.describe_table(TableName=table)["Table"].get("ItemCount", 0)
        grown = throughput(api, raw, table, m, f"grown table ({items} items)", clock)
        least = floor(raw, table, max(m, 100))
        creates, replays = replayed(api, raw, recorder, max(m, 100))

    print(f"{'operation':<40}{'requests':>10}  by operation (API-key lookups left out)")
    failed = False
    for name, per_call in rows.items():
        total = sum(per_call.values())
        target = TARGETS.get(name.split(" (")[0] if name.startswith("list page") else name)
        mark = "" if target is None else (" ok" if total <= target else f" OVER {target}")
        failed |= target is not None and total > target
        ops = ", ".join(f"{op} {k:g}" for op, k in sorted(per_call.items()))
        print(f"{name:<40}{total:>10.2f}  {ops}{mark}")
    print()
    for label, ratio, sync_rate, put_rate, op_ms in (fresh, grown):
        ops = ", ".join(f"{op} {ms:.1f} ms" for op, ms in sorted(op_ms.items()))
        print(
            f"sync throughput, {label}: {sync_rate:.1f}/s vs put_item {put_rate:.1f}/s = {ratio:.2f} x"
            f" (target >= 0.4)  median per request: {ops}"
        )
    print(
        f"floor, the least a sync can be (raw boto3, no app code: BatchGetItem of the email lookup,"
        f" TransactWriteItems of the contact and its lookup): {least:.2f} x put_item"
    )
    for label, ratio, *_ in (fresh, grown):
        print(f"sync / floor, {label}: {ratio / least:.2f} (target >= 0.85)")
    print(
        f"sync (create) {creates:.1f}/s; the same requests replayed raw (no app code, fresh keys) "
        f"{replays:.1f}/s: sync / its own requests = {creates / replays:.2f}"
    )
    return 1 if failed else 0


def replayed(api: BenchApi, raw: Any, recorder: Recorder, m: int) -> tuple[float, float]:
    """Creates per second through the API, and the same DynamoDB requests replayed raw with
    fresh keys (the contact's id and email replaced): what a sync costs beyond its own requests
    (routing, validation, the model layer, the logger)."""
    tag = f"r{time.monotonic_ns()}"
    recorder.calls.clear()
    recorder.on = True
    first = api.call("post", "/api/v1/contacts/sync", {"email": f"{tag}@bench.example", "title": "T"}, 201)
    recorder.on = False
    calls = [(op, body) for op, body in recorder.calls if "APIKEY#" not in body]
    contact_id = first["contact"]["id"]
    started = time.perf_counter()
    for i in range(m):
        api.call("post", "/api/v1/contacts/sync", {"email": f"{tag}-{i}@bench.example", "title": "T"}, 201)
    creates = m / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(m):
        for op, body in calls:
            fresh = body.replace(contact_id, f"{contact_id}{i}").replace(tag, f"{tag}x{i}")
            raw._make_api_call(op, json.loads(fresh))
    print(f"a sync (create)'s requests: {', '.join(op for op, _ in calls)}")
    return creates, m / (time.perf_counter() - started)


def floor(raw: Any, table: str, m: int) -> float:
    """The ratio of the smallest sync any design could do (read the email's lookup, then write
    the contact and its lookup in one transaction, both conditioned) to a put_item, with no
    application code at all: what moto's per-request cost leaves for the target."""
    contact = {f"field{i}": {"S": f"value {i}"} for i in range(15)}  # a contact's ~15 attributes
    tag = f"floor{time.monotonic_ns()}"
    lookup = {"pk": {"S": tag}, "sk": {"S": "EMAIL#ada@bench.example"}}
    raw.put_item(TableName=table, Item={**lookup, **contact})
    started = time.perf_counter()
    for i in range(m):
        raw.batch_get_item(RequestItems={table: {"Keys": [lookup], "ConsistentRead": True}})
        raw.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": tag}, "sk": {"S": f"{kind}#{i}"}, **contact},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
                for kind in ("CONTACT", "EMAIL")
            ]
        )
    sync_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(m):
        item = {"pk": {"S": f"{tag}#PUT"}, "sk": {"S": str(i)}, "v": {"S": "x" * 200}}
        raw.put_item(TableName=table, Item=item)
    return (time.perf_counter() - started) / sync_seconds


def throughput(
    api: BenchApi, raw: Any, table: str, m: int, label: str, clock: OperationClock
) -> tuple[str, float, float, float, dict[str, float]]:
    """m syncs (half creates, half updates of those) against m raw put_items."""
    clock.reset()
    tag = f"t{time.monotonic_ns()}"
    started = time.perf_counter()
    for i in range(m):
        email = f"{tag}-{i // 2}@bench.example"
        api.call(
            "post", "/api/v1/contacts/sync", {"email": email, "title": f"v{i}"}, 201 if i % 2 == 0 else 200
        )
    sync_rate = m / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(m):
        raw.put_item(
            TableName=table, Item={"pk": {"S": f"BENCH#{tag}"}, "sk": {"S": str(i)}, "v": {"S": "x" * 200}}
        )
    put_rate = m / (time.perf_counter() - started)
    op_ms = {op: statistics.median(times) for op, times in clock.times.items() if times}
    return label, sync_rate / put_rate, sync_rate, put_rate, op_ms


def _pages(api: BenchApi, first: str) -> list[str]:
    urls, url = [], first
    while url:
        urls.append(url)
        cursor = api.call("get", url, None, 200)["nextCursor"]
        url = f"{first}&cursor={cursor}" if cursor else ""
    return urls


if __name__ == "__main__":
    sys.exit(main())
