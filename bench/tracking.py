"""Tracking: DynamoDB requests (and time, against in-process moto) per open, click and
unsubscribe, counters included, through the HTTP routes as a mail client hits them.

    .venv/bin/python -m bench.tracking [--emails 20]

Each of `--emails` recorded emails (of as many contacts) is opened, opened again, clicked,
clicked again on another link, then unsubscribed (page, then one-click POST); the requests
are counted with botocore's hooks (devstack.requests_count). moto runs in this process
(bench.moto_server.in_process: mock_aws, with devstack.moto_patches' transaction fix). Target:
at most 3 DynamoDB requests per open and per click.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.moto_server import in_process
from chalicelib.flows import contacts as contact_flows

ROOT = Path(__file__).resolve().parent.parent
TARGET = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=20)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from devstack.requests_count import install

    counter = install()
    with in_process():
        rows = run(args.emails, counter)
    print(f"{args.emails} emails, in-process moto; DynamoDB requests per action (target <= {TARGET}):")
    print(f"{'action':<22}{'requests':>10}{'by operation':>40}{'ms p50':>9}{'ms p95':>9}")
    worst = 0
    for name, (requests, operations, times) in rows.items():
        ops = ", ".join(f"{op} {n:g}" for op, n in operations.items())
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        print(f"{name:<22}{requests:>10.2f}{ops:>40}{statistics.median(times):>9.2f}{p95:>9.2f}")
        if name.startswith(("open", "click")):
            worst = max(worst, requests)
    return 0 if worst <= TARGET else 1


def run(emails: int, counter: object) -> dict[str, tuple[float, dict[str, float], list[float]]]:
    from chalice.test import Client

    from app import app
    from chalicelib.deliverability import tracking
    from chalicelib.platform import ids, link_tokens
    from chalicelib.platform.link_tokens import Target

    rows: dict[str, tuple[float, dict[str, float], list[float]]] = {}
    A, B = "https://example.com/a", "https://example.com/b"
    with Client(app, stage_name="local") as client:
        created = client.http.post(
            "/api/v1/workspaces",
            headers={"Content-Type": "application/json", "X-Admin-Token": os.environ["COHORT_ADMIN_TOKEN"]},
            body=json.dumps({"name": "Bench", "plan": "PRO"}),
        )
        ws = json.loads(created.body)["id"]
        campaign, group = ids.new_id(), ids.new_id()
        people = [contact_flows.create(ws, {"email": f"p{n}@bench.example"})[0].id for n in range(emails)]
        targets = [Target(ws, campaign, person, 1, ids.new_id(), group) for person in people]
        for target in targets:
            tracking.record_sent(target, f"<{ids.new_id()}@bench.local>", "Bench")

        def measure(name: str, path: Callable[[Target], str], method: str = "get", status: int = 200) -> None:
            counter.reset()  # type: ignore[attr-defined]
            times = []
            for target in targets:
                started = time.perf_counter()
                answer = getattr(client.http, method)(path(target), headers={"Accept": "*/*"}, body=b"")
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == status, (name, answer.status_code, answer.body)
            calls = counter.calls  # type: ignore[attr-defined]
            dynamodb = {op: n / emails for (svc, op), n in calls.items() if svc == "dynamodb"}
            rows[name] = (sum(dynamodb.values()), dynamodb, times)

        measure("open (first)", lambda t: f"/t/o/{link_tokens.mint('o', t)}")
        measure("open (again)", lambda t: f"/t/o/{link_tokens.mint('o', t)}")
        measure("click (first)", lambda t: f"/t/c/{link_tokens.mint('c', t, A)}", status=302)
        measure("click (other link)", lambda t: f"/t/c/{link_tokens.mint('c', t, B)}", status=302)
        measure("unsubscribe page", lambda t: f"/u/{link_tokens.mint('u', t)}")
        measure("unsubscribe (POST)", lambda t: f"/u/{link_tokens.mint('u', t)}", method="post")
    return rows


if __name__ == "__main__":
    sys.exit(main())
