"""The local stack (`python -m devstack`) in a subprocess on free ports, for the e2e tests: its
stdout is read line by line in a thread, and tests wait for the lines it prints."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """`state_dir`: where the stack keeps its state (a new temporary folder by default: a test
    never reads the project's .devstack/). `ports`: (moto, http), free ones by default. `env`:
    more variables for the stack (e.g. DEVSTACK_CLOCK_OFFSET_FILE, devstack/clock.py)."""

    def __init__(
        self,
        state_dir: Path | None = None,
        ports: tuple[int, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.moto_port, self.port = ports or (free_port(), free_port())
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="devstack-state-"))
        env = {
            **os.environ,
            "MOTO_PORT": str(self.moto_port),
            "PORT": str(self.port),
            # What the stack gives by default; explicit, as an earlier test may have left the
            # local stage's value (port 8000) in this process's environment.
            "COHORT_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "PYTHONUNBUFFERED": "1",
            "DEVSTACK_STATE_DIR": str(self.state_dir),
            **(env or {}),
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
        try:
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                self.lines.put(line.rstrip())
        except (OSError, ValueError):
            return  # the pipe was closed by a test stopping the stack: nothing more to read

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


class Client:
    """The stack's HTTP API as a client's script reaches it: JSON in and out, the API key as
    a Bearer token; an error answer fails the test with its status and body."""

    def __init__(self, stack: Stack, key: str | None = None, timeout: float = 10) -> None:
        self.stack, self.key, self.timeout = stack, key, timeout

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if self.key:
            sent["Authorization"] = f"Bearer {self.key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.stack.url(path), data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                text = reply.read()
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from None
        return json.loads(text) if text else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)


def ses_raw(stack: Stack) -> list[dict[str, Any]]:
    """Every email moto's SES kept (its raw records), in the order sent."""
    url = f"http://127.0.0.1:{stack.moto_port}/moto-api/data.json"
    with urllib.request.urlopen(url, timeout=5) as reply:
        return list(json.load(reply).get("ses", {}).get("RawMessage", []))


def ses_messages(stack: Stack) -> list[EmailMessage]:
    """Every email moto's SES kept, parsed, in the order sent."""
    return [message_from_string(m["raw_data"], policy=policy.default) for m in ses_raw(stack)]


def stop(running: Stack) -> None:
    if running.process.poll() is None:  # the test failed before stopping it
        running.process.kill()
        running.process.wait()


@pytest.fixture
def stack() -> Iterator[Stack]:
    running = Stack()
    yield running
    stop(running)
