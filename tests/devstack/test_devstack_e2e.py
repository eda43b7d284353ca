"""`python -m devstack` (what `make run` runs), as a developer uses it: HTTP in, handlers run.

The stack is a subprocess on free ports; its stdout is read line by line in a thread. The
test writes through the API and watches for the lines the stack prints per invocation.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import boto3
import pytest

from tests.support.stack import Stack, stack

__all__ = ["stack"]  # the fixture, re-exported: the tests below ask for it by name

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30
HANDLER_SECONDS = 20


@pytest.mark.e2e
def test_the_local_stack_serves_the_api_and_runs_the_event_handlers(stack: Stack) -> None:
    stack.wait_healthy()
    token = stack.wait_line(r"X-Admin-Token: (\S+)", 5).group(1)

    created = stack.post("/api/v1/workspaces", {"name": "Acme"}, {"X-Admin-Token": token})
    assert created["apiKey"].startswith("ck_")
    # The workspace's items reach the stream handler (how soon is bench/enrollment.py's to
    # measure: a loaded machine must not fail this).
    stack.wait_line(r"\[stream\] table_changes records=[1-9]\d* failures=0", HANDLER_SECONDS)

    # Any AWS tool can look inside; a message on a queue reaches its handler. No handler knows
    # this kind, so it fails and comes back (ApproximateReceiveCount 2) a second later.
    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = sqs.get_queue_url(QueueName="cohort-steps")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "devstack-e2e-unknown"}))
    stack.wait_line(r"\[sqs\] workflow_steps records=1 failures=1", HANDLER_SECONDS)
    stack.wait_line(r"\[sqs\] workflow_steps records=1 failures=1", HANDLER_SECONDS)

    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=15) == 0
    assert "devstack: stopped" in stack.output
