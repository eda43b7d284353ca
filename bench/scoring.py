"""Scoring: the requests each scored event costs (in-process moto, the handlers through
devstack's Pump, botocore's request counter, as bench/webhooks.py counts).

    .venv/bin/python -m bench.scoring [--contacts 50]

In a new workspace per case, `--contacts` contacts are created; then one `opened` event each
is recorded (the Activity item tracking writes: not counted, it is the event itself), and the
stream and queues are drained while the counter runs. Cases: no rule (what the other
reactions cost), one everyTime rule, one rule with maxPerContact (the counter joins the
award's transaction), one with expiresAfter (a timer). Target: <= 1 write request beyond
recording the event (the award's TransactWriteItems: the award, the contact's ADD and, with a
limit, the counter; a transaction's units are double).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
CASES: list[tuple[str, dict[str, Any] | None]] = [
    ("no rule", None),
    ("everyTime", {}),
    ("maxPerContact 3", {"maxPerContact": 3}),
    ("expiresAfter 30 days", {"expiresAfter": {"days": 30}}),
]


def requests_per_event(contacts: int) -> list[str]:
    from bench.moto_server import in_process
    from devstack.requests_count import install

    counter = install()  # before any client is created
    lines = []
    with in_process() as resources:
        from chalice.test import Client

        from app import app
        from bench.api_client import BenchApi
        from chalicelib.contacts import activity
        from devstack.pump import Pump

        pump = Pump(app, resources, retry_delay=0, remember=False)
        with Client(app, stage_name="local") as client:
            baseline: dict[str, float] = {}
            for name, extra in CASES:
                api = BenchApi(client)
                ws = api.workspace(name=f"Bench {name}")["id"]
                if extra is not None:
                    rule = {"name": name, "points": 5, "when": {"event": "opened"}, **extra}
                    api.call("post", "/api/v1/scoring/rules", rule, 201)
                people = [
                    api.call("post", "/api/v1/contacts", {"email": f"s{n}@bench.example"}, 201)["id"]
                    for n in range(contacts)
                ]
                pump.drain()
                for person in people:  # the events, as tracking records them
                    sk = activity.per_email_sk(activity.OPENED, "01HBENCHCAMPAIGNAAAAAAAAAA", 1, "s1")
                    activity.item(
                        ws, person, activity.OPENED, sk, campaignId="01HBENCHCAMPAIGNAAAAAAAAAA"
                    ).save()
                counter.reset()
                pump.drain()
                snapshot = {op: n / contacts for op, n in counter.snapshot().items()}
                writes = sum(n for op, n in snapshot.items() if op.split(".")[-1] in WRITES)
                total = sum(snapshot.values())
                if extra is None:
                    baseline = {"writes": writes, "total": total}
                ops = ", ".join(f"{op} {n:.2f}" for op, n in sorted(snapshot.items()))
                lines.append(
                    f"{name}: {total:.2f} requests an event ({total - baseline['total']:+.2f}), "
                    f"{writes:.2f} writes ({writes - baseline['writes']:+.2f})  [{ops}]"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=50)
    args = parser.parse_args(argv)
    for line in requests_per_event(args.contacts):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
