"""A contact's timeline: GET /api/v1/contacts/{id}/activity, newest first, paginated, one Query."""

from __future__ import annotations

import boto3

from chalicelib.deliverability import tracking
from chalicelib.models.activity import Activity
from chalicelib.platform import ids, link_tokens
from chalicelib.platform.link_tokens import Target
from tests.support.campaigns import add_members, make_contacts, new_group, running_campaign, verify_sender

ONE_EMAIL = [{"type": "email", "subject": "Hi", "bodyText": "Hello"}]


def types(api, contact_id: str, query: str = "") -> list[str]:
    reply = api.get(f"/api/v1/contacts/{contact_id}/activity{query}")
    assert reply.status == 200, reply.json
    return [item["type"] for item in reply.json["items"]]


def test_joining_a_group_and_being_enrolled_appear_newest_first(api, pump) -> None:
    verify_sender(api)
    (jane,) = make_contacts(api, 1)
    group = new_group(api, "Leads")
    add_members(api, group, [jane])
    pump.drain()
    campaign = running_campaign(api, [group], steps=ONE_EMAIL)
    pump.drain()
    items = api.get(f"/api/v1/contacts/{jane}/activity").json["items"]
    assert [item["type"] for item in items][-2:] == ["enrolled", "joinedGroup"]
    enrolled = next(item for item in items if item["type"] == "enrolled")
    assert (enrolled["campaignId"], enrolled["groupId"]) == (campaign, group)
    assert enrolled["details"]["source"] == "launch"
    assert items == sorted(items, key=lambda item: item["at"], reverse=True)


def test_opens_clicks_and_unsubscribes_are_on_the_timeline(api) -> None:
    # GIVEN
    jane = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    ws = api.get("/api/v1/workspace").json["id"]
    target = Target(ws, ids.new_id(), jane, 1, ids.new_id(), ids.new_id())
    tracking.record_sent(target, f"<{ids.new_id()}@cohort.local>", "Hello {{firstName}}")
    api.get(f"/t/o/{link_tokens.mint('o', target)}", headers={"Accept": "*/*"})
    api.get(f"/t/c/{link_tokens.mint('c', target, 'https://example.com/offer')}")
    # WHEN
    api.post(f"/u/{link_tokens.mint('u', target)}", raw="", headers={"Content-Type": "text/plain"})
    items = api.get(f"/api/v1/contacts/{jane}/activity").json["items"]
    # THEN
    assert [i["type"] for i in items] == ["unsubscribed", "clicked", "opened", "emailSent"]
    assert items[1]["details"]["url"] == "https://example.com/offer"
    assert items[3]["details"]["subject"] == "Hello {{firstName}}"  # as written: no personal data
    assert {i["campaignId"] for i in items} == {target.campaign_id}


def test_the_timeline_is_paginated_with_one_query_per_page(api, requests) -> None:
    jane = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    ws = api.get("/api/v1/workspace").json["id"]
    campaign = ids.new_id()
    for step in range(5):
        target = Target(ws, campaign, jane, 1, ids.new_id(), None)
        tracking.record_sent(target, f"<{ids.new_id()}@x>", f"Email {step}", f"2026-11-20T10:00:0{step}.000Z")
    subjects: list[str] = []
    cursor = None
    requests.reset()
    for _ in range(3):
        reply = api.get(f"/api/v1/contacts/{jane}/activity?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        subjects += [item["details"]["subject"] for item in reply.json["items"]]
        cursor = reply.json["nextCursor"]
    assert subjects == [f"Email {n}" for n in (4, 3, 2, 1, 0)]
    assert cursor is None
    assert requests.snapshot() == {"dynamodb.Query": 3}
    assert api.get(f"/api/v1/contacts/{jane}/activity?cursor=forged").status == 422


def test_another_workspaces_contact_or_an_unknown_one_is_404(api, new_workspace) -> None:
    # GIVEN
    jane = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    # WHEN
    other = new_workspace(name="Other")
    # THEN
    assert other.get(f"/api/v1/contacts/{jane}/activity").status == 404
    assert api.get(f"/api/v1/contacts/{ids.new_id()}/activity").status == 404
    assert api.get(f"/api/v1/contacts/{jane}/activity").json == {"items": [], "nextCursor": None}


def test_an_erased_contact_loses_its_timeline_and_its_links(api, pump, aws) -> None:
    jane = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    ws = api.get("/api/v1/workspace").json["id"]
    target = Target(ws, ids.new_id(), jane, 1, ids.new_id(), ids.new_id())
    tracking.record_sent(target, f"<{ids.new_id()}@cohort.local>", "Hello")
    api.get(f"/t/c/{link_tokens.mint('c', target, 'https://example.com/?email=jane@example.com')}")
    assert api.post(f"/api/v1/contacts/{jane}/anonymize").status == 200
    pump.drain()
    assert api.get(f"/api/v1/contacts/{jane}/activity").json["items"] == []
    partition = Activity.partition(ws, jane)
    left = boto3.client("dynamodb").query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
    )["Items"]
    assert left == []
    assert api.get(f"/t/o/{link_tokens.mint('o', target)}", headers={"Accept": "*/*"}).status == 404
