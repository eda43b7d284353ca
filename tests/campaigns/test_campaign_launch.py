"""Launch and addToCampaign: every current eligible member of the included groups (minus the
excluded ones) is enrolled in the background, in pages through the jobs queue, exactly once
even when a page is interrupted and delivered again."""

from __future__ import annotations

import pytest

from chalicelib.contacts import status as contact_status
from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    dynamodb_fault,
    enrollments,
    fault,
    launch,
    make_contacts,
    new_campaign,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
    workspace_of,
)

STEP_ZERO = '\\"step\\":0'  # a first-step message, as it looks inside SendMessageBatch's JSON
ONE_EMAIL = [{"type": "email", "subject": "Hello {{firstName}}", "bodyText": "Hi"}]


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def test_launch_enrolls_the_current_members_in_the_background(api: Api, pump) -> None:

    ws = workspace_of(api)
    static, dynamic, excluded = (
        new_group(api, "Customers"),
        new_group(api, "Leads", "DYNAMIC"),
        new_group(api, "VIP"),
    )
    people = make_contacts(api, 6)
    contact_status.raise_status(ws, people[1], "UNSUBSCRIBED", "test")
    add_members(api, static, people[:4])  # 0..3
    add_members(api, dynamic, people[3:])  # 3..5: person3 is in both
    add_members(api, excluded, [people[2]])
    pump.drain()
    campaign = new_campaign(api, [static, dynamic], [excluded], steps=ONE_EMAIL)["id"]
    launch(api, campaign)
    assert enrollments(api, campaign) == []  # nothing yet: it happens in the background
    assert all(call.ok for call in pump.drain())

    found = {e["contactId"]: e for e in enrollments(api, campaign)}
    assert set(found) == {people[0], people[3], people[4], people[5]}
    assert {e["source"] for e in found.values()} == {"launch"}
    assert found[people[0]]["viaGroupId"] == static
    assert found[people[4]]["viaGroupId"] == dynamic
    assert sorted(m.to for m in sent_emails()) == [f"person{i}@example.com" for i in (0, 3, 4, 5)]
    overview = api.get(f"/api/v1/campaigns/{campaign}/overview").json
    assert overview["totals"]["enrolled"] == 4
    assert overview["totals"]["sent"] == 4
    groups = {g["groupId"]: g for g in overview["groups"]}
    assert (groups[static]["dynamic"], groups[dynamic]["dynamic"]) == (False, True)
    assert groups[static]["contacts"] + groups[dynamic]["contacts"] == 4
    assert set(groups) == {static, dynamic}  # excluded groups have no figures


def test_add_to_campaign_enrolls_one_group_and_reports_who_was_not(api: Api, pump) -> None:

    ws = workspace_of(api)
    leads, extra, vip = (
        new_group(api, "Leads", "DYNAMIC"),
        new_group(api, "Fair visitors"),
        new_group(api, "VIP"),
    )
    campaign = running_campaign(api, [leads], [vip], steps=ONE_EMAIL)
    people = make_contacts(api, 5)
    contact_status.raise_status(ws, people[2], "BOUNCED", "test")
    add_members(api, extra, people)
    add_members(api, vip, people[3:4])
    assert api.post("/api/v1/exclusions", {"value": "person4@example.com"}).status == 201
    pump.drain()
    reply = api.post(f"/api/v1/groups/{extra}/actions", {"action": "addToCampaign", "campaignId": campaign})
    assert reply.status == 202, reply.json
    assert all(call.ok for call in pump.drain())
    job = api.get(f"/api/v1/jobs/{reply.json['jobId']}").json
    assert (job["status"], job["processed"]) == ("COMPLETED", 5)
    assert sorted(job["errors"], key=lambda e: e["reason"]) == [
        {"contactId": people[2], "reason": "bounced"},  # its status, as a stopReason says it
        {"contactId": people[3], "reason": "excluded"},
        {"contactId": people[4], "reason": "excludedAddress"},
    ]
    found = {e["contactId"]: e for e in enrollments(api, campaign)}
    assert set(found) == set(people[:2])
    assert {(e["source"], e["viaGroupId"]) for e in found.values()} == {("manual", extra)}
    overview = api.get(f"/api/v1/campaigns/{campaign}/overview").json
    assert {g["groupId"]: g["included"] for g in overview["groups"]} == {leads: True, extra: False}


def test_add_to_a_campaign_that_is_not_running_is_409(api: Api) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    draft = new_campaign(api, [group])["id"]
    # WHEN
    reply = api.post(f"/api/v1/groups/{group}/actions", {"action": "addToCampaign", "campaignId": draft})
    # THEN
    assert (reply.status, reply.error_code) == (409, "conflict")


def test_enroll_group_refuses_a_campaign_that_is_not_running(api: Api) -> None:
    from chalicelib.campaigns import launch as campaign_launch
    from chalicelib.platform.errors import Conflict, NotFound

    ws = workspace_of(api)
    group = new_group(api, "Leads")
    draft = new_campaign(api, [group])["id"]
    with pytest.raises(Conflict):
        campaign_launch.enroll_group(ws, draft, group)
    running = running_campaign(api, [group])
    with pytest.raises(NotFound):
        campaign_launch.enroll_group(ws, running, "01M80000000000000000000000")
    with pytest.raises(NotFound):
        campaign_launch.enroll_group(ws, "01M80000000000000000000000", group)
    assert campaign_launch.enroll_group(ws, running, group)


def test_an_interrupted_launch_enrolls_every_member_exactly_once(api: Api, pump, fake_clock) -> None:
    """150 members in two pages (100 + 50; 5,000 members are 50 such pages: the same design).
    The first page fails after everything but recording the job's progress; the second fails
    after its enrollments were written, while their first steps were being sent. Each is
    delivered again."""
    from chalicelib.platform import queues

    members = 150
    group = new_group(api, "Everyone")
    people = make_contacts(api, members)
    add_members(api, group, people)
    pump.drain()
    campaign = new_campaign(api, [group], steps=ONE_EMAIL)["id"]
    launch(api, campaign)
    with (
        fault(queues._client(), "SendMessageBatch", match=STEP_ZERO, skip=12, times=1) as lost_steps,
        dynamodb_fault("UpdateItem", "JOB#", times=1) as lost_progress,
    ):
        calls = pump.drain()
    assert (lost_steps["refused"], lost_progress["refused"]) == (1, 1)
    assert len([c for c in calls if c.handler == "background_jobs" and c.failed]) == 2
    # PRO sends 14 emails a second: the steps over the rate come back a few seconds later.
    assert all(call.ok for call in fake_clock.drain(pump, wait=30))

    found = enrollments(api, campaign)
    assert len(found) == members
    assert {e["contactId"] for e in found} == set(people)
    assert {(e["run"], e["emailsSent"], e["status"]) for e in found} == {(1, 1, "COMPLETED")}
    sent = [m.to for m in sent_emails()]
    assert len(sent) == len(set(sent)) == members
    assert api.get(f"/api/v1/campaigns/{campaign}/overview").json["totals"]["enrolled"] == members
