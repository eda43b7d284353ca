"""`make package`: the SAM template for AWS, written to build/sam.json (+ build/deployment.zip).

`chalice package` knows the functions, the API and the event sources but not the table, the
queues, the secrets or how a batch may fail; infra/resources.json knows the rest. This module
builds the `--merge-template` from both: the resources, Parameters and Globals of
resources.json, and overrides for every event source of `app` so that a bad record is
reported alone (ReportBatchItemFailures) instead of blocking a shard or failing a batch.

Chalice's logical ids (checked against chalice 1.34's output): a handler `table_changes` is
the function `TableChanges`, its event `TableChangesDynamodbEventSource` (SQS:
`...SqsEventSource`); the REST API is `RestAPI`, the API function `APIHandler`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import marshal
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
MERGE_TEMPLATE = BUILD / "merge-template.json"
STAGE = "dev"

# Retries of a failing stream batch before Lambda skips it and sends its description (shard,
# sequence numbers) to StreamFailureQueue. Bounded so a poison record cannot hold its shard
# for the stream's whole 24 h; bisecting isolates it first (AWS does not count splits as
# retries). devstack uses this number too, so the local poller retries like Lambda.
STREAM_MAX_RETRIES = 5

TABLE = "CohortTable"
STREAM_FAILURE_QUEUE = "StreamFailureQueue"
REST_API = "RestAPI"

_BATCH_FAILURES = ["ReportBatchItemFailures"]

# API Gateway's own errors (no route, throttling, its 5xx) in the app's error shape. Known
# causes get a fixed message (API Gateway says "Missing Authentication Token" for an unknown
# path, which misleads); the catch-alls pass API Gateway's message on. A None status keeps
# the one API Gateway chose.
_GATEWAY_MESSAGE = "$context.error.messageString"  # substituted already JSON-quoted
_GATEWAY_ERRORS: dict[str, tuple[int | None, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "No such route"),
    "RESOURCE_NOT_FOUND": (404, "not_found", "No such route"),
    "ACCESS_DENIED": (403, "forbidden", "Access denied"),
    "WAF_FILTERED": (403, "forbidden", "Access denied"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "The request body is too large"),
    "THROTTLED": (429, "rate_limited", "Too many requests"),
    "QUOTA_EXCEEDED": (429, "rate_limited", "Too many requests"),
    "DEFAULT_4XX": (None, "invalid_request", _GATEWAY_MESSAGE),
    "DEFAULT_5XX": (None, "internal_error", _GATEWAY_MESSAGE),
}


def load_resources() -> dict[str, Any]:
    return json.loads((ROOT / "infra" / "resources.json").read_text())


def cfn_name(name: str) -> str:
    """Chalice's own naming (`table_changes-sqs-event-source` → `TableChangesSqsEventSource`)."""
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name(name)


def event_source_overrides(event_sources: list[Any], resources: dict[str, Any]) -> dict[str, Any]:
    """Resources entries that merge into Chalice's functions: one per stream or queue handler."""
    queues = {
        props["Properties"]["QueueName"]: logical_id
        for logical_id, props in resources.items()
        if props["Type"] == "AWS::SQS::Queue"
    }
    overrides: dict[str, Any] = {}
    for source in event_sources:
        kind = type(source).__name__
        if kind == "DynamoDBEventConfig":
            event = f"{source.name}-dynamodb-event-source"
            properties = _stream_event()
        elif kind == "SQSEventConfig":
            event = f"{source.name}-sqs-event-source"
            properties = _queue_event(source, queues)
        elif kind == "KinesisEventConfig":
            raise ValueError(f"{source.name}: Kinesis has no failure handling in infra/package.py")
        else:
            continue  # schedules, SNS, S3: no batches to fail partially
        overrides[cfn_name(source.name)] = {
            "Properties": {"Events": {cfn_name(event): {"Properties": properties}}}
        }
    return overrides


def _stream_event() -> dict[str, Any]:
    # The decorator's ARN is a placeholder (app.py); the table's real stream replaces it.
    return {
        "Stream": {"Fn::GetAtt": [TABLE, "StreamArn"]},
        "FunctionResponseTypes": _BATCH_FAILURES,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": STREAM_MAX_RETRIES,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [STREAM_FAILURE_QUEUE, "Arn"]}}},
    }


def _queue_event(source: Any, queues: dict[str, str]) -> dict[str, Any]:
    name = source.queue or source.queue_arn.rsplit(":", 1)[-1]
    if name not in queues:
        raise ValueError(f"{source.name}: queue {name!r} is not defined in infra/resources.json")
    # Chalice writes Queue as {"Fn::Sub": "arn:...:<name>"} and the merge is deep: replacing the
    # Fn::Sub string keeps one intrinsic (a Fn::GetAtt key would sit beside it, invalid) and
    # makes the mapping depend on the queue resource, so CloudFormation creates the queue first.
    # Retries are the queue's maxReceiveCount, then its dead-letter queue.
    return {
        "Queue": {"Fn::Sub": "${" + queues[name] + ".Arn}"},
        "FunctionResponseTypes": _BATCH_FAILURES,
    }


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses` for the API's swagger.

    In the definition body rather than AWS::ApiGateway::GatewayResponse resources: SAM's
    deployment hashes the body, so the responses are in the stage from the first deploy on;
    separate resources race the deployment and take effect only at the next one.
    """
    responses: dict[str, Any] = {}
    for response_type, (status, code, message) in _GATEWAY_ERRORS.items():
        error = {"code": code, "message": message, "details": []}
        body = json.dumps({"error": error}, separators=(",", ":"))
        if message == _GATEWAY_MESSAGE:  # a variable, not a string: unquote it
            body = body.replace(json.dumps(message), message)
        response: dict[str, Any] = {
            "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
            "responseTemplates": {"application/json": body},
        }
        if status is not None:
            response["statusCode"] = str(status)
        responses[response_type] = response
    return responses


# Stage throttling (requests per second, and the burst above it), answered 429 rate_limited
# by the gateway responses above before a Lambda runs. The public form post gets its own,
# lower limit: a spam wave on a form must not take the API's whole allowance.
THROTTLING_PARAMETERS = {
    "ApiRateLimit": (500, "Requests per second the API accepts in all (stage throttling)"),
    "ApiBurstLimit": (1000, "Requests the API accepts at once above its rate"),
    "FormPostRateLimit": (20, "POST /f/{formId} per second, all forms together"),
    "FormPostBurstLimit": (50, "POST /f/{formId} at once above its rate"),
}


def method_settings() -> list[dict[str, Any]]:
    """The stage's MethodSettings: the whole API, then the public form post (API Gateway
    writes a path's slashes as ~1)."""
    return [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
        },
        {
            "ResourcePath": "/~1f~1{formId}",
            "HttpMethod": "POST",
            "ThrottlingRateLimit": {"Ref": "FormPostRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "FormPostBurstLimit"},
        },
    ]


def merge_template(event_sources: list[Any] | None = None) -> dict[str, Any]:
    """The `--merge-template` document; `event_sources` defaults to those of `app`."""
    if event_sources is None:
        event_sources = importlib.import_module("app").app.event_sources
    infra = load_resources()
    resources = dict(infra["Resources"])
    resources.update(event_source_overrides(event_sources, infra["Resources"]))
    resources[REST_API] = {
        "Properties": {
            "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()},
            "MethodSettings": method_settings(),
        }
    }
    throttling = {
        name: {"Type": "Number", "Default": default, "MinValue": 1, "Description": description}
        for name, (default, description) in THROTTLING_PARAMETERS.items()
    }
    return {
        "Description": "Cohort backend: Chalice functions and API with infra/resources.json",
        "Parameters": {**infra["Parameters"], **throttling},
        "Globals": infra["Globals"],
        "Resources": resources,
    }


def package(out: Path = BUILD) -> Path:
    """Run `chalice package --merge-template`; returns the SAM template's path."""
    out.mkdir(parents=True, exist_ok=True)
    MERGE_TEMPLATE.write_text(json.dumps(merge_template(), indent=2) + "\n")
    chalice = Path(sys.executable).with_name("chalice")
    # Chalice caches the dependencies' zip under .chalice/deployments (keyed by
    # requirements.txt), so only the first run downloads Lambda wheels from PyPI.
    subprocess.run(
        [
            str(chalice),
            "--project-dir",
            str(ROOT),
            "package",
            "--stage",
            STAGE,
            "--merge-template",
            str(MERGE_TEMPLATE),
            str(out),
        ],
        check=True,
        cwd=ROOT,
        env=_chalice_env(),
    )
    template = out / "sam.json"
    add_bytecode(out / "deployment.zip", _runtime(template))
    return template


def _runtime(template: Path) -> str:
    functions = json.loads(template.read_text())["Resources"].values()
    (runtime,) = {f["Properties"]["Runtime"] for f in functions if f["Type"] == "AWS::Serverless::Function"}
    return runtime


def add_bytecode(archive: Path, runtime: str) -> int:
    """Add a .pyc beside every .py of the Lambda zip; returns how many.

    Chalice's zip holds sources only and /var/task is read-only, so without this every cold
    start compiles each imported module again (measured: `import app` 550 ms instead of
    180 ms). The .pyc are unchecked-hash (PEP 552): valid whatever the files' mtimes in the
    zip, never compared with the source. Skipped unless this Python is the runtime's, as the
    bytecode format changes between minor versions.
    """
    if runtime != f"python{sys.version_info.major}.{sys.version_info.minor}":
        print(f"not adding bytecode: this is not {runtime}", file=sys.stderr)
        return 0
    unchecked_hash = (0b01).to_bytes(4, "little")
    added = 0
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        names = set(zf.namelist())
        for name in sorted(n for n in names if n.endswith(".py")):
            target = importlib.util.cache_from_source(name)
            if target in names:
                continue
            source = zf.read(name)
            try:
                code = compile(source, name, "exec", dont_inherit=True)
            except SyntaxError:  # templates or py2 files shipped as data: never imported
                continue
            header = importlib.util.MAGIC_NUMBER + unchecked_hash + importlib.util.source_hash(source)
            info = zipfile.ZipInfo(target, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, header + marshal.dumps(code))
            added += 1
    return added


def _chalice_env() -> dict[str, str]:
    # Chalice asks for a region even to package, but the template only says ${AWS::Region}:
    # any region gives the same output, so a machine without AWS config can run this.
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def main() -> int:
    started = time.perf_counter()
    template = package()
    print(f"wrote {template.relative_to(ROOT)} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
