"""`python -m devstack` (what `make run` runs), as a developer uses it: HTTP in, handlers run.

The stack is a subprocess on free ports; its stdout is read line by line in a thread. The
test writes through the API and watches for the lines the stack prints per invocation.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    def __init__(self) -> None:
        self.moto_port, self.port = free_port(), free_port()
        env = {
            **os.environ,
            "MOTO_PORT": str(self.moto_port),
            "PORT": str(self.port),
            # What the stack gives by default; explicit, as an earlier test may have left the
            # local stage's value (port 8000) in this process's environment.
            "COHORT_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            self.lines.put(line.rstrip())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "\n".join(self.output)
            try:
                with urllib.request.urlopen(self.url("/api/v1/health"), timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("no health answer:\n" + "\n".join(self.output))

    def wait_line(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line {pattern!r} within {seconds} s:\n" + "\n".join(self.output))

    def post(self, path: str, body: object, headers: dict[str, str]) -> dict:
        request = urllib.request.Request(
            self.url(path),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)


@pytest.fixture
def stack() -> Iterator[Stack]:
    running = Stack()
    yield running
    if running.process.poll() is None:  # the test failed before stopping it
        running.process.kill()
        running.process.wait()


@pytest.mark.e2e
def test_the_local_stack_serves_the_api_and_runs_the_event_handlers(stack: Stack) -> None:
    stack.wait_healthy()
    token = stack.wait_line(r"X-Admin-Token: (\S+)", 5).group(1)

    created = stack.post("/api/v1/workspaces", {"name": "Acme"}, {"X-Admin-Token": token})
    assert created["apiKey"].startswith("ck_")
    # The workspace's items reach the stream handler within 2 s (batching window: 1 s).
    stack.wait_line(r"\[stream\] table_changes records=[1-9]\d* failures=0", 2)

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
    stack.wait_line(r"\[sqs\] workflow_steps records=1 failures=1", 5)
    stack.wait_line(r"\[sqs\] workflow_steps records=1 failures=1", 5)

    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=15) == 0
    assert "devstack: stopped" in stack.output
