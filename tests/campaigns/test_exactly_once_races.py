"""The exactly-once guards against a second writer that comes between a read and the write.

The duplicate-delivery tests elsewhere redeliver one message after the other: the second
writer's read already sees the first one's write, so the write's condition is never what
stops it. Here a competing writer runs to its end (or to just before its record) inside
botocore's `before-call` event of our writer's conditional write: our writer read before the
competitor wrote, and writes after it. Only the write's condition can then stop a second
enrollment or a second email:

- the enrollment's conditional put (`attribute_not_exists(pk)`, chalicelib/campaigns/enrollment.py);
- the re-enrollment guard (the put conditioned on the run and status that were read);
- the step claim (`attribute_not_exists(claimedAt)`, chalicelib/campaigns/step_runner.py `_claim`).

Each test fails with its condition removed (tried by hand: see the report of issue #18).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    enrollments,
    make_contacts,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
    workspace_of,
)
from tests.support.races import competitor_before

ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def overview(api: Api, campaign_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/campaigns/{campaign_id}/overview").json)


# ---- the enrollment's conditional put -----------------------------------------------------


@pytest.mark.parametrize("competitor_sent_first", [False, True], ids=["enrolled", "enrolled-and-sent"])
def test_two_launch_pages_enrolling_one_contact_at_once_enroll_and_send_once(
    api: Api, pump, competitor_sent_first: bool
) -> None:
    """Two jobs (a launch and an addToCampaign, or a page run twice at once) read the contact
    unenrolled; the competitor writes its enrollment (and, in the second case, its first
    email goes out) before our put: ours must fail, not overwrite it."""
    from chalicelib.campaigns import enrollment

    ws = workspace_of(api)
    customers = new_group(api, "Customers")
    campaign = running_campaign(api, [customers], steps=ONE_EMAIL)
    pump.drain()
    [contact] = make_contacts(api, 1)

    def writer() -> list[dict[str, str]]:
        return enrollment.enroll_contacts(ws, campaign, [contact], source="launch", via_group_id=customers)

    def competitor() -> None:
        assert writer() == []
        if competitor_sent_first:
            assert all(call.ok for call in pump.drain())

    with competitor_before(("PutItem",), f"ENROLL#{contact}", competitor) as state:
        assert writer() == []
    assert state["ran"]
    assert all(call.ok for call in pump.drain())

    [enrolled] = enrollments(api, campaign)
    assert enrolled["run"] == 1 and enrolled["status"] == "COMPLETED"
    assert [m.to for m in sent_emails()] == ["person0@example.com"]
    assert overview(api, campaign)["totals"]["enrolled"] == 1


# ---- the re-enrollment guard --------------------------------------------------------------


@pytest.mark.parametrize("competitor_sent_first", [False, True], ids=["enrolled", "enrolled-and-sent"])
def test_two_writers_reenrolling_one_rejoin_at_once_start_one_run(
    api: Api, pump, competitor_sent_first: bool
) -> None:
    """A contact whose run 1 ended rejoins a dynamic group (reenrollment afterExit); two
    deliveries of that join (a stream batch retried while the first is still running) both
    read run 1 ended: one writes run 2, the other must not write run 2 over it."""
    from chalicelib.campaigns import enrollment, step_messages
    from chalicelib.campaigns import stats as campaign_stats
    from chalicelib.platform import clock

    ws = workspace_of(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL, reenrollment="afterExit")
    pump.drain()
    [contact] = make_contacts(api, 1)
    add_members(api, leads, [contact])
    assert all(call.ok for call in pump.drain())
    assert enrollments(api, campaign)[0]["status"] == "COMPLETED"
    rejoined_at = clock.now_iso()

    def writer() -> int:
        """What the stream reaction does for the rejoin (chalicelib.campaigns.enrollment.on_membership)."""
        target = enrollment.Target(campaign, (), reenroll=True)
        outcome = enrollment.enroll(
            ws, [contact], [target], source="dynamicGroup", via_group_id=leads, joined_at=rejoined_at
        )
        campaign_stats.add_enrolled(ws, campaign, leads, len(outcome.created))
        step_messages.start(outcome.to_start)
        return len(outcome.created)

    created: list[int] = []

    def competitor() -> None:
        created.append(writer())
        if competitor_sent_first:
            assert all(call.ok for call in pump.drain())

    with competitor_before(("PutItem",), f"ENROLL#{contact}", competitor) as state:
        created.append(writer())
    assert state["ran"]
    assert all(call.ok for call in pump.drain())

    assert sorted(created) == [0, 1]
    [enrolled] = enrollments(api, campaign)
    assert enrolled["run"] == 2 and enrolled["status"] == "COMPLETED"
    assert len(sent_emails()) == 2  # run 1, run 2
    assert overview(api, campaign)["totals"]["enrolled"] == 2


# ---- the step claim -------------------------------------------------------------------------


def test_two_deliveries_of_one_step_at_once_send_one_email(api: Api, pump) -> None:
    """Two deliveries of one step message run side by side: both read the enrollment
    unclaimed; the competitor claims and sends, and is about to record the step when ours
    tries to claim it. Our claim must fail: it is the only thing that stops a second send."""
    from chalicelib.campaigns import enrollment, step_messages, step_runner

    ws = workspace_of(api)
    customers = new_group(api, "Customers")
    campaign = running_campaign(api, [customers], steps=ONE_EMAIL)
    pump.drain()
    [contact] = make_contacts(api, 1)
    outcome = enrollment.enroll(
        ws, [contact], [enrollment.Target(campaign)], source="manual", via_group_id=customers
    )
    [created] = outcome.created
    ref = step_messages.StepRef.start_of(created)

    pending: list[tuple[Any, ...]] = []
    competing = step_runner.StepRunner()
    competing.record = lambda *args: bool(pending.append(args)) or True  # records later

    with competitor_before(("UpdateItem",), "claimedAt", lambda: competing.run(ref)) as state:
        step_runner.StepRunner().run(ref)
    assert state["ran"]
    assert [m.to for m in sent_emails()] == ["person0@example.com"]
    assert len(pending) == 1
    assert step_runner.record_sent(*pending[0])  # the competitor records its step last
    assert all(call.ok for call in pump.drain())

    assert [m.to for m in sent_emails()] == ["person0@example.com"]
    [enrolled] = enrollments(api, campaign)
    assert (enrolled["status"], enrolled["emailsSent"]) == ("COMPLETED", 1)
