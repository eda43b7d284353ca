"""The local stack at real size, in one run: the API on an empty stack, then on one holding N
contacts imported through the product's own import; the import's rate next to raw
BatchWriteItem on the same moto; the stack's idle CPU and its memory.

    .venv/bin/python -m bench.scale [--contacts 100000] [--samples 30]

The stack is `python -m devstack` (what `make run` runs) in a child process on free ports,
with its own temporary state folder; this process is its client, over HTTP with keep-alive,
as a user's would be. Steps:

1. empty stack: in a new workspace, `--samples` calls of each operation (create, get, list
   page, search q, group members, sync, form post) and 5 x join → first email (a form post
   into a dynamic group with a running campaign, until moto's SES holds the email);
2. seeding: one CSV of N rows uploaded to the import's presigned URL, until COMPLETED (rows/s);
   items written per row from DescribeTable's ItemCount; the import's own items (2,000 of what
   it wrote, again and again under fresh keys: the same attributes and index keys) written with
   raw BatchWriteItem (25 a call, over HTTP to moto) into a table of their own with the product
   table's keys and indexes, on the same moto (items/s): the import's ratio to the raw rate;
3. the stack settles (the stream handlers drain what the import wrote: seconds until a 5 s
   window uses < 10 % of a core), then its CPU over `--idle` seconds, and its memory (RSS, peak);
4. loaded stack: step 1 again in a new workspace beside the N contacts; p50/p95 and the ratio
   of each p50 to the empty stack's. Targets (issue 16): each API p50 <= 1.5 x empty,
   join → first email p50 <= 2 s, idle CPU < 5 % of a core.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StackProcess:
    def __init__(
        self, state_dir: Path, ports: tuple[int, int] | None = None, log_name: str = "stack.log"
    ) -> None:
        self.moto_port, self.port = ports or (_free_port(), _free_port())
        self.started = time.monotonic()
        env = {
            **os.environ,
            "MOTO_PORT": str(self.moto_port),
            "PORT": str(self.port),
            "COHORT_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "DEVSTACK_STATE_DIR": str(state_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = (state_dir / log_name).open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 600  # a restart loads the saved state first
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1):
                    self.ready_seconds = time.monotonic() - self.started
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the stack did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def memory(self) -> dict[str, int]:
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        values = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
        return {"rss_kb": int(values["VmRSS"]), "peak_kb": int(values["VmHWM"])}

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Client:
    """One keep-alive connection to the API."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.key: str | None = None

    def call(self, method: str, path: str, body: Any = None, status: int = 200, form: bool = False) -> Any:
        headers = {}
        if form:
            payload = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            payload = json.dumps(body).encode() if body is not None else None
            headers["Content-Type"] = "application/json"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        else:
            headers["X-Admin-Token"] = "local-admin"
        self.connection.request(method, path, body=payload, headers=headers)
        reply = self.connection.getresponse()
        data = reply.read()
        if reply.status != status:
            raise RuntimeError(f"{method} {path}: {reply.status} {data[:300]!r}")
        if reply.getheader("Content-Type", "").startswith("application/json") and data:
            return json.loads(data)
        return data


def _timed(samples: dict[str, list[float]], name: str, call: Any) -> Any:
    started = time.perf_counter()
    result = call()
    samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return result


def _ses_recipients(moto_port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=60) as reply:
        ses = json.load(reply).get("ses", {})
    found = set()
    for message in ses.get("RawMessage", []):
        found.update(message.get("destinations") or [])
    return found


def measure_api(stack: StackProcess, label: str, samples_per_op: int) -> dict[str, list[float]]:
    client = Client(stack.port)
    client.key = client.call("POST", "/api/v1/workspaces", {"name": f"Scale {label}", "plan": "PRO"}, 201)[
        "apiKey"
    ]
    samples: dict[str, list[float]] = {}
    ids = []
    for i in range(samples_per_op):
        person = {"email": f"c{i}-{label}@scale.example", "firstName": f"Cora{i}", "lastName": "Scale"}
        created = _timed(samples, "create", lambda p=person: client.call("POST", "/api/v1/contacts", p, 201))
        ids.append(created["id"])
    group = client.call("POST", "/api/v1/groups", {"name": "Static", "type": "STATIC"}, 201)["id"]
    client.call("POST", f"/api/v1/groups/{group}/members", {"contactIds": ids})
    form = client.call("POST", "/api/v1/forms", {"name": "Scale form", "groupIds": [group]}, 201)["id"]
    for i in range(samples_per_op):
        _timed(samples, "get", lambda c=ids[i]: client.call("GET", f"/api/v1/contacts/{c}"))
        _timed(samples, "list page", lambda: client.call("GET", "/api/v1/contacts?limit=50"))
        _timed(samples, "search q", lambda: client.call("GET", "/api/v1/contacts?q=c1&limit=50"))
        _timed(
            samples, "group members", lambda: client.call("GET", f"/api/v1/groups/{group}/members?limit=50")
        )
        body = {"email": f"c{i}-{label}@scale.example", "title": f"T{i}"}
        _timed(samples, "sync", lambda b=body: client.call("POST", "/api/v1/contacts/sync", b))
        lead = {"email": f"f{i}-{label}@scale.example", "firstName": "Flo"}
        _timed(
            samples, "form post", lambda f=lead: client.call("POST", f"/f/{form}", f, status=200, form=True)
        )
    # join -> first email: a form feeding a dynamic group that a running campaign sends to
    dynamic = client.call("POST", "/api/v1/groups", {"name": "Leads", "type": "DYNAMIC"}, 201)["id"]
    steps = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello."}]
    sender = f"noreply-{label}@scale.example"  # a workspace sends only from its own identity
    client.call("POST", "/api/v1/senders", {"email": sender}, 201)
    campaign = {"name": "Welcome", "fromEmail": sender, "includeGroupIds": [dynamic]}
    campaign_id = client.call("POST", "/api/v1/campaigns", {**campaign, "steps": steps}, 201)["id"]
    client.call("POST", f"/api/v1/campaigns/{campaign_id}/launch", {}, status=202)
    join_form = client.call("POST", "/api/v1/forms", {"name": "Join", "groupIds": [dynamic]}, 201)["id"]
    for i in range(5):
        email = f"j{i}-{label}@scale.example"
        started = time.perf_counter()
        client.call("POST", f"/f/{join_form}", {"email": email, "firstName": "Jo"}, status=200, form=True)
        while email not in _ses_recipients(stack.moto_port):
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"no email to {email} within 120 s")
            time.sleep(0.05)
        samples.setdefault("join -> first email", []).append((time.perf_counter() - started) * 1000)
    return samples


def write_csv(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Email;Prénom;Nom;Société;Téléphone;Tags\r\n")
        for i in range(rows):
            out.write(f"person{i}@bench.example;Prénom{i};Nom{i};Société {i % 97};;bench,lot-{i % 10}\r\n")
    return path.stat().st_size


def _dynamodb(stack: StackProcess) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed(stack: StackProcess, rows: int, folder: Path) -> dict[str, Any]:
    dynamodb = _dynamodb(stack)
    before = dynamodb.describe_table(TableName="cohort")["Table"]["ItemCount"]
    client = Client(stack.port)
    client.key = client.call("POST", "/api/v1/workspaces", {"name": "Seeded", "plan": "PRO"}, 201)["apiKey"]
    workspace_id = client.call("GET", "/api/v1/workspace")["id"]
    path = folder / "seed.csv"
    size = write_csv(path, rows)
    created = client.call("POST", "/api/v1/imports", {"fileName": "seed.csv", "tags": ["seed"]}, 201)
    started = time.perf_counter()
    request = urllib.request.Request(created["uploadUrl"], data=path.read_bytes(), method="PUT")
    with urllib.request.urlopen(request, timeout=600) as reply:
        assert reply.status == 200
    view: dict[str, Any] = {}
    slowest = 0.0  # the slowest status poll: the API's stalls during the import
    while True:
        polled = time.perf_counter()
        try:
            view = client.call("GET", f"/api/v1/imports/{created['id']}")
        except RuntimeError as error:  # a 504: the stack stalled 29 s; said, then asked again
            print(f"during the import: {error}", flush=True)
            view = {"status": "RUNNING"}
        slowest = max(slowest, time.perf_counter() - polled)
        if view["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    after = dynamodb.describe_table(TableName="cohort")["Table"]["ItemCount"]
    return {
        "rows": rows,
        "workspace": workspace_id,
        "bytes": size,
        "seconds": seconds,
        "status": view["status"],
        "created": view.get("created"),
        "items_per_row": (after - before) / rows,
        "slowest_poll": slowest,
    }


def _raw_table(dynamodb: Any) -> None:
    """A table of its own with the product table's keys and indexes (each write keeps the same
    index copies up to date as the import's)."""
    table = dynamodb.describe_table(TableName="cohort")["Table"]
    shape: dict[str, Any] = {
        "TableName": "bench-raw",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
    }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if table.get(kind):
            names = ("IndexName", "KeySchema", "Projection")
            shape[kind] = [{name: index[name] for name in names} for index in table[kind]]
    dynamodb.create_table(**shape)


def sample_items(dynamodb: Any, workspace_id: str, count: int = 2000) -> list[dict[str, Any]]:
    """Items the import wrote (contacts, lookups, search and tag copies, in the table's mix): what
    the raw writes below write again under fresh keys, so they compare the same items."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": "cohort", "Limit": 500}
    while len(found) < count:  # a bench may scan; no request path does
        page = dynamodb.scan(**kwargs)
        found += [item for item in page["Items"] if workspace_id in item["pk"]["S"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:count]


def _raw_item(sample: list[dict[str, Any]], i: int) -> dict[str, Any]:
    item = dict(sample[i % len(sample)])
    item["pk"] = {"S": f"{item['pk']['S']}#raw{i // len(sample)}"}  # fresh keys, the same attributes
    return item


def raw_batch_write(stack: StackProcess, items: int, sample: list[dict[str, Any]]) -> float:
    """Items/s of BatchWriteItem (25 a call) of the import's items into a table of its own."""
    dynamodb = _dynamodb(stack)
    _raw_table(dynamodb)
    started = time.perf_counter()
    for start in range(0, items, 25):
        batch = [{"PutRequest": {"Item": _raw_item(sample, i)}} for i in range(start, min(items, start + 25))]
        dynamodb.batch_write_item(RequestItems={"bench-raw": batch})
    rate = items / (time.perf_counter() - started)
    dynamodb.delete_table(TableName="bench-raw")
    return rate


def raw_floors(
    stack: StackProcess, rows: int, items_per_row: int, sample: list[dict[str, Any]]
) -> dict[str, float]:
    """Items/s of the least any import design keeping uniqueness exact must write, on the same
    moto, over HTTP, into a table of its own: each row's items

    - "all conditional": every item a conditional put (attribute_not_exists) in
      TransactWriteItems of up to 100 actions (what the import does, less its reads and counters);
    - "2 conditional + batch": the contact and its identity lookup as conditional puts in
      transactions (the two writes uniqueness needs), the other copies in BatchWriteItem.
    """
    dynamodb = _dynamodb(stack)
    found: dict[str, float] = {}
    per_call = 100 // items_per_row
    condition = "attribute_not_exists(pk)"
    for name, conditional in (("all conditional", items_per_row), ("2 conditional + batch", 2)):
        _raw_table(dynamodb)
        started = time.perf_counter()
        for first in range(0, rows, per_call):
            rows_now = range(first, min(rows, first + per_call))
            items = [
                [_raw_item(sample, r * items_per_row + j) for j in range(items_per_row)] for r in rows_now
            ]
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "bench-raw", "Item": item, "ConditionExpression": condition}}
                    for row in items
                    for item in row[:conditional]
                ]
            )
            rest = [item for row in items for item in row[conditional:]]
            for start in range(0, len(rest), 25):
                batch = [{"PutRequest": {"Item": item}} for item in rest[start : start + 25]]
                dynamodb.batch_write_item(RequestItems={"bench-raw": batch})
        found[name] = rows * items_per_row / (time.perf_counter() - started)
        dynamodb.delete_table(TableName="bench-raw")
    return found


def settle(stack: StackProcess, limit: float = 900.0) -> float:
    """Seconds until a 5 s window uses < 10 % of a core (the stream backlog is drained)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = stack.cpu_seconds()
        time.sleep(5)
        if (stack.cpu_seconds() - before) / 5 < 0.10:
            return time.monotonic() - started
    return time.monotonic() - started


def idle_cpu(stack: StackProcess, seconds: float) -> float:
    before = stack.cpu_seconds()
    time.sleep(seconds)
    return (stack.cpu_seconds() - before) / seconds


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(empty: dict[str, list[float]], loaded: dict[str, list[float]], contacts: int) -> None:
    print(f"\n{'operation':22} {'empty p50':>10} {'p95':>8} {contacts:>9,}c p50 {'p95':>8} {'ratio':>6}")
    for name in empty:
        e50, e95 = statistics.median(empty[name]), _p(empty[name], 0.95)
        l50, l95 = statistics.median(loaded[name]), _p(loaded[name], 0.95)
        print(f"{name:22} {e50:>8.1f}ms {e95:>6.1f}ms {l50:>12.1f}ms {l95:>6.1f}ms {l50 / e50:>6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measured")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        stack = StackProcess(Path(folder))
        try:
            print(
                f"stack pid {stack.process.pid}, "
                f"in-process moto: {os.environ.get('DEVSTACK_IN_PROCESS', '1')}"
            )
            empty = measure_api(stack, "empty", args.samples)
            memory_empty = stack.memory()
            seeded = seed(stack, args.contacts, Path(folder))
            rows_per_second = seeded["rows"] / seeded["seconds"]
            print(
                f"\nimport: {seeded['rows']:,} rows {seeded['status']} in {seeded['seconds']:.1f} s = "
                f"{rows_per_second:,.0f} rows/s, {seeded['items_per_row']:.2f} items/row = "
                f"{rows_per_second * seeded['items_per_row']:,.0f} items/s; "
                f"slowest status poll during it {seeded['slowest_poll']:.2f} s"
            )
            settled = settle(stack)
            print(f"settled (stream backlog drained) {settled:.0f} s after the import")
            cpu = idle_cpu(stack, args.idle)
            memory = stack.memory()
            print(f"idle CPU over {args.idle:.0f} s: {cpu * 100:.1f} % of a core")
            print(
                f"memory: RSS {memory_empty['rss_kb'] / 1024:.0f} MiB empty, "
                f"{memory['rss_kb'] / 1024:.0f} MiB "
                f"with {args.contacts:,} contacts (peak {memory['peak_kb'] / 1024:.0f} MiB)"
            )
            loaded = measure_api(stack, "loaded", args.samples)
            raw_items = min(50_000, max(5_000, int(args.contacts * seeded["items_per_row"] / 4)))
            sample = sample_items(_dynamodb(stack), seeded["workspace"])
            raw = raw_batch_write(stack, raw_items, sample)
            import_items = rows_per_second * seeded["items_per_row"]
            print(
                f"raw BatchWriteItem (HTTP, {raw_items:,} items): {raw:,.0f} items/s; "
                f"import / raw = {import_items / raw:.2f} (target >= 0.5)"
            )
            per_row = max(2, round(seeded["items_per_row"]))
            for name, rate in raw_floors(stack, raw_items // per_row, per_row, sample).items():
                print(
                    f"raw floor, {name} ({per_row} items a row): {rate:,.0f} items/s = "
                    f"{rate / raw:.2f} x raw BatchWriteItem; import / this floor = {import_items / rate:.2f}"
                )
            report(empty, loaded, args.contacts)
            memory = stack.memory()
            print(
                f"\nmemory at the end: RSS {memory['rss_kb'] / 1024:.0f} MiB "
                f"(peak {memory['peak_kb'] / 1024:.0f} MiB)"
            )
        finally:
            stack.stop()
            saved = sum(path.stat().st_size for path in Path(folder).glob("state.*"))
            print(f"state folder on stop (base and log): {saved / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
