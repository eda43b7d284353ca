"""What Cohort costs on AWS, per operation and for a reference month, from what the code does.

    .venv/bin/python -m bench.cost [--import-rows 500]

Each operation runs through the app as deployed would (the Chalice test client for the API,
devstack's Pump for the stream, queue and schedule handlers, in-process moto), and every AWS
request it causes is recorded through botocore's hooks with its parameters and answer. Costs
come from those requests, not from a model of the code:

- DynamoDB on-demand, by DynamoDB's sizing rules: an item's size is its attribute names and
  values; a write costs 1 write unit per started KB of the larger of the item before and after
  (read from moto before and after the request), each GSI the item is in (or leaves) costs its
  own write (two when the index key changes: a delete and a put), a transaction doubles its
  units; a read costs 1 read unit per started 4 KB (0.5 when eventually consistent), a Query
  the size of what it read; a request that reads nothing still costs its minimum unit.
- Lambda: one invocation per API call and per handler invocation, billed by its measured
  duration (rounded up to the ms) at 128 MB (Chalice's default; the template sets no other);
- API Gateway (REST): one request per API call; SQS: every request (sends, and the receives
  and deletes the Lambda event source mapping makes, counted as devstack's pollers make them);
  SES: one per email; S3: PUT and GET requests. DynamoDB Streams reads by a Lambda trigger
  are free; storage is priced separately in docs/cost.md.

Prices (us-east-1, on-demand) are in PRICES with the date they were read; docs/cost.md has
the table this prints and the reference month.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# us-east-1, on-demand, USD; read from the AWS pricing pages (date below). Update both together.
PRICES_DATE = "2025-06 (AWS public price pages; re-check before quoting)"
PRICES = {
    "dynamodb_wru": 0.625 / 1e6,  # per write request unit (on-demand, since Nov 2024)
    "dynamodb_rru": 0.125 / 1e6,  # per read request unit
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "apigw_rest_request": 3.50 / 1e6,  # first 333 million a month
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk, after the free tier
    "ses_email": 0.10 / 1000,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
}
LAMBDA_MB = 128
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


# ---- DynamoDB sizing ----------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = len(raw.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in raw)
    if kind == "NS":
        return sum(value_size({"N": v}) for v in raw)
    if kind == "BS":
        return sum(len(v) for v in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in raw.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class Ledger:
    """Request units and requests, per service, for the operation being measured."""

    def __init__(self) -> None:
        self.units: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.above_floor: list[str] = []  # writes above their floor in units (named in docs)

    def reset(self) -> None:
        self.units.clear()
        self.requests.clear()
        self.above_floor.clear()


class DynamoMeter:
    """botocore hooks: before a write, the items as they are; after, as they became."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.indexes: dict[str, list[tuple[str, str | None]]] = {}

    def _table(self, name: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends["123456789012"]["us-east-1"].get_table(name)

    def _current(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        found = table.get_item(hash_value, range_value)
        return found.to_json()["Attributes"] if found is not None else None

    def _gsis(self, table_name: str) -> list[tuple[str, str | None]]:
        if table_name not in self.indexes:
            table = self._table(table_name)
            self.indexes[table_name] = [
                (
                    next(k["AttributeName"] for k in i.schema if k["KeyType"] == "HASH"),
                    next((k["AttributeName"] for k in i.schema if k["KeyType"] == "RANGE"), None),
                )
                for i in table.global_indexes
            ]
        return self.indexes[table_name]

    def _writes(self, params: dict[str, Any], operation: str) -> list[tuple[str, dict[str, Any], bool]]:
        """(table, key, transactional) of each item a write request names."""
        if operation == "TransactWriteItems":
            found = []
            for action in params["TransactItems"]:
                (kind, body), *_ = action.items()
                if kind == "ConditionCheck":
                    continue
                found.append(
                    (body["TableName"], self._key(body["TableName"], body.get("Key") or body["Item"]), True)
                )
            return found
        if operation == "BatchWriteItem":
            found = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest") or request.get("DeleteRequest")
                    found.append((table, self._key(table, body.get("Key") or body["Item"]), False))
            return found
        return [
            (params["TableName"], self._key(params["TableName"], params.get("Key") or params["Item"]), False)
        ]

    def _key(self, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
        table = self._table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: item[name] for name in names}

    def before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["cost_params"] = params
        if model.name in WRITES:
            writes = self._writes(params, model.name)
            context["cost_before"] = [(t, k, x, self._current(t, k)) for t, k, x in writes]
        if model.name == "TransactWriteItems":
            checks = sum(1 for a in params["TransactItems"] if "ConditionCheck" in a)
            self.ledger.units["dynamodb_rru"] += 2 * checks  # a transactional read of each checked item

    def after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("cost_params", {})
        name = model.name
        self.ledger.requests[f"dynamodb.{name}"] += 1
        if "Error" in parsed:
            return
        if name == "TransactWriteItems":
            writes = [a for a in params.get("TransactItems", []) if "ConditionCheck" not in a]
            if len(writes) == 1:
                self.ledger.above_floor.append(
                    "TransactWriteItems of one item: a conditional write would cost half the units"
                )
        if name in WRITES:
            for table, key, transactional, old in context.pop("cost_before", []):
                new = self._current(table, key)
                factor = 2 if transactional else 1
                units = write_units(max(item_size(old), item_size(new)))
                for hash_attr, range_attr in self._gsis(table):
                    in_old = bool(old) and hash_attr in old and (range_attr is None or range_attr in old)
                    in_new = bool(new) and hash_attr in new and (range_attr is None or range_attr in new)
                    moved = (
                        in_old
                        and in_new
                        and any(old.get(a) != new.get(a) for a in (hash_attr, range_attr) if a)
                    )
                    if in_old and (moved or not in_new):
                        units += write_units(item_size(old))  # the index entry deleted
                    if in_new and (moved or not in_old or old != new):
                        units += write_units(item_size(new))  # the index entry written
                if old is not None and old == new:
                    kind = (key.get("sk") or {}).get("S", "").split("#")[0]
                    self.ledger.above_floor.append(f"{name} rewrote a {kind or 'an'} item unchanged")
                self.ledger.units["dynamodb_wru"] += factor * units
            return
        consistent = params.get("ConsistentRead", False)
        if name == "GetItem":
            self._read([parsed.get("Item")], consistent)
        elif name == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                strong = params["RequestItems"][table].get("ConsistentRead", False)
                asked = len(params["RequestItems"][table]["Keys"])
                for item in items:
                    self._read([item], strong)
                self.ledger.units["dynamodb_rru"] += (asked - len(items)) * (1 if strong else 0.5)
        elif name == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.ledger.units["dynamodb_rru"] += 2 * max(
                    1, math.ceil(item_size(response.get("Item")) / 4096)
                )
        elif name in ("Query", "Scan"):
            items = parsed.get("Items", [])
            read = sum(item_size(i) for i in items)
            if parsed.get("Count"):
                read = read * parsed.get("ScannedCount", 0) / parsed["Count"]
            units = max(1, math.ceil(read / 4096))
            self.ledger.units["dynamodb_rru"] += units * (1 if consistent else 0.5)

    def _read(self, items: list[dict[str, Any] | None], consistent: bool) -> None:
        for item in items:
            units = max(1, math.ceil(item_size(item) / 4096))
            self.ledger.units["dynamodb_rru"] += units * (1 if consistent else 0.5)


class OtherMeter:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["cost_params"] = params

    def after(
        self, parsed: dict[str, Any], model: Any, event_name: str, context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get("cost_params", {})
        service = event_name.split(".")[1]
        self.ledger.requests[f"{service}.{model.name}"] += 1
        if service == "sqs":
            chunks = 1
            if model.name == "SendMessage":
                chunks = max(1, math.ceil(len(params.get("MessageBody", "").encode()) / 65536))
            self.ledger.units["sqs_request"] += chunks
        elif service in ("ses", "sesv2") and model.name.startswith("Send"):
            self.ledger.units["ses_email"] += 1
        elif service == "s3" and model.name in (
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "UploadPart",
        ):
            self.ledger.units["s3_put"] += 1
        elif service == "s3" and model.name in ("GetObject", "HeadObject"):
            self.ledger.units["s3_get"] += 1


# ---- the operations ---------------------------------------------------------------------------


class Cohort:
    def __init__(self, ledger: Ledger) -> None:
        from chalice.test import Client

        from app import app
        from devstack.pump import Pump

        self.ledger = ledger
        self.client = Client(app, stage_name="local")
        self.pump = Pump(app, RESOURCES, retry_delay=0)
        # The pollers' own requests are the event source mappings': priced per invocation below.
        for poller in [*self.pump.streams, *self.pump.queues, *self.pump.topics]:
            for name in ("_sqs", "_streams"):
                client = getattr(poller, name, None)
                if client is not None:
                    for event, handler in HOOKS:
                        client.meta.events.unregister(event, handler)
        self.pump.drain()
        self.key = ""
        self.lambda_ms: list[float] = []

    def call(self, method: str, path: str, body: Any = None, form: bool = False) -> Any:
        headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}
        headers.update(
            {"Authorization": f"Bearer {self.key}"} if self.key else {"X-Admin-Token": "local-admin"}
        )
        payload = urllib.parse.urlencode(body) if form else (json.dumps(body) if body is not None else None)
        started = time.perf_counter()
        reply = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
        self.lambda_ms.append((time.perf_counter() - started) * 1000)
        self.ledger.units["apigw_rest_request"] += 1
        if reply.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.body[:200]!r}")
        try:
            return json.loads(reply.body)
        except ValueError:
            return reply.body

    def drain(self, wait: float = 0.0) -> None:
        calls = self.pump.drain(wait=wait)
        bad = [c for c in calls if not c.ok]
        if bad:
            raise RuntimeError(f"handler failures: {[(c.handler, c.error) for c in bad]}")
        for call in calls:
            self.lambda_ms.append(call.ms)
            if call.kind == "sqs":  # the event source mapping: one receive, one delete batch
                self.ledger.units["sqs_request"] += 2
        self.ledger.requests["lambda.handler_invocations"] += len(calls)

    def measure(self, run: Any, per: int = 1) -> dict[str, float]:
        self.ledger.reset()
        self.lambda_ms.clear()
        run()
        units = {k: v / per for k, v in self.ledger.units.items()}
        units["lambda_request"] = len(self.lambda_ms) / per
        units["lambda_gb_second"] = (
            sum(math.ceil(ms) for ms in self.lambda_ms) / 1000 * LAMBDA_MB / 1024 / per
        )
        units["requests"] = {k: v / per for k, v in self.ledger.requests.items()}  # type: ignore[assignment]
        units["above_floor"] = list(self.ledger.above_floor)  # type: ignore[assignment]
        return units


def difference(more: dict[str, Any], less: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in more.items():
        if isinstance(value, int | float):
            out[key] = max(0.0, value - less.get(key, 0))
        elif isinstance(value, dict):
            out[key] = {k: max(0.0, v - less.get(key, {}).get(k, 0)) for k, v in value.items()}
        else:
            out[key] = value
    return out


def _links(message: Any) -> list[str]:
    from email import message_from_string, policy

    parsed = message_from_string(message.raw_data, policy=policy.default)
    text = ""
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            text += str(part.get_content())
    for header in ("List-Unsubscribe",):
        text += str(parsed.get(header, ""))
    return re.findall(r"https?://[^\s\"'<>]+", text)


def emails_sent() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


def run(import_rows: int) -> dict[str, dict[str, Any]]:
    import boto3
    from botocore import handlers

    ledger = Ledger()
    dynamo, other = DynamoMeter(ledger), OtherMeter(ledger)
    HOOKS.extend(
        [
            ("before-parameter-build.dynamodb", dynamo.before),
            ("after-call.dynamodb", dynamo.after),
            ("before-parameter-build.sqs", other.before),
            ("after-call.sqs", other.after),
            ("after-call.ses", other.after),
            ("after-call.sesv2", other.after),
            ("after-call.s3", other.after),
        ]
    )
    handlers.BUILTIN_HANDLERS.extend(HOOKS)
    boto3.client("ses").verify_domain_identity(Domain="cohort.local")
    cohort = Cohort(ledger)
    cohort.key = cohort.call("POST", "/api/v1/workspaces", {"name": "Cost", "plan": "PRO"})["apiKey"]
    cohort.call("POST", "/api/v1/senders", {"domain": "cohort.local"})
    forms = {}
    for emails in (1, 2):
        group = cohort.call("POST", "/api/v1/groups", {"name": f"Leads {emails}", "type": "DYNAMIC"})["id"]
        steps = [
            {
                "type": "email",
                "subject": f"Mail {n} {{{{firstName}}}}",
                "bodyText": f"Mail {n}: http://example.com/{n}",
                "bodyHtml": f'<p>Mail {n}: <a href="http://example.com/{n}">a link</a></p>',
            }
            for n in range(emails)
        ]
        campaign = {
            "name": f"Welcome {emails}",
            "fromEmail": "noreply@cohort.local",
            "includeGroupIds": [group],
        }
        campaign_id = cohort.call("POST", "/api/v1/campaigns", {**campaign, "steps": steps})["id"]
        cohort.call("POST", f"/api/v1/campaigns/{campaign_id}/launch", {})
        forms[emails] = cohort.call("POST", "/api/v1/forms", {"name": f"Join {emails}", "groupIds": [group]})[
            "id"
        ]
    cohort.drain()

    results: dict[str, dict[str, Any]] = {}
    person = {"firstName": "Ada", "lastName": "Lovelace", "company": "Analytical", "tags": ["a"]}
    created: list[str] = []

    def create() -> None:
        for i in range(10):
            created.append(
                cohort.call("POST", "/api/v1/contacts", {"email": f"c{i}@cost.example", **person})["id"]
            )
        cohort.drain()

    results["create contact"] = cohort.measure(create, per=10)

    def sync() -> None:
        for i in range(10):
            cohort.call("POST", "/api/v1/contacts/sync", {"email": f"c{i}@cost.example", "title": f"T{i}"})
        cohort.drain()

    results["sync (update)"] = cohort.measure(sync, per=10)

    def get() -> None:
        for contact in created:
            cohort.call("GET", f"/api/v1/contacts/{contact}")

    results["get contact"] = cohort.measure(get, per=10)
    results["list page (50)"] = cohort.measure(lambda: cohort.call("GET", "/api/v1/contacts?limit=50"))

    def join(emails: int) -> None:  # a form post: contact, dynamic group, enrollment, its emails
        for i in range(5):
            lead = {"email": f"j{emails}-{i}@cost.example", "firstName": "Jo"}
            cohort.call("POST", f"/f/{forms[emails]}", lead, form=True)
        cohort.drain(wait=2)

    before = len(emails_sent())
    results["join -> enrollment + 1st email"] = cohort.measure(lambda: join(1), per=5)
    two = cohort.measure(lambda: join(2), per=5)
    sent = emails_sent()[before:]
    assert len(sent) == 15, f"{len(sent)} emails sent for 5 + 5 joins of 1- and 2-email campaigns"
    results["each further email"] = difference(two, results["join -> enrollment + 1st email"])

    links = _links(sent[-1])
    opens = [link.split("/t/o/")[1] for link in links if "/t/o/" in link]
    clicks = [link.split("/t/c/")[1] for link in links if "/t/c/" in link]

    def visit(path: str, accept: str) -> None:
        started = time.perf_counter()
        cohort.client.http.get(path, headers={"Accept": accept})
        cohort.lambda_ms.append((time.perf_counter() - started) * 1000)
        cohort.ledger.units["apigw_rest_request"] += 1
        cohort.drain()

    def open_() -> None:
        visit(f"/t/o/{opens[0]}", "image/*")

    def click() -> None:
        visit(f"/t/c/{clicks[0]}", "text/html")

    results["open (pixel)"] = cohort.measure(open_) if opens else {}
    results["click"] = cohort.measure(click) if clicks else {}

    def import_rows_run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "rows.csv"
            with path.open("w", encoding="utf-8", newline="") as out:
                out.write("Email;Prénom;Nom;Société;Tags\r\n")
                for i in range(import_rows):
                    out.write(f"row{i}@cost.example;P{i};N{i};Société {i % 7};imported\r\n")
            created_import = cohort.call("POST", "/api/v1/imports", {"fileName": "rows.csv"})
            url = urllib.parse.urlparse(created_import["uploadUrl"])
            bucket, key = (
                url.path.lstrip("/").split("/", 1)
                if url.netloc.startswith("s3")
                else (
                    url.netloc.split(".")[0],
                    url.path.lstrip("/"),
                )
            )
            boto3.client("s3").put_object(
                Bucket=bucket, Key=urllib.parse.unquote(key), Body=path.read_bytes()
            )
            cohort.drain(wait=5)

    results["import row"] = cohort.measure(import_rows_run, per=import_rows)
    return results


def dollars(units: dict[str, Any]) -> float:
    return sum(PRICES[k] * v for k, v in units.items() if k in PRICES)


def report(results: dict[str, dict[str, Any]]) -> None:
    print(f"prices: us-east-1 on-demand, {PRICES_DATE}; Lambda {LAMBDA_MB} MB\n")
    print(
        f"{'operation':38} {'WRU':>6} {'RRU':>6} {'Lambda':>6} {'GB-ms':>7} {'SQS':>5} {'SES':>4} USD per 1M"
    )
    for name, units in results.items():
        if not units:
            print(f"{name:38} (not measured: no link found in the email)")
            continue
        print(
            f"{name:38} {units.get('dynamodb_wru', 0):>6.1f} {units.get('dynamodb_rru', 0):>6.1f} "
            f"{units.get('lambda_request', 0):>6.1f} {units.get('lambda_gb_second', 0) * 1000:>7.1f} "
            f"{units.get('sqs_request', 0):>5.1f} {units.get('ses_email', 0):>4.1f} "
            f"{dollars(units) * 1e6:>10.2f}"
        )
    print("\nrequests per operation:")
    for name, units in results.items():
        if units:
            shown = ", ".join(f"{k} {v:g}" for k, v in sorted(units["requests"].items()))
            print(f"  {name}: {shown}")
            for note in sorted(set(units["above_floor"]))[:5]:
                print(f"    above its floor: {note}")
    month = reference_month(results)
    print("\nreference month (100,000 contacts; 10,000 new a month, half by forms, half by imports;")
    print("3 running campaigns of 5 emails reaching the new contacts; 25 % opens, 5 % clicks):")
    for line, cost in month.items():
        print(f"  {line:48} ${cost:,.2f}")


def reference_month(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    join = results["join -> enrollment + 1st email"]
    email_each = dollars(results["each further email"])
    new_by_form, new_by_import = 5_000, 5_000
    emails = 10_000 * 3 * 5
    month = {
        "5,000 contacts joining by form (enrollment, 1st email)": new_by_form * dollars(join),
        "5,000 contacts by import": new_by_import * dollars(results["import row"]),
        "2 more enrollments of each new contact": 10_000 * 2 * dollars(join) * 0.5,
        "150,000 emails (3 campaigns x 5, new contacts)": emails * email_each,
        "37,500 opens": 0.25 * emails * dollars(results.get("open (pixel)") or {}),
        "7,500 clicks": 0.05 * emails * dollars(results.get("click") or {}),
        "storage: 100,000 contacts x 8 items x 0.5 KB, x 4 with GSIs": 100_000 * 8 * 0.5 * 4 / 1e6 * 0.25,
    }
    month["total"] = sum(month.values())
    return month


RESOURCES: Any = None
HOOKS: list[tuple[str, Any]] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-rows", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.moto_server import in_process

    global RESOURCES
    with in_process() as RESOURCES:
        results = run(args.import_rows)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
