"""Engagement conditions (API.md "Segments": `{"event", "campaignId"?, "withinLast"?,
"negate"?}`): searched and counted from the contacts' engagement facts, checked against the
workspace (422 at the node's path), and followed by DYNAMIC rule groups through the stream:
an open makes a contact join and get the linked running campaign's first email."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from chalicelib.contacts import activity, engagement
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock
from tests.support.api import Api
from tests.support.campaigns import enrollments, new_campaign, running_campaign, sent_emails, verify_sender
from tests.support.groups import add_members, member_ids, new_group
from tests.support.timers import let_time_pass
from tests.support.workspaces import workspace_of

ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]
NEWS = [{"type": "email", "subject": "News", "bodyText": "News", "bodyHtml": "<p>News</p>"}]


def contact(api: Api, email: str, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": email, **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def found(api: Api, node: dict[str, Any]) -> tuple[set[str], int]:
    page = api.post("/api/v1/contacts/search", {"filter": node, "limit": 100})
    assert page.status == 200, page.json
    counted = api.post("/api/v1/contacts/search/count", {"filter": node})
    assert counted.status == 200 and counted.json["exact"], counted.json
    return {c["id"] for c in page.json["items"]}, counted.json["count"]


def opened(ws: str, contact_id: str, campaign_id: str, days_ago: float) -> None:
    at = clock.iso(clock.now() - timedelta(days=days_ago))
    engagement.record(ws, {contact_id: [engagement.Event("opened", campaign_id, at)]})


def test_search_and_count_read_the_engagement_facts(api: Api, fake_clock) -> None:
    # GIVEN three contacts: one opened campaign A 2 days ago, one opened B 10 days ago, one nothing
    verify_sender(api)
    group = new_group(api, "G", "DYNAMIC")
    a = new_campaign(api, [group], steps=ONE_EMAIL, name="A")["id"]
    b = new_campaign(api, [group], steps=ONE_EMAIL, name="B")["id"]
    ws = workspace_of(api)
    recent, older, never = (contact(api, f"{n}@example.com", tags=["vip"]) for n in ("r", "o", "n"))
    opened(ws, recent, a, 2)
    opened(ws, older, b, 10)
    # THEN each condition keeps whom it says, search and count alike
    assert found(api, {"event": "opened"}) == ({recent, older}, 2)
    assert found(api, {"event": "opened", "campaignId": a}) == ({recent}, 1)
    assert found(api, {"event": "opened", "withinLast": {"days": 7}}) == ({recent}, 1)
    assert found(api, {"event": "opened", "negate": True}) == ({never}, 1)
    assert found(api, {"event": "opened", "withinLast": {"days": 7}, "negate": True}) == ({older, never}, 2)
    assert found(api, {"event": "clicked"}) == (set(), 0)
    # AND through a tag's partition (copies without facts: their contacts are read)
    vip_and_opened = {
        "all": [{"field": "tags", "op": "has", "value": "vip"}, {"event": "opened", "campaignId": b}]
    }
    assert found(api, vip_and_opened) == ({older}, 1)
    # WHEN 6 days pass, THEN the recent open is 8 days old
    fake_clock.advance(6 * 86400)
    assert found(api, {"event": "opened", "withinLast": {"days": 7}}) == (set(), 0)


def test_a_tag_page_with_an_engagement_condition_reads_its_contacts_in_one_more_request(
    api: Api, requests
) -> None:
    # GIVEN vip contacts
    for n in range(3):
        contact(api, f"p{n}@example.com", tags=["vip"])
    requests.reset()
    # WHEN a page asks for vips who never opened anything
    node = {"all": [{"field": "tags", "op": "has", "value": "vip"}, {"event": "opened", "negate": True}]}
    reply = api.post("/api/v1/contacts/search", {"filter": node})
    # THEN it is the tag's Query and one BatchGetItem of the contacts
    assert reply.status == 200 and len(reply.json["items"]) == 3, reply.json
    dynamodb = {k: v for k, v in requests.snapshot().items() if k.startswith("dynamodb")}
    assert dynamodb == {"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1}


def test_a_campaign_of_another_workspace_is_a_422_at_its_path(api: Api, new_workspace) -> None:
    # GIVEN a campaign of another workspace
    other = new_workspace()
    verify_sender(other)
    theirs = new_campaign(other, [new_group(other, "G", "DYNAMIC")], steps=ONE_EMAIL)["id"]
    # WHEN this workspace filters on it, searches or makes a rule group of it
    node = {"all": [{"field": "email", "op": "exists"}, {"event": "clicked", "campaignId": theirs}]}
    search = api.post("/api/v1/contacts/search", {"filter": node})
    group = api.post("/api/v1/groups", {"name": "R", "type": "DYNAMIC", "rules": node})
    # THEN each is a 422 naming the node, and no group was made
    assert (search.status, group.status) == (422, 422)
    assert "filter.all[1].campaignId" in [d["field"] for d in search.json["error"]["details"]]
    assert "rules.all[1].campaignId" in [d["field"] for d in group.json["error"]["details"]]
    assert api.get("/api/v1/groups").json["items"] == []


def test_an_open_makes_a_contact_join_a_rule_group_and_get_its_campaigns_first_email(api: Api, pump) -> None:
    # GIVEN a newsletter sent to a group, and a DYNAMIC rule group of who opened it, with a
    # running welcome campaign on it
    verify_sender(api)
    readers = new_group(api, "Readers", "DYNAMIC")
    news = running_campaign(api, [readers], steps=NEWS, name="News")
    openers = api.post(
        "/api/v1/groups",
        {"name": "Openers", "type": "DYNAMIC", "rules": {"event": "opened", "campaignId": news}},
    ).json["id"]
    pump.drain()
    welcome = running_campaign(api, [openers], steps=ONE_EMAIL, name="Welcome")
    ada = contact(api, "ada@example.com", firstName="Ada")
    add_members(api, readers, [ada])
    assert all(call.ok for call in pump.drain())
    [newsletter] = sent_emails()
    assert member_ids(api, openers) == []
    # WHEN she opens the newsletter (its pixel)
    assert newsletter.html is not None
    pixel = re.search(r'/t/o/([A-Za-z0-9_-]+)"', newsletter.html)
    assert pixel is not None
    assert api.get(f"/t/o/{pixel.group(1)}", headers={"Authorization": ""}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she joins the rule group and gets the welcome campaign's first email, through it
    assert member_ids(api, openers) == [ada]
    [enrollment] = enrollments(api, welcome)
    assert (enrollment["contactId"], enrollment["source"]) == (ada, "dynamicGroup")
    assert [m.subject for m in sent_emails()] == ["News", "Welcome Ada"]
    # AND her contact was not changed by it (no updatedAt bump from the facts)
    view = api.get(f"/api/v1/contacts/{ada}").json
    assert view["updatedAt"] < engagement.last_time(_item(api, ada), "opened", news)  # type: ignore[operator]


def _item(api: Api, contact_id: str) -> dict[str, Any]:
    return Contact.get(*Contact.key(workspace_of(api), contact_id)).attribute_values


def test_an_opened_within_last_rule_drops_the_contact_when_its_open_gets_too_old(
    api: Api, pump, fake_clock
) -> None:
    # GIVEN a DYNAMIC rule group "opened in the last 7 days"
    group = api.post(
        "/api/v1/groups",
        {
            "name": "Recent openers",
            "type": "DYNAMIC",
            "rules": {"event": "opened", "withinLast": {"days": 7}},
        },
    ).json["id"]
    ada = contact(api, "ada@example.com")
    assert all(call.ok for call in fake_clock.drain(pump, wait=2))
    # WHEN she opens an email (its timeline item, as the tracking writes it)
    ws = workspace_of(api)
    at = clock.now_iso()
    activity.item(ws, ada, activity.OPENED, f"OPENED#C1#{at}", at, campaignId="C1").save()
    assert all(call.ok for call in fake_clock.drain(pump, wait=2))
    # THEN she joins; 6 days later she is still in
    assert member_ids(api, group) == [ada]
    let_time_pass(fake_clock, pump, 6 * 86400)
    assert member_ids(api, group) == [ada]
    # WHEN the open is more than 7 days old, THEN she has left (a timer, no change of hers)
    let_time_pass(fake_clock, pump, 86400 + 60)
    assert member_ids(api, group) == []
