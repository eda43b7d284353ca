"""Rule groups end to end on the local stack (`python -m devstack` in a subprocess, one for the
file): a contact updated through the API joins a DYNAMIC rule group and gets the linked running
campaign's first email, and leaves when changed back; a `withinLast` rule drops a contact when
its time passes, the stack's clock moved forward by the test (devstack/clock.py)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.clock import OFFSET_FILE_VARIABLE
from tests.support import stack as stack_support
from tests.support.campaigns import SENDER
from tests.support.stack import Stack, ses_messages, stop

WAIT_SECONDS = 20  # generous: the machine is shared; speed is measured in bench/, not here
ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]


class Client(stack_support.Client):
    def members(self, group: str) -> list[str]:
        found: list[str] = []
        cursor = ""
        while True:
            page = self.get(f"/api/v1/groups/{group}/members" + (f"?cursor={cursor}" if cursor else ""))
            found.extend(item["id"] for item in page["items"])
            cursor = page.get("nextCursor") or ""
            if not cursor:
                return found


class Clock:
    """The stack's clock offset: the file devstack/clock.py reads."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="devstack-clock-")) / "offset"
        self.path.write_text("0")

    def move_to(self, stack: Stack, seconds: int) -> None:
        """Move the stack's clock `seconds` ahead of real time; returns once the stack read it
        and then ran its every-minute schedule (`due_steps`) on the moved clock."""
        self.path.write_text(str(seconds))
        stack.wait_line(rf"devstack: clock +moved to {seconds} s ahead", WAIT_SECONDS)
        stack.wait_line(r"\[schedule\] due_steps ", WAIT_SECONDS)


class Running:
    def __init__(self, stack: Stack, clock: Clock, api: Client) -> None:
        self.stack, self.clock, self.api = stack, clock, api

    def emails_to(self, address: str) -> list[str]:
        """Subjects of the emails moto's SES kept for `address`, in the order sent."""
        return [str(m["Subject"]) for m in ses_messages(self.stack) if str(m["To"]) == address]

    def wait_for(self, check: Callable[[], bool], what: str) -> None:
        started = time.monotonic()
        while time.monotonic() - started < WAIT_SECONDS:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {WAIT_SECONDS} s\n" + "\n".join(self.stack.output[-40:]))

    def rule_group(self, name: str, rules: dict[str, Any]) -> str:
        group = self.api.post("/api/v1/groups", {"name": name, "type": "DYNAMIC", "rules": rules})["id"]
        self.wait_for(
            lambda: self.api.get(f"/api/v1/groups/{group}")["membershipStatus"] == "READY", f"{name} built"
        )
        return str(group)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    """One stack for the file, its clock movable, a workspace with a verified sender."""
    clock = Clock()
    stack = Stack(env={OFFSET_FILE_VARIABLE: str(clock.path)})
    try:
        stack.wait_healthy()
        token = stack.wait_line(r"X-Admin-Token: (\S+)", 5).group(1)
        created = Client(stack).call(
            "POST", "/api/v1/workspaces", {"name": "Acme", "plan": "PRO"}, {"X-Admin-Token": token}
        )
        api = Client(stack, created["apiKey"])
        api.post("/api/v1/senders", {"email": SENDER})  # verified at once by moto
        yield Running(stack, clock, api)
    finally:
        stop(stack)


@pytest.mark.e2e
def test_a_contact_updated_joins_a_rule_group_gets_its_campaign_then_leaves(running: Running) -> None:
    api = running.api
    # GIVEN a DYNAMIC rule group "tagged vip AND plan is Pro", with a running one-email campaign
    api.post("/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"})
    rules = {
        "all": [
            {"field": "tags", "op": "has", "value": "vip"},
            {"field": "customFields.plan", "op": "eq", "value": "Pro"},
        ]
    }
    group = running.rule_group("Pro VIPs", rules)
    campaign = api.post(
        "/api/v1/campaigns",
        {"name": "VIP welcome", "fromEmail": SENDER, "steps": ONE_EMAIL, "includeGroupIds": [group]},
    )["id"]
    assert api.post(f"/api/v1/campaigns/{campaign}/launch")["status"] == "RUNNING"
    ada = api.post("/api/v1/contacts", {"email": "ada@example.com", "firstName": "Ada"})["id"]
    # WHEN she is updated: the custom field set and the tag added
    api.patch(f"/api/v1/contacts/{ada}", {"customFields": {"plan": "Pro"}, "tags": ["vip"]})
    # THEN she joins the group and gets the campaign's first email
    running.wait_for(lambda: api.members(group) == [ada], "the join")
    running.wait_for(lambda: running.emails_to("ada@example.com") == ["Welcome Ada"], "the first email")
    # WHEN the tag is taken off again
    api.patch(f"/api/v1/contacts/{ada}", {"tags": []})
    # THEN she leaves the group, and no other email was sent
    running.wait_for(lambda: api.members(group) == [], "the leave")
    assert running.emails_to("ada@example.com") == ["Welcome Ada"]


@pytest.mark.e2e
def test_a_within_last_rule_drops_a_contact_when_its_time_passes(running: Running) -> None:
    api = running.api
    # GIVEN a DYNAMIC rule group "created within the last hour" (built with the contacts of
    # the test before, if it ran), and a contact created now
    new_this_hour = {"field": "createdAt", "op": "withinLast", "value": {"hours": 1}}
    group = running.rule_group("New this hour", new_this_hour)
    bob = api.post("/api/v1/contacts", {"email": "bob@example.com"})["id"]
    running.wait_for(lambda: bob in api.members(group), "the join")
    # WHEN 50 minutes pass (the every-minute schedule runs on the moved clock), he is still in
    running.clock.move_to(running.stack, 50 * 60)
    assert bob in api.members(group)
    # WHEN 2 hours have passed
    running.clock.move_to(running.stack, 2 * 3600)
    # THEN the timer of her crossing is released and she leaves, with no change of hers
    running.wait_for(lambda: api.members(group) == [], "the leave")
