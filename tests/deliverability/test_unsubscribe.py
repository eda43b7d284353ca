"""Unsubscribing (RFC 8058): a GET shows a confirm page and never unsubscribes; a POST (the
button or a mailbox provider's one-click) unsubscribes and stops every enrollment."""

from __future__ import annotations

from chalicelib.deliverability import tracking
from chalicelib.platform import ids, link_tokens
from chalicelib.platform.link_tokens import Target
from tests.support.campaigns import (
    add_members,
    enrollments,
    make_contacts,
    new_group,
    running_campaign,
    verify_sender,
    workspace_of,
)
from tests.support.db import table

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
LONG_WAIT = [
    {"type": "email", "subject": "One", "bodyText": "First"},
    {"type": "wait", "days": 3},
    {"type": "email", "subject": "Two", "bodyText": "Second"},
]


def recorded(api, contact_id: str, campaign_id: str | None = None) -> Target:
    target = Target(workspace_of(api), campaign_id or ids.new_id(), contact_id, 1, ids.new_id(), ids.new_id())
    tracking.record_sent(target, f"<{ids.new_id()}@cohort.local>", "Hello")
    return target


def test_the_page_asks_first_and_a_get_changes_nothing(api, aws) -> None:
    # GIVEN
    contact = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    # WHEN
    token = link_tokens.mint("u", recorded(api, contact))
    before = table(aws)
    page = api.get(f"/u/{token}", headers={"Authorization": ""})
    # THEN
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<form method="post"' in page.text and "<button" in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert table(aws) == before
    assert api.get(f"/api/v1/contacts/{contact}").json["status"] == "ACTIVE"


def test_a_one_click_post_unsubscribes_once(api) -> None:
    contact = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    target = recorded(api, contact)
    token = link_tokens.mint("u", target)
    for _ in range(2):
        reply = api.post(f"/u/{token}", raw="List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert reply.status == 200
        assert "unsubscribed" in reply.text
    found = api.get(f"/api/v1/contacts/{contact}").json
    assert (found["status"], found["statusReason"]) == ("UNSUBSCRIBED", "unsubscribe link")
    timeline = api.get(f"/api/v1/contacts/{contact}/activity").json["items"]
    assert [i["type"] for i in timeline].count("unsubscribed") == 1
    # Any content type a client may use is fine: the POST itself is the consent.
    for headers in ({"Content-Type": "multipart/form-data; boundary=x"}, {"Content-Type": "text/plain"}):
        assert api.post(f"/u/{token}", raw="", headers=headers).status == 200


def test_bad_tokens_answer_a_404_page_and_change_nothing(api, aws, new_workspace) -> None:
    contact = api.post("/api/v1/contacts", {"email": "jane@example.com"}).json["id"]
    target = recorded(api, contact)
    token = link_tokens.mint("u", target)
    other_ws = workspace_of(new_workspace(name="Other"))
    elsewhere = link_tokens.mint(
        "u", Target(other_ws, target.campaign_id, contact, 1, target.step_id, target.group_id)
    )
    before = table(aws)
    changed = token[:50] + ("A" if token[50] != "A" else "B") + token[51:]
    for bad in (token[:-2], token[:30], changed, elsewhere):
        for method in ("GET", "POST") if bad != elsewhere else ("POST",):
            reply = api.call(method, f"/u/{bad}", raw="List-Unsubscribe=One-Click", headers=ONE_CLICK)
            assert reply.status == 404, (method, bad)
            assert reply.headers["Content-Type"].startswith("text/html")
    assert api.post(f"/u/{link_tokens.mint('o', target)}", raw="", headers=ONE_CLICK).status == 404
    assert table(aws) == before
    assert api.get(f"/api/v1/contacts/{contact}").json["status"] == "ACTIVE"


def test_unsubscribing_stops_the_contacts_enrollments_in_every_campaign(api, pump) -> None:
    verify_sender(api)
    jane, other = make_contacts(api, 2)
    first, second = new_group(api, "First"), new_group(api, "Second")
    add_members(api, first, [jane, other])
    add_members(api, second, [jane])
    campaigns = [running_campaign(api, [group], steps=LONG_WAIT) for group in (first, second)]
    pump.drain()
    token = link_tokens.mint("u", recorded(api, jane, campaigns[0]))
    assert api.post(f"/u/{token}", raw="List-Unsubscribe=One-Click", headers=ONE_CLICK).status == 200
    pump.drain()
    for campaign in campaigns:
        mine = next(e for e in enrollments(api, campaign) if e["contactId"] == jane)
        assert mine["status"] == "STOPPED"
    others = next(e for e in enrollments(api, campaigns[0]) if e["contactId"] == other)
    assert others["status"] == "ACTIVE"
