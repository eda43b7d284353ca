"""Automatic enrollment: a contact joining a DYNAMIC group is enrolled, through the table's
stream, in every RUNNING campaign that includes the group, when eligible; and the stops."""

from __future__ import annotations

import math
from typing import Any

import pytest

from chalicelib.contacts import status as contact_status
from chalicelib.flows import contacts as contact_flows
from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    dynamodb_fault,
    enrollments,
    make_contacts,
    new_campaign,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
    workspace_of,
)
from tests.support.events import LambdaContext

ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]


# On the fake clock: a campaign's one-second wait comes due when a test moves the clock, never
# during a drain on a slow machine (which then sent the second email and COMPLETED enrollments).
pytestmark = pytest.mark.usefixtures("fake_clock")


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def enrolled(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    return {e["contactId"]: e for e in enrollments(api, campaign_id)}


def overview(api: Api, campaign_id: str) -> dict[str, Any]:
    return api.get(f"/api/v1/campaigns/{campaign_id}/overview").json


def test_a_dynamic_group_join_enrolls_in_every_running_campaign(api: Api, pump) -> None:
    leads = new_group(api, "Leads", "DYNAMIC")
    first, second = running_campaign(api, [leads], name="A"), running_campaign(api, [leads], name="B")
    draft = new_campaign(api, [leads], name="Draft")["id"]
    paused = running_campaign(api, [leads], name="Paused")
    api.post(f"/api/v1/campaigns/{paused}/pause")
    pump.drain()
    [contact] = make_contacts(api, 1)
    add_members(api, leads, [contact])
    assert all(call.ok for call in pump.drain())

    for campaign in (first, second):
        [enrollment] = enrollments(api, campaign)
        assert enrollment["contactId"] == contact
        assert enrollment["source"] == "dynamicGroup"
        assert enrollment["viaGroupId"] == leads
        assert enrollment["status"] == "ACTIVE"
        assert enrollment["campaignName"] == ("A" if campaign == first else "B")
    assert enrollments(api, draft) == [] and enrollments(api, paused) == []
    assert [m.subject for m in sent_emails()] == ["Hello First0", "Hello First0"]
    assert overview(api, first)["totals"]["enrolled"] == 1
    listed = api.get(f"/api/v1/contacts/{contact}/enrollments").json["items"]
    assert {(e["campaignId"], e["campaignName"]) for e in listed} == {(first, "A"), (second, "B")}


def test_a_static_group_join_enrolls_nobody(api: Api, pump) -> None:
    # GIVEN
    static = new_group(api, "Customers", "STATIC")
    campaign = running_campaign(api, [static])
    pump.drain()
    # WHEN
    add_members(api, static, make_contacts(api, 2))
    pump.drain()
    # THEN
    assert enrollments(api, campaign) == []
    assert sent_emails() == []


def test_ineligible_contacts_are_not_enrolled(api: Api, pump) -> None:

    # GIVEN
    ws = workspace_of(api)
    leads, customers = new_group(api, "Leads", "DYNAMIC"), new_group(api, "Customers")
    campaign = running_campaign(api, [leads], [customers], steps=ONE_EMAIL)
    pump.drain()
    eligible, unsubscribed, customer = make_contacts(api, 3)
    contact_status.raise_status(ws, unsubscribed, "UNSUBSCRIBED", "test")
    phone_only = contact_flows.create(ws, {"phone": "+33612345678", "firstName": "Phone"})[0].id
    add_members(api, customers, [customer])
    pump.drain()
    # WHEN
    add_members(api, leads, [eligible, unsubscribed, customer, phone_only])
    # THEN
    assert all(call.ok for call in pump.drain())
    assert list(enrolled(api, campaign)) == [eligible]
    assert [m.to for m in sent_emails()] == ["person0@example.com"]


def test_suppressed_contacts_are_not_enrolled(api: Api, pump) -> None:

    ws = workspace_of(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    pump.drain()
    fine, excluded = make_contacts(api, 2)
    rival = contact_flows.create(ws, {"email": "buyer@eu.rival.com", "firstName": "Rival"})[0].id
    for value in ("person1@example.com", "@rival.com"):
        assert api.post("/api/v1/exclusions", {"value": value}).status == 201
    add_members(api, leads, [fine, excluded, rival])
    assert all(call.ok for call in pump.drain())
    assert list(enrolled(api, campaign)) == [fine]
    assert [m.to for m in sent_emails()] == ["person0@example.com"]
    assert overview(api, campaign)["totals"]["enrolled"] == 1


def test_the_suppression_list_is_read_even_when_the_membership_does_not_tell_the_email(api: Api) -> None:
    """A membership snapshot that is stale or lacks the email: the contact's own email is
    checked (one more read), never skipped."""
    from chalicelib.campaigns import enrollment

    ws = workspace_of(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    first, second = make_contacts(api, 2)
    assert api.post("/api/v1/exclusions", {"value": "person0@example.com"}).status == 201
    for emails in (None, {first: "old@example.com", second: "person1@example.com"}):
        outcome = enrollment.enroll(
            ws,
            [first, second],
            [enrollment.Target(campaign)],
            source="test",
            via_group_id=leads,
            emails=emails,
        )
        assert (first, campaign, "excludedAddress") in outcome.skipped
    assert list(enrolled(api, campaign)) == [second]


def test_the_same_stream_batch_twice_enrolls_and_sends_once(api: Api, pump, fake_clock) -> None:
    from app import table_changes

    leads = new_group(api, "Leads", "DYNAMIC")
    campaigns = [running_campaign(api, [leads], name=f"C{i}") for i in range(2)]
    pump.drain()
    members = make_contacts(api, 3)
    add_members(api, leads, members)
    first = fake_clock.drain(pump, wait=3)
    batches = [call.event for call in first if call.handler == "table_changes"]
    for event in batches:  # Lambda delivers the same batches again
        assert not table_changes(event, LambdaContext("cohort-local-table_changes")).get("batchItemFailures")
    assert all(call.ok for call in fake_clock.drain(pump, wait=3))

    for campaign in campaigns:
        assert set(enrolled(api, campaign)) == set(members)
        assert overview(api, campaign)["totals"]["enrolled"] == 3
        assert overview(api, campaign)["totals"]["sent"] == 6
    subjects = sorted((m.to, m.subject) for m in sent_emails())
    assert len(subjects) == 3 * 2 * 2  # contacts x campaigns x email steps, nothing twice


@pytest.mark.parametrize("k", [1, 3, 10])
def test_an_auto_enrollment_costs_2_plus_k_requests_at_most(api: Api, pump, requests, k: int) -> None:
    """One Query (links), one BatchGetItem (contact, enrollments, excluded memberships,
    suppression list), k conditional PutItem, ceil(k/10) SendMessageBatch."""
    from chalicelib.campaigns import enrollment
    from chalicelib.platform.streams import Batch, Change, to_change
    from tests.support.events import make_stream_record

    ws = workspace_of(api)
    leads, excluded = new_group(api, "Leads", "DYNAMIC"), new_group(api, "Excluded")
    campaigns = [running_campaign(api, [leads], [excluded], name=f"C{i}") for i in range(k)]
    [contact] = make_contacts(api, 1)
    pump.drain()
    membership = {
        "type": "Membership",
        "workspaceId": ws,
        "groupId": leads,
        "groupType": "DYNAMIC",
        "contactId": contact,
        "email": "person0@example.com",  # the contact's snapshot, as memberships carry it
        "joinedAt": "2030-01-01T00:00:00.000Z",
    }
    keys = {"pk": f"WS#{ws}#GROUP#{leads}", "sk": f"MEMBER#{contact}"}
    change: Change = to_change(make_stream_record("INSERT", keys, new=membership))
    batch = Batch()
    requests.reset()
    enrollment.on_membership(change, batch)
    assert requests.total("dynamodb") <= 2 + k
    assert requests.of("dynamodb", "Query") == 1
    assert requests.of("dynamodb", "BatchGetItem") == 1
    assert requests.of("dynamodb", "PutItem") == k
    assert requests.of("sqs", "SendMessageBatch") == math.ceil(k / 10)
    assert requests.total("sqs") == math.ceil(k / 10)
    for action in batch.deferred.values():
        action()
    for campaign in campaigns:
        assert list(enrolled(api, campaign)) == [contact]


def test_counters_are_written_once_per_batch(api: Api, pump, requests) -> None:
    from chalicelib.campaigns import enrollment
    from chalicelib.platform.streams import Batch, to_change
    from tests.support.events import make_stream_record

    ws = workspace_of(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaigns = [running_campaign(api, [leads], name=f"C{i}") for i in range(2)]
    members = make_contacts(api, 5)
    pump.drain()
    batch = Batch()
    for contact in members:
        new = {
            "type": "Membership",
            "workspaceId": ws,
            "groupId": leads,
            "groupType": "DYNAMIC",
            "contactId": contact,
        }
        record = make_stream_record("INSERT", {"pk": "x", "sk": contact}, new={**new, "joinedAt": "2030"})
        enrollment.on_membership(to_change(record), batch)
    requests.reset()
    for action in batch.deferred.values():
        action()
    assert requests.of("dynamodb", "UpdateItem") == len(campaigns)
    for campaign in campaigns:
        assert overview(api, campaign)["totals"]["enrolled"] == 5


def test_a_throttled_record_is_retried_alone(api: Api, pump) -> None:
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    pump.drain()
    members = make_contacts(api, 3)
    with dynamodb_fault("PutItem", f"ENROLL#{members[1]}", times=2) as fault:
        add_members(api, leads, members)
        calls = pump.drain()
    assert fault["refused"] == 2
    stream_calls = [c for c in calls if c.handler == "table_changes" and c.failed]
    assert len(stream_calls) == 2  # the failing record, twice; nothing else failed
    assert set(enrolled(api, campaign)) == set(members)
    assert sorted(m.to for m in sent_emails()) == [f"person{i}@example.com" for i in range(3)]
    assert overview(api, campaign)["totals"]["enrolled"] == 3


def test_a_record_that_keeps_failing_goes_to_the_failure_queue_and_blocks_nothing(
    api: Api, pump, aws
) -> None:
    import boto3

    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    pump.drain()
    members = make_contacts(api, 3)
    with dynamodb_fault("PutItem", f"ENROLL#{members[0]}"):
        add_members(api, leads, members)
        pump.drain()
    assert set(enrolled(api, campaign)) == set(members[1:])
    assert sorted(m.to for m in sent_emails()) == ["person1@example.com", "person2@example.com"]
    failures = boto3.client("sqs").receive_message(
        QueueUrl=aws.refs["StreamFailureQueue"], MaxNumberOfMessages=10
    )
    assert len(failures.get("Messages", [])) == 1
    # Later joins are not held up by it.
    [late] = make_contacts(api, 1, prefix="late")
    add_members(api, leads, [late])
    pump.drain()
    assert late in enrolled(api, campaign)


def test_reenrollment_after_exit_enrolls_a_rejoining_contact_again(api: Api, pump) -> None:
    leads = new_group(api, "Leads", "DYNAMIC")
    again = running_campaign(api, [leads], steps=ONE_EMAIL, name="Again", reenrollment="afterExit")
    once = running_campaign(api, [leads], steps=ONE_EMAIL, name="Once")
    [contact] = make_contacts(api, 1)
    add_members(api, leads, [contact])
    pump.drain()
    assert enrolled(api, again)[contact]["status"] == "COMPLETED"
    assert api.delete(f"/api/v1/groups/{leads}/members/{contact}").status in (200, 204)
    pump.drain()
    add_members(api, leads, [contact])
    assert all(call.ok for call in pump.drain())
    assert enrolled(api, again)[contact]["run"] == 2
    assert enrolled(api, once)[contact]["run"] == 1
    assert len(sent_emails()) == 3  # Again twice, Once once
    assert overview(api, again)["totals"]["enrolled"] == 2


def test_an_active_enrollment_is_not_restarted_by_a_rejoin(api: Api, pump) -> None:
    # GIVEN
    leads = new_group(api, "Leads", "DYNAMIC")
    steps = [*ONE_EMAIL, {"type": "wait", "days": 3}, *ONE_EMAIL]
    campaign = running_campaign(api, [leads], steps=steps, reenrollment="afterExit")
    [contact] = make_contacts(api, 1)
    add_members(api, leads, [contact])
    pump.drain()
    api.delete(f"/api/v1/groups/{leads}/members/{contact}")
    pump.drain()
    # WHEN
    add_members(api, leads, [contact])
    pump.drain()
    [enrollment] = enrollments(api, campaign)
    # THEN
    # Leaving the group did not stop it, rejoining did not restart it.
    assert (enrollment["status"], enrollment["run"], enrollment["currentStep"]) == ("ACTIVE", 1, 2)
    assert len(sent_emails()) == 1


@pytest.mark.parametrize("how", ["unsubscribed", "bounced", "anonymized", "contactDeleted"])
def test_enrollments_stop_when_the_contact_can_no_longer_be_mailed(api: Api, pump, how: str) -> None:

    ws = workspace_of(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    steps = [*ONE_EMAIL, {"type": "wait", "days": 2}, *ONE_EMAIL]
    campaign = running_campaign(api, [leads], steps=steps)
    [contact, other] = make_contacts(api, 2)
    add_members(api, leads, [contact, other])
    pump.drain()
    if how in ("unsubscribed", "bounced"):
        contact_status.raise_status(ws, contact, how.upper(), "test")
    elif how == "anonymized":
        assert api.post(f"/api/v1/contacts/{contact}/anonymize").status == 200
    else:
        contact_flows.delete(ws, contact)
    assert all(call.ok for call in pump.drain())
    found = enrolled(api, campaign)
    assert (found[contact]["status"], found[contact]["stopReason"]) == ("STOPPED", how)
    assert found[contact]["nextStepAt"] is None
    assert found[other]["status"] == "ACTIVE"


def test_a_failed_group_counter_write_does_not_lose_the_enrollment_counts(api: Api, pump) -> None:
    """The batch's deferred work: the group counters fail once (throttled), the batch comes
    again; the enrollment counts of its first delivery must not be skipped, since the second
    finds the enrollments written and counts nothing."""
    # GIVEN
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    pump.drain()
    members = make_contacts(api, 3)
    # WHEN
    with dynamodb_fault("TransactWriteItems", "SEQ#", times=1) as refused:
        add_members(api, leads, members)
        calls = pump.drain()
    # THEN
    assert refused["refused"] == 1 and any(not call.ok for call in calls)
    assert len(enrollments(api, campaign)) == 3
    assert api.get(f"/api/v1/groups/{leads}/stats").json["totalContacts"] == 3
    assert overview(api, campaign)["totals"]["enrolled"] == 3


def test_a_filtered_enrollment_page_is_one_query_whatever_it_finds(api: Api, pump, requests) -> None:
    """?status= with few matches: one Query a page (a short page whose cursor goes on), not
    the whole partition read until `limit` items match."""
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    pump.drain()
    add_members(api, leads, make_contacts(api, 12))
    pump.drain()
    requests.reset()
    reply = api.get(f"/api/v1/campaigns/{campaign}/enrollments?status=STOPPED&limit=5")
    assert reply.status == 200 and reply.json["items"] == []
    assert requests.of("dynamodb", "Query") == 1
    requests.reset()
    assert api.get("/api/v1/campaigns?status=PAUSED&limit=1").json["items"] == []
    assert requests.of("dynamodb", "Query") == 1
