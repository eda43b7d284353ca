"""Webhooks: the requests each event costs, and change -> delivery on the local stack.

    .venv/bin/python -m bench.webhooks [--contacts 20] [--samples 30]

1. Requests per event (in-process moto, the handlers through devstack's Pump, botocore's
   request counter): in three new workspaces with 0, 1 and 5 endpoints subscribed to
   `contact.created`, `--contacts` contacts are created through the API, then the stream and
   the queues are drained; what the drain costs per contact, by operation. The 0-endpoint row
   is what the other reactions cost; the difference is the webhooks' (the reaction's Query of
   the endpoints is cached 30 s a workspace; per delivery a log item in a BatchWriteItem, an
   SQS message in a SendMessageBatch, then GetItem x2 + UpdateItem by the delivery Lambda).
2. Change -> delivery on the local stack (`python -m devstack`, what `make run` runs, in a
   child process on free ports): a receiver thread on 127.0.0.1, one endpoint; `--samples`
   contacts POSTed 0.5 s apart; the time from each POST to its signed `contact.created`
   arriving at the receiver (signature verified). Target: p50 <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_P50_SECONDS = 2.0


class Inbox:
    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}  # contact email -> when its contact.created arrived
        self.requests = 0
        self.lock = threading.Lock()


@contextmanager
def receiver() -> Iterator[tuple[str, Inbox]]:
    from standardwebhooks import Webhook

    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.monotonic()
            event = (
                Webhook(inbox.secret).verify(body, dict(self.headers)) if inbox.secret else json.loads(body)
            )
            with inbox.lock:
                inbox.requests += 1
                if event["type"] == "contact.created":
                    inbox.arrived.setdefault(event["data"].get("email", ""), at)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", inbox
    finally:
        server.shutdown()
        server.server_close()


def requests_per_event(contacts: int) -> list[str]:
    from bench.moto_server import in_process
    from devstack.requests_count import install

    counter = install()  # before any client is created
    lines = []
    with in_process() as resources, receiver() as (url, _inbox):
        from chalice.test import Client

        from app import app
        from bench.api_client import BenchApi
        from devstack.pump import Pump

        pump = Pump(app, resources, retry_delay=0, remember=False)
        with Client(app, stage_name="local") as client:
            baseline = 0.0
            for endpoints in (0, 1, 5):
                api = BenchApi(client)
                api.workspace(name=f"Bench {endpoints}")
                for _ in range(endpoints):
                    api.call("post", "/api/v1/webhooks", {"url": url, "events": ["contact.created"]}, 201)
                pump.drain()
                for n in range(contacts):
                    api.call("post", "/api/v1/contacts", {"email": f"w{endpoints}-{n}@bench.example"}, 201)
                counter.reset()
                pump.drain()
                snapshot = counter.snapshot()
                total = sum(snapshot.values()) / contacts
                if endpoints == 0:
                    baseline = total
                ops = ", ".join(f"{op} {n / contacts:.2f}" for op, n in sorted(snapshot.items()))
                lines.append(
                    f"{endpoints} endpoint(s): {total:.2f} requests a contact created "
                    f"({total - baseline:+.2f} for webhooks)  [{ops}]"
                )
    return lines


def change_to_delivery(samples: int) -> tuple[list[float], int]:
    from bench.scale import Client, StackProcess

    with tempfile.TemporaryDirectory() as state, receiver() as (url, inbox):
        stack = StackProcess(Path(state))
        try:
            api = Client(stack.port)
            api.key = api.call("POST", "/api/v1/workspaces", {"name": "Hooks", "plan": "PRO"}, status=201)[
                "apiKey"
            ]
            created = api.call(
                "POST", "/api/v1/webhooks", {"url": url, "events": ["contact.created"]}, status=201
            )
            inbox.secret = created["secret"]
            posted: dict[str, float] = {}
            for n in range(samples):
                email = f"lat{n}@bench.example"
                posted[email] = time.monotonic()
                api.call("POST", "/api/v1/contacts", {"email": email}, status=201)
                time.sleep(0.5)
            deadline = time.monotonic() + 30
            while len(inbox.arrived) < samples and time.monotonic() < deadline:
                time.sleep(0.1)
            latencies = [inbox.arrived[e] - t for e, t in posted.items() if e in inbox.arrived]
            return latencies, samples - len(latencies)
        finally:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    print(f"1. requests per event (in-process moto, {args.contacts} contacts a row)")
    for line in requests_per_event(args.contacts):
        print("  " + line)
    latencies, missing = change_to_delivery(args.samples)
    p50 = statistics.median(latencies) if latencies else float("inf")
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else p50
    print(f"\n2. change -> delivery on the local stack, {args.samples} contacts 0.5 s apart")
    print(f"  p50 {p50:.2f} s  p95 {p95:.2f} s  max {max(latencies, default=0):.2f} s  missing {missing}")
    ok = p50 <= TARGET_P50_SECONDS and not missing
    print(f"  target p50 <= {TARGET_P50_SECONDS} s: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
