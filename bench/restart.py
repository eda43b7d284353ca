"""The local stack's state across a `kill -9` and a restart, at N contacts, in one run.

    .venv/bin/python -m bench.restart [--contacts 10000] [--writes 10]

1. `python -m devstack` in a child process with its own state folder; N contacts imported
   through the product's own import (bench.scale's seeding), then 20 s for the stream handlers;
2. the loss window: contacts created one after the other over HTTP for `--writes` seconds,
   then `kill -9` at once: after the restart, how many of the last ones are missing, and how
   many seconds of writes that was (each had answered 201 before the kill);
3. the restart: seconds until /health answers (the state loaded), the items in the table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import Client, StackProcess, _dynamodb, seed


def folder_sizes(folder: Path) -> str:
    base = folder / "state.pickle"
    logs = sorted(folder.glob("state.*.log"))
    size = base.stat().st_size / 1e6 if base.exists() else 0.0
    log_size = sum(p.stat().st_size for p in logs) / 1e6
    return f"base {size:.1f} MB, log {log_size:.1f} MB in {len(logs)} file(s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--writes", type=float, default=10.0, help="seconds of writes before the kill")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-restart-") as name:
        print(f"state folder and the stack's console: {name}", flush=True)
        folder = Path(name)
        stack = StackProcess(folder)
        try:
            if args.contacts:
                seeded = seed(stack, args.contacts, folder)
                print(
                    f"import: {seeded['rows']:,} rows {seeded['status']} in {seeded['seconds']:.0f} s; "
                    f"slowest status poll {seeded['slowest_poll']:.1f} s"
                )
            time.sleep(20)  # the stream handlers catch up
            items = _dynamodb(stack).describe_table(TableName="cohort")["Table"]["ItemCount"]
            print(f"before the kill: {items:,} items; state folder: {folder_sizes(folder)}")
            client = Client(stack.port)
            body = {"name": "Kill", "plan": "PRO"}
            client.key = client.call("POST", "/api/v1/workspaces", body, 201)["apiKey"]
            written: list[tuple[float, str]] = []
            started = time.monotonic()
            while time.monotonic() - started < args.writes:
                email = f"k{len(written)}@restart.example"
                contact = client.call("POST", "/api/v1/contacts", {"email": email}, 201)
                written.append((time.monotonic(), contact["id"]))
            stack.process.kill()  # SIGKILL: no clean stop, no last save
            killed_at = time.monotonic()
            stack.process.wait()
        finally:
            if stack.process.poll() is None:
                stack.process.kill()
            stack.log.close()
        print(f"kill -9 after {len(written)} contacts created in {args.writes:.0f} s; {folder_sizes(folder)}")
        again = StackProcess(folder, ports=(stack.moto_port, stack.port), log_name="restart.log")
        try:
            print(f"restart: /health answered {again.ready_seconds:.1f} s after the start")
            items = _dynamodb(again).describe_table(TableName="cohort")["Table"]["ItemCount"]
            print(f"items in the table after the restart: {items:,}")
            reader = Client(again.port)
            reader.key = client.key
            lost: list[float] = []
            for at, contact_id in reversed(written):
                try:
                    reader.call("GET", f"/api/v1/contacts/{contact_id}")
                    break
                except RuntimeError:  # 404: lost
                    reader = Client(again.port)
                    reader.key = client.key
                    lost.append(at)
            window = killed_at - min(lost) if lost else 0.0
            print(
                f"lost by the kill -9: the last {len(lost)} of {len(written)} contacts "
                f"({window:.1f} s of writes)"
            )
        finally:
            again.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
