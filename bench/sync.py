"""Database sync vs CSV import: the same N rows (tests/support/databases.py's awkward people:
accents, NULLs, duplicate emails, bad phones) imported once as a CSV file and once by a sync
from a real PostgreSQL (or MariaDB) server, each into its own workspace, in one process on
in-process moto with the imports queue drained through the app's real handler (the `pump`
of the tests). Prints rows/s of each and the ratio sync / CSV (target >= 0.8).

    .venv/bin/python -m bench.sync [--rows 3000] [--engine postgresql|mysql]

The default, 3,000 rows, runs in a few minutes on the shared 2-core machine; the issue asks
for 100,000 (`--rows 100000`, hours on moto: its cost grows with the table, as bench/imports.py
says). Both sides pay moto equally, so the ratio is what the sync's reading adds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

TARGET = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--engine", choices=("postgresql", "mysql"), default="postgresql")
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    # cold start: a bench, loaded after the environment is set
    from chalice.test import Client
    from moto import mock_aws

    from devstack import moto_patches
    from devstack.pump import Pump
    from infra.provision import provision
    from tests.conftest import ADMIN_TOKEN, LOCAL_STAGE_ENV
    from tests.support import databases
    from tests.support.api import Api

    moto_patches.install()
    start = databases.running_postgres if args.engine == "postgresql" else databases.running_mariadb
    with start() as server, mock_aws():
        resources = provision()
        os.environ.update(resources.environment())
        os.environ.update(LOCAL_STAGE_ENV)
        from app import app

        table = server.people_table(args.rows)
        with Client(app, stage_name="local") as client:
            pump = Pump(app, resources, retry_delay=0)

            def workspace(name: str) -> Api:
                reply = Api(client).post(
                    "/api/v1/workspaces",
                    {"name": name, "plan": "PRO"},
                    headers={"X-Admin-Token": ADMIN_TOKEN},
                )
                return Api(client, reply.json["apiKey"])

            mapping = {"email": "email", "phone": "phone", "first_name": "firstName", "last_name": "lastName"}
            mapping |= {"company": "company"}
            by_csv, by_sync = workspace("csv"), workspace("sync")
            csv_body = databases.as_csv(databases.people(args.rows))
            began = time.perf_counter()
            created = by_csv.post(
                "/api/v1/imports?updateExisting=true&mapping="
                + _quoted({**mapping, "id": "ignore", "updated_at": "ignore"}),
                raw=csv_body,
                headers={"Content-Type": "text/csv"},
            )
            pump.drain(max_rounds=100_000)
            csv_seconds = time.perf_counter() - began
            csv_view = by_csv.get(f"/api/v1/imports/{created.json['id']}").json

            sync = by_sync.post(
                "/api/v1/syncs",
                {
                    "name": "bench",
                    "engine": server.engine,
                    "connection": server.connection(),
                    "query": f"SELECT * FROM {table}",
                    "mapping": mapping,
                    "updateExisting": True,
                },
            ).json
            began = time.perf_counter()
            run_id = by_sync.post(f"/api/v1/syncs/{sync['id']}/run").json["runId"]
            pump.drain(max_rounds=100_000)
            sync_seconds = time.perf_counter() - began
            run = next(
                r for r in by_sync.get(f"/api/v1/syncs/{sync['id']}/runs").json["items"] if r["id"] == run_id
            )

    counts = ("created", "updated", "skipped", "failed", "warnings")
    csv_rate, sync_rate = args.rows / csv_seconds, args.rows / sync_seconds
    print(f"rows: {args.rows} ({server.engine})")
    print(f"CSV import: {csv_seconds:.1f} s, {csv_rate:.0f} rows/s, {[csv_view[c] for c in counts]}")
    sync_counts = [run[c] for c in counts]
    print(f"sync run:   {sync_seconds:.1f} s, {sync_rate:.0f} rows/s, {sync_counts} {run['status']}")
    ratio = sync_rate / csv_rate
    print(f"ratio sync/CSV: {ratio:.2f} x (target >= {TARGET})")
    same = [csv_view[c] for c in counts] == [run[c] for c in counts]
    print(f"same report counts: {same}")
    sys.exit(0 if ratio >= TARGET and same else 1)


def _quoted(mapping: dict[str, str]) -> str:
    # cold start: a bench
    import json
    from urllib.parse import quote

    return quote(json.dumps(mapping))


if __name__ == "__main__":
    main()
