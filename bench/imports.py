"""Imports: a CSV file of N rows through the upload URL, the S3 notification and the imports
queue, against a moto server; rows per second, DynamoDB requests next to the issue's floor,
and the peak memory of the handler at two file sizes.

    .venv/bin/python -m bench.imports [--rows 10000 100000] [--group] [--no-tracemalloc]

moto runs in a child process (a server on a free port), so the memory traced here is the
handler's alone; the imports queue is polled by devstack's own QueuePoller (the local
stack's SQS event source), invoking `app.import_files` as Lambda would. The stream consumers
of the local stack are not run: the figures are the import's.

The floor, from the issue: rows x items per row / 25 (BatchWriteItem) + rows / 100
(BatchGetItem), with the items per row counted in the table afterwards. Target: requests
<= 1.3 x the floor; memory flat (the same peak at both sizes).

moto's TransactWriteItems deep-copies the whole table once per action to be able to roll
back, which makes a 100,000-row import take hours (the cost grows with the table). The child
process (bench.moto_server.start_process) runs with devstack.moto_patches, as the local stack
and the tests do: it rolls back item by item instead. The bench still counts cancelled
transactions: an import of new rows should cancel none (bulk_sync would redo the batch
row by row).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.api_client import BenchApi
from bench.moto_server import start_process

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3


# ---- measuring ----------------------------------------------------------------------------


@dataclass
class Run:
    rows: int
    seconds: float
    items_per_row: float
    requests: dict[str, int]
    peak_bytes: int | None
    steps: int
    cancelled: int
    view: dict[str, Any]

    @property
    def dynamodb(self) -> int:
        return sum(n for op, n in self.requests.items() if op.startswith("dynamodb."))

    @property
    def floor(self) -> float:
        return self.rows * self.items_per_row / 25 + self.rows / 100


class Cancellations:
    """TransactWriteItems answered with TransactionCanceledException (botocore's after-call)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        if (parsed.get("Error") or {}).get("Code") == "TransactionCanceledException":
            self.count += 1


def write_file(path: Path, rows: int, start: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Email;Prénom;Nom;Société;Téléphone;Tags\r\n")
        for i in range(start, start + rows):
            out.write(f"person{i}@bench.example;Prénom{i};Nom{i};Société {i % 97};;bench,lot-{i % 10}\r\n")
    return path.stat().st_size


def run_import(
    rows: int, start: int, group: bool, trace: bool, counter: Any, cancelled: Cancellations
) -> Run:
    import boto3
    import requests
    from chalice.test import Client

    from app import app
    from devstack.events import LambdaContext
    from devstack.queues import QueuePoller
    from devstack.sources import QueueSource, bind
    from infra.provision import Provisioned

    resources: Provisioned = RESOURCES
    before = table_items()
    peak = 0
    steps = 0

    def traced(handler: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            nonlocal peak, steps
            steps += 1
            if not trace:
                return handler(event, context)
            tracemalloc.start()
            try:
                return handler(event, context)
            finally:
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()

        return run

    [source] = [s for s in bind(app, resources) if isinstance(s, QueueSource) and s.name == "import_files"]
    poller = QueuePoller(
        replace(source, handler=traced(source.handler)),
        sqs=boto3.client("sqs"),
        context=lambda name: LambdaContext(f"cohort-local-{name}", timeout_seconds=900),
        retry_delay=0,
    )

    with Client(app, stage_name="local") as client, tempfile.TemporaryDirectory() as folder:
        api = BenchApi(client)
        api.workspace(f"Bench {rows}")
        options: dict[str, Any] = {"fileName": f"bench-{rows}.csv", "tags": ["imported"]}
        if group:
            options["groupId"] = api.call("post", "/api/v1/groups", {"name": f"Bench {rows}"}, 201)["id"]
        path = Path(folder) / "bench.csv"
        size = write_file(path, rows, start)
        created = api.call("post", "/api/v1/imports", options, 201)
        counter.reset()
        cancelled.count = 0
        started = time.perf_counter()
        with path.open("rb") as body:
            put = requests.put(
                created["uploadUrl"], data=body, headers={"Content-Length": str(size)}, timeout=600
            )
        put.raise_for_status()
        while True:
            calls = poller.poll(honour_window=False)
            if any(not call.ok for call in calls):
                raise SystemExit(f"a step failed: {[call.error for call in calls if not call.ok]}")
            if not calls:
                view = api.call("get", f"/api/v1/imports/{created['id']}", None, 200)
                if view["status"] in ("COMPLETED", "FAILED"):
                    break
                time.sleep(0.01)
        seconds = time.perf_counter() - started
        requests_made = dict(counter.snapshot())
        workspace_id = api.call("get", "/api/v1/workspace", None, 200)["id"]
    items_per_row = (table_items() - before - own_items(workspace_id, group)) / rows
    return Run(
        rows, seconds, items_per_row, requests_made, peak if trace else None, steps, cancelled.count, view
    )


def table_items() -> int:
    """Items in the table (moto's DescribeTable counts them exactly; AWS's lags 6 hours)."""
    import boto3

    return int(
        boto3.client("dynamodb").describe_table(TableName=os.environ["COHORT_TABLE"])["Table"]["ItemCount"]
    )


def own_items(workspace_id: str, group: bool) -> int:
    """Items of the run that are not rows': the workspace, its key, the import, the group and
    its name, the tag counters."""
    from chalicelib.models.contacts import TagCount
    from chalicelib.models.keys import workspace

    tags = sum(1 for _ in TagCount.query(workspace(workspace_id), TagCount.sk.startswith("TAG#")))
    return 3 + (2 if group else 0) + tags


def report(run: Run) -> None:
    view = run.view
    print(
        f"\n{run.rows:,} rows ({view['status']}): {run.seconds:.1f} s, "
        f"{run.rows / run.seconds:,.0f} rows/s, {run.steps} handler invocations"
    )
    print(
        f"  results: created {view['created']:,}, updated {view['updated']:,}, "
        f"skipped {view['skipped']:,}, failed {view['failed']:,}"
    )
    print(f"  items written per row: {run.items_per_row:.2f}")
    print(
        f"  DynamoDB requests: {run.dynamodb:,}   floor: {run.floor:,.0f}   "
        f"ratio {run.dynamodb / run.floor:.2f} (target <= {TARGET_RATIO})"
    )
    for op, n in sorted(run.requests.items()):
        print(f"    {op:40} {n:>8,}")
    if run.peak_bytes is not None:
        print(f"  peak traced memory of one handler invocation: {run.peak_bytes / 2**20:.1f} MiB")
    print(f"  cancelled transactions: {run.cancelled} (must be 0: see the module docstring)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--group", action="store_true", help="every row joins a group")
    parser.add_argument("--no-tracemalloc", action="store_true", help="time without tracemalloc's overhead")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from botocore import handlers

    from devstack.requests_count import install

    counter = install()  # before any client exists
    cancelled = Cancellations()
    handlers.BUILTIN_HANDLERS.append(("after-call.dynamodb.TransactWriteItems", cancelled))

    global RESOURCES
    with start_process() as RESOURCES:
        print(f"moto server (child process), group: {args.group}, tracemalloc: {not args.no_tracemalloc}")
        runs = []
        start = 0
        for rows in args.rows:
            run = run_import(rows, start, args.group, not args.no_tracemalloc, counter, cancelled)
            report(run)
            runs.append(run)
            start += rows
        ok = all(r.view["status"] == "COMPLETED" and r.cancelled == 0 for r in runs)
        ok = ok and all(r.dynamodb <= TARGET_RATIO * r.floor for r in runs)
        return 0 if ok else 1


RESOURCES: Any = None


if __name__ == "__main__":
    sys.exit(main())
