"""Enrollment: requests per automatic enrollment for a group linked to k = 1, 3, 10 running
campaigns, enrollments per second of a large launch as a ratio to raw conditional puts on
the same server, and the time from a membership write to its first email (p50, p95).

    .venv/bin/python -m bench.enrollment [--members 10000] [--joins 40]

moto runs as a server in a thread (bench.moto_server; AWS_ENDPOINT_URL points at it), so
every request crosses HTTP as on the local stack; the API runs through Chalice's test client
and the event handlers through devstack's Pump, as the local stack runs them. Requests are
counted with botocore's hooks (devstack.requests_count), installed before any client exists.

1. Requests per auto-enrollment: one Membership INSERT (a real stream record's image, with
   the contact's email in its snapshot as the app writes it) handed to the enrollment
   reaction, for k linked campaigns. Target: <= 2 + k DynamoDB requests (Query links,
   BatchGetItem contact + enrollments + excluded memberships + suppression-list keys, k
   conditional puts) and <= ceil(k/10) SQS calls; the counters of a batch of joins are
   written once per counter after the batch.
2. Launch throughput: `--members` contacts in a static group, the launch's enrollment job
   run page by page (the jobs queue's poller, as Lambda would) until COMPLETED, while a
   thread takes the first-step messages off the steps queue (see `_consume_steps`), against
   the same number of raw conditional PutItem of enrollment-sized items, one at a time and
   16 at a time (the job puts 16 at a time).
3. Latency: the Pump's threads run as in `make run` (no stream batching window: it was 1 s
   until 2026-12-06; SQS long polls); `--joins` contacts join a dynamic group `--every`
   seconds apart (a steady flow, not a backlog); the time from each membership write to its
   email showing up in SES.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.api_client import BenchApi
from bench.moto_server import moto_server

ROOT = Path(__file__).resolve().parent.parent
SENDER = "noreply@cohort.local"
ONE_EMAIL = [{"type": "email", "subject": "Hello {{firstName}}", "bodyText": "Hi"}]
K_VALUES = (1, 3, 10)
BATCH_OF_JOINS = 50
RAW_WORKERS = 16


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000, help="members of the timed launch (10,000)")
    parser.add_argument("--joins", type=int, default=30, help="joins timed to their first email (30)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between two joins (1.0)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from devstack.requests_count import install

    counter = install()  # before any client is created

    import logging

    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    with moto_server() as resources:
        import boto3

        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
        return run(args.members, args.joins, args.every, counter, resources)


def run(members: int, joins: int, every: float, counter: Any, resources: Any) -> int:
    from chalice.test import Client

    from app import app
    from devstack.pump import Pump

    pump = Pump(app, resources, retry_delay=0, remember=False)
    with Client(app, stage_name="local") as client:
        api = BenchApi(client)
        api.call("post", "/api/v1/senders", {"email": SENDER}, 201)
        api.workspace()
        ws = api.call("get", "/api/v1/workspace", None, 200)["id"]

        print("1. requests per automatic enrollment")
        budget_ok = True
        for k in K_VALUES:
            row, ok = _auto_enrollment(api, ws, k, counter, pump)
            budget_ok &= ok
            print("  " + row)
        print("  " + _batch_counters(api, ws, counter, pump))

        print(f"\n3. membership write -> first email, {joins} joins {every} s apart (Pump threads)")
        print("  " + _latency(api, ws, joins, every, pump))

        print(f"\n2. launch of {members:,} members vs raw conditional PutItem (same server)")
        for line in _launch(api, ws, members, counter, pump):
            print("  " + line)
    return 0 if budget_ok else 1


# ---- 1. requests per auto-enrollment ----------------------------------------------------


def _auto_enrollment(api: BenchApi, ws: str, k: int, counter: Any, pump: Any) -> tuple[str, bool]:
    from chalicelib.campaigns import enrollment
    from chalicelib.platform.streams import Batch, to_change
    from devstack.events import make_stream_record

    leads = api.call("post", "/api/v1/groups", {"name": f"Leads k={k}", "type": "DYNAMIC"}, 201)["id"]
    excluded = api.call("post", "/api/v1/groups", {"name": f"Excluded k={k}"}, 201)["id"]
    for i in range(k):
        _running(api, f"k={k} #{i}", [leads], [excluded])
    contact = _contacts(ws, 1, f"k{k}-")[0]
    membership = _membership(ws, leads, "DYNAMIC", contact)
    pump.drain()
    change = to_change(make_stream_record("INSERT", _keys(membership), new=_image(membership)))
    counter.reset()
    enrollment.on_membership(change, Batch())
    dynamodb, sqs = counter.total("dynamodb"), counter.total("sqs")
    ok = dynamodb <= 2 + k and sqs <= math.ceil(k / 10)
    ops = ", ".join(f"{name} {n}" for name, n in counter.snapshot().items())
    verdict = "ok" if ok else "OVER"
    return (
        f"k={k:<3} DynamoDB {dynamodb} (<= {2 + k})  SQS {sqs} (<= {math.ceil(k / 10)})  {verdict}  [{ops}]",
        ok,
    )


def _batch_counters(api: BenchApi, ws: str, counter: Any, pump: Any) -> str:
    from chalicelib.campaigns import enrollment
    from chalicelib.platform.streams import Batch, to_change
    from devstack.events import make_stream_record

    leads = api.call("post", "/api/v1/groups", {"name": "Batch", "type": "DYNAMIC"}, 201)["id"]
    for i in range(3):
        _running(api, f"batch #{i}", [leads])
    pump.drain()
    batch = Batch()
    for contact in _contacts(ws, BATCH_OF_JOINS, "batch-"):
        membership = _membership(ws, leads, "DYNAMIC", contact)
        enrollment.on_membership(
            to_change(make_stream_record("INSERT", _keys(membership), new=_image(membership))), batch
        )
    counter.reset()
    for action in batch.deferred.values():
        action()
    writes = counter.of("dynamodb", "UpdateItem")
    return (
        f"a batch of {BATCH_OF_JOINS} joins, group in 3 campaigns: {writes} counter writes (one per counter)"
    )


# ---- 2. launch throughput ---------------------------------------------------------------


def _launch(api: BenchApi, ws: str, members: int, counter: Any, pump: Any) -> list[str]:
    import boto3

    from chalicelib.campaigns import launch
    from chalicelib.groups import jobs

    group = api.call("post", "/api/v1/groups", {"name": "Everyone"}, 201)["id"]
    # Launched before the members are written (a habit from before devstack.moto_patches,
    # when moto copied the whole table for the launch's transaction); its enrollment job
    # pages the group's members when it runs, so members written afterwards are enrolled.
    campaign = _running(api, "Launch", [group])
    pump.drain()
    print(f"  seeding {members:,} contacts and memberships with BatchWriteItem...")
    contacts = _contacts(ws, members, "m-")
    _memberships(ws, group, contacts)

    raw = boto3.client("dynamodb")
    table = os.environ["COHORT_TABLE"]
    sequential = _raw_puts(raw, table, ws, members, workers=1)
    parallel = _raw_puts(raw, table, ws, members, workers=RAW_WORKERS)

    [jobs_poller] = [q for q in pump.queues if q.source.name == "background_jobs"]
    stop = threading.Event()
    drainer = threading.Thread(target=_consume_steps, args=(stop,), daemon=True)
    drainer.start()
    counter.reset()
    started = time.perf_counter()
    job_id = launch.start_job(ws, campaign, group, source="launch")  # what the launch's stream record does
    while True:
        if not jobs_poller.poll(False):
            job = jobs.get(ws, job_id)
            if job.status == "COMPLETED":
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    stop.set()
    drainer.join()
    overview = api.call("get", f"/api/v1/campaigns/{campaign}/overview", None, 200)
    enrolled = overview["totals"]["enrolled"]
    rate = enrolled / seconds
    return [
        f"launch job: {enrolled:,} enrolled in {seconds:.1f} s = {rate:,.0f}/s "
        f"({counter.total('dynamodb')} DynamoDB, {counter.total('sqs')} SQS requests)",
        f"raw conditional PutItem, 1 at a time: {sequential:,.0f}/s -> launch {rate / sequential:.2f}x",
        f"raw conditional PutItem, {RAW_WORKERS} at once: {parallel:,.0f}/s -> launch {rate / parallel:.2f}x",
    ]


def _consume_steps(stop: threading.Event) -> None:
    """Take the first-step messages off the steps queue as the step Lambdas would (without
    running them: the launch is what is timed). moto's SendMessageBatch costs grow with the
    queue's depth (it recounts the queue's messages on every send: 0.6 s a call at 2,000
    messages), which AWS's does not; left to grow, the queue would time moto, not the launch."""
    from devstack.aws import client

    sqs = client("sqs")
    url = os.environ["COHORT_STEPS_QUEUE_URL"]
    while not stop.is_set():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if got:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def _raw_puts(raw: Any, table: str, ws: str, count: int, workers: int) -> float:
    """Conditional puts of enrollment-sized items into a scratch partition; items/s."""
    now = "2030-01-01T00:00:00.000Z"

    def put(i: int) -> None:
        raw.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"WS#{ws}#CAMPAIGN#RAW{workers}"},
                "sk": {"S": f"ENROLL#{i:08d}"},
                "gsi1pk": {"S": f"WS#{ws}#CONTACT#{i:08d}"},
                "gsi1sk": {"S": f"ENROLL#RAW{workers}"},
                "type": {"S": "RawBench"},
                "status": {"S": "ACTIVE"},
                "enrolledAt": {"S": now},
                "source": {"S": "launch"},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    started = time.perf_counter()
    if workers == 1:
        for i in range(count):
            put(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(put, range(count)))
    return count / (time.perf_counter() - started)


# ---- 3. latency -------------------------------------------------------------------------


def _latency(api: BenchApi, ws: str, joins: int, every: float, pump: Any) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    leads = api.call("post", "/api/v1/groups", {"name": "Latency", "type": "DYNAMIC"}, 201)["id"]
    _running(api, "Latency", [leads])
    contacts = _contacts(ws, joins, "lat-")
    # The steps of the phases before (150 first emails of the batch) come back delayed by the
    # PRO sending rate (14 a second): deliver them first, they would hold up these emails.
    pump.drain(wait=60, max_rounds=5000)
    pump.drain()
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages  # the server thread's state
    already = len(sent)
    written: dict[str, float] = {}
    arrived: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:  # SES is watched while the joins are written, not after
        while not done.is_set():
            for message in sent[already:]:
                for to in message.destinations:
                    if to.startswith("lat-"):
                        arrived.setdefault(to, time.monotonic())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    pump.start()
    watcher.start()
    try:
        for contact in contacts:
            written[contact[1]] = time.monotonic()
            _membership(ws, leads, "DYNAMIC", contact).save()  # the stream INSERT is the event
            time.sleep(every)
        deadline = time.monotonic() + 60
        while len(arrived) < joins and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        done.set()
        watcher.join()
        pump.stop()
    delays = sorted(arrived[to] - written[to] for to in arrived)
    if len(delays) < joins:
        return f"only {len(delays)} of {joins} emails within 60 s"
    p50 = statistics.median(delays)
    p95 = delays[min(len(delays) - 1, math.ceil(0.95 * len(delays)) - 1)]
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {delays[-1]:.2f} s ({joins} joins)"


# ---- helpers ----------------------------------------------------------------------------


def _running(api: BenchApi, name: str, include: list[str], exclude: list[str] | None = None) -> str:
    body = {
        "name": name,
        "fromEmail": SENDER,
        "steps": ONE_EMAIL,
        "includeGroupIds": include,
        "excludeGroupIds": exclude or [],
    }
    campaign = api.call("post", "/api/v1/campaigns", body, 201)["id"]
    api.call("post", f"/api/v1/campaigns/{campaign}/launch", None, 202)
    return str(campaign)


def _contacts(ws: str, count: int, prefix: str) -> list[tuple[str, str]]:
    """Contact items only (what enrollment reads), written 25 a request; (id, email) each."""
    from chalicelib.models.contacts import Contact
    from chalicelib.platform import clock, ids

    now = clock.now_iso()
    made = []
    with Contact.batch_write() as batch:
        for i in range(count):
            contact_id = ids.new_id()
            batch.save(
                Contact(
                    *Contact.key(ws, contact_id),
                    id=contact_id,
                    workspaceId=ws,
                    email=f"{prefix}{i}@bench.example",
                    firstName=f"First{i}",
                    status="ACTIVE",
                    createdAt=now,
                    updatedAt=now,
                    revision=1,
                )
            )
            made.append((contact_id, f"{prefix}{i}@bench.example"))
    return made


def _membership(ws: str, group_id: str, group_type: str, contact: tuple[str, str]) -> Any:
    """A Membership item with the contact's email in its snapshot, as memberships.add_contacts
    writes it (enrollment's suppression check reads the email from the stream image)."""
    from chalicelib.models.groups import Membership
    from chalicelib.models.keys import contact_partition
    from chalicelib.platform import clock

    contact_id, email = contact
    return Membership(
        *Membership.key(ws, group_id, contact_id),
        gsi1pk=contact_partition(ws, contact_id),
        gsi1sk=f"GROUP#{group_id}",
        workspaceId=ws,
        groupId=group_id,
        groupType=group_type,
        contactId=contact_id,
        email=email,
        joinedAt=clock.now_iso(),
    )


def _memberships(ws: str, group_id: str, contacts: list[tuple[str, str]]) -> None:
    from chalicelib.models.groups import Membership

    with Membership.batch_write() as batch:
        for contact in contacts:
            batch.save(_membership(ws, group_id, "STATIC", contact))


def _keys(item: Any) -> dict[str, str]:
    return {"pk": item.pk, "sk": item.sk}


def _image(item: Any) -> dict[str, Any]:
    """The item as its stream record's NewImage holds it (plain values)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    return {name: deserialize(value) for name, value in item.serialize().items()}


if __name__ == "__main__":
    sys.exit(main())
