"""The local stack keeps its state across a restart (devstack/persist.py): a campaign waiting
between two emails when the stack stops sends its second email after the restart, once."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.stack import Stack


def _emails(stack: Stack) -> list[str]:
    url = f"http://127.0.0.1:{stack.moto_port}/moto-api/data.json"
    with urllib.request.urlopen(url, timeout=5) as reply:
        ses = json.load(reply)["ses"]
    subjects = []
    for message in ses.get("RawMessage", []):
        header = next(line for line in message["raw_data"].splitlines() if line.startswith("Subject: "))
        subjects.append(header.removeprefix("Subject: "))
    return subjects


def _wait_emails(stack: Stack, count: int, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(found := _emails(stack)) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{count} emails expected, {_emails(stack)} sent:\n" + "\n".join(stack.output))


def _call(stack: Stack, method: str, path: str, body: object, key: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    headers.update({"Authorization": f"Bearer {key}"} if key else {"X-Admin-Token": "local-admin"})
    request = urllib.request.Request(
        stack.url(f"/api/v1{path}"), data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=15) as reply:
        return json.load(reply) if reply.status != 204 else {}


@pytest.mark.e2e
def test_a_campaign_in_its_wait_goes_on_after_a_restart_no_email_lost_none_twice(tmp_path: Path) -> None:
    first = Stack(state_dir=tmp_path)
    try:
        first.wait_healthy()
        key = _call(first, "POST", "/workspaces", {"name": "Acme", "plan": "PRO"})["apiKey"]
        _call(first, "POST", "/senders", {"email": "noreply@cohort.local"}, key)
        group = _call(first, "POST", "/groups", {"name": "Leads", "type": "DYNAMIC"}, key)["id"]
        steps = [
            {"type": "email", "subject": "One {{firstName}}", "bodyText": "first"},
            {"type": "wait", "minutes": 1},
            {"type": "email", "subject": "Two {{firstName}}", "bodyText": "second"},
        ]
        campaign = {"name": "Welcome", "fromEmail": "noreply@cohort.local", "includeGroupIds": [group]}
        campaign_id = _call(first, "POST", "/campaigns", {**campaign, "steps": steps}, key)["id"]
        _call(first, "POST", f"/campaigns/{campaign_id}/launch", {}, key)
        form = _call(first, "POST", "/forms", {"name": "News", "groupIds": [group]}, key)["id"]
        data = b"email=ada%40example.com&firstName=Ada"
        post = urllib.request.Request(first.url(f"/f/{form}"), data=data, method="POST")
        urllib.request.urlopen(post, timeout=15).close()
        assert _wait_emails(first, 1, 30) == ["One Ada"]
        first.process.send_signal(signal.SIGINT)  # mid-campaign: the second email is a minute away
        assert first.process.wait(timeout=30) == 0, "\n".join(first.output)
    finally:
        if first.process.poll() is None:
            first.process.kill()

    second = Stack(state_dir=tmp_path, ports=(first.moto_port, first.port))
    try:
        second.wait_healthy()
        assert any("restored" in line for line in second.output)
        assert _emails(second) == ["One Ada"]  # SES's state came back too
        assert _wait_emails(second, 2, 150) == ["One Ada", "Two Ada"]
        time.sleep(5)
        assert _emails(second) == ["One Ada", "Two Ada"]  # none sent twice
        second.process.send_signal(signal.SIGINT)
        assert second.process.wait(timeout=30) == 0
    finally:
        if second.process.poll() is None:
            second.process.kill()


@pytest.mark.e2e
def test_a_kill_9_loses_at_most_the_last_seconds(tmp_path: Path) -> None:
    first = Stack(state_dir=tmp_path)
    try:
        first.wait_healthy()
        key = _call(first, "POST", "/workspaces", {"name": "Kept", "plan": "PRO"})["apiKey"]
        group = _call(first, "POST", "/groups", {"name": "Kept group", "type": "STATIC"}, key)["id"]
        time.sleep(2)  # two intervals of the state's log (1 s)
        first.process.kill()  # SIGKILL: no clean stop, no last save
        first.process.wait(timeout=10)
    finally:
        if first.process.poll() is None:
            first.process.kill()
    second = Stack(state_dir=tmp_path, ports=(first.moto_port, first.port))
    try:
        second.wait_healthy()
        request = urllib.request.Request(
            second.url(f"/api/v1/groups/{group}"), headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=15) as reply:
            assert json.load(reply)["name"] == "Kept group"
        second.process.send_signal(signal.SIGINT)
        assert second.process.wait(timeout=30) == 0
    finally:
        if second.process.poll() is None:
            second.process.kill()
