"""Test sends and previews (docs/api.md, Campaigns): an email step rendered for a contact or
sample data, links as they would go out; a test send goes to up to 5 addresses with [TEST]
before its subject, is never an enrollment and never counted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.campaigns import new_campaign, new_group, sent_emails, verify_sender

STEPS = [
    {
        "type": "email",
        "subject": "Hi {{firstName|there}}",
        "bodyText": "Hello {{firstName|there}} of {{company}}: https://acme.example/offer",
        "bodyHtml": '<p>Hello {{firstName|there}}, <a href="https://acme.example/offer">the offer</a></p>',
    },
    {"type": "wait", "days": 1},
    {"type": "email", "subject": "Second, {{firstName}}", "bodyText": "Still there?"},
]


@pytest.fixture
def campaign(api: Api) -> dict[str, Any]:
    verify_sender(api)
    return new_campaign(api, [new_group(api, "Leads")], steps=STEPS)


def contact(api: Api, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": "grace@example.com", "firstName": "Grace", **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def test_a_test_send_renders_for_the_contact_and_counts_nothing(
    api: Api, campaign: dict[str, Any], pump
) -> None:
    grace = contact(api, company="Navy")
    second = campaign["steps"][2]["id"]
    reply = api.post(
        f"/api/v1/campaigns/{campaign['id']}/test",
        {"to": ["qa@acme.example", "boss@acme.example"], "contactId": grace, "stepId": second},
    )
    assert reply.status == 200, reply.json
    assert reply.json["subject"] == "[TEST] Second, Grace" and reply.json["stepId"] == second
    assert [s["to"] for s in reply.json["sent"]] == ["qa@acme.example", "boss@acme.example"]
    mails = sent_emails()
    assert [(m.to, m.subject, m.sender) for m in mails] == [
        ("qa@acme.example", "[TEST] Second, Grace", "noreply@cohort.local"),
        ("boss@acme.example", "[TEST] Second, Grace", "noreply@cohort.local"),
    ]
    pump.drain()
    # Not an enrollment, not on the contact's timeline, not in the statistics.
    assert api.get(f"/api/v1/campaigns/{campaign['id']}/enrollments").json["items"] == []
    totals = api.get(f"/api/v1/campaigns/{campaign['id']}/overview").json["totals"]
    assert {k: v for k, v in totals.items() if isinstance(v, int)} == dict.fromkeys(
        [k for k, v in totals.items() if isinstance(v, int)], 0
    ), totals
    kinds = [i["type"] for i in api.get(f"/api/v1/contacts/{grace}/activity").json["items"]]
    assert not any("email" in kind.lower() or "sent" in kind.lower() for kind in kinds), kinds
    assert api.get(f"/api/v1/campaigns/{campaign['id']}").json["status"] == "DRAFT"


def test_sample_data_and_the_first_email_step_by_default(api: Api, campaign: dict[str, Any], client) -> None:
    reply = api.post(f"/api/v1/campaigns/{campaign['id']}/test", {"to": ["qa@acme.example"]})
    assert reply.status == 200, reply.json
    assert reply.json["stepId"] == campaign["steps"][0]["id"] and reply.json["contactId"] is None
    (mail,) = sent_emails()
    assert mail.subject == "[TEST] Hi Ada"
    assert "Hello Ada of Analytical Engines" in mail.text
    # The link goes out tracked, and works: a click redirects without counting anything.
    link = re.search(r"http://[^\s]+/t/c/[^\s]+", mail.text)
    assert link, mail.text
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    clicked = client.http.get(f"/{path}")
    assert (clicked.status_code, clicked.headers["Location"]) == (302, "https://acme.example/offer")
    assert api.get(f"/api/v1/campaigns/{campaign['id']}/overview").json["totals"]["clicked"] == 0


def test_the_preview_shows_the_email_as_it_would_go_out(api: Api, campaign: dict[str, Any]) -> None:
    grace = contact(api)
    first = campaign["steps"][0]["id"]
    reply = api.get(f"/api/v1/campaigns/{campaign['id']}/steps/{first}/preview?contactId={grace}")
    assert reply.status == 200, reply.json
    shown = reply.json
    assert (shown["subject"], shown["to"], shown["fromEmail"]) == (
        "Hi Grace",
        "grace@example.com",
        "noreply@cohort.local",
    )
    assert (
        "Hello Grace of " in shown["text"] and "/t/c/" in shown["text"] and "Unsubscribe: " in shown["text"]
    )
    assert "https://acme.example/offer" not in shown["html"] and "/t/c/" in shown["html"]
    assert "/t/o/" in shown["html"]  # the open pixel
    assert shown["headers"]["List-Unsubscribe"].startswith("<http")
    sample = api.get(f"/api/v1/campaigns/{campaign['id']}/steps/{first}/preview").json
    assert (sample["subject"], sample["contactId"]) == ("Hi Ada", None)
    assert sent_emails() == []


@pytest.mark.parametrize(
    "body",
    [
        {"to": [f"qa{i}@acme.example" for i in range(6)]},
        {"to": []},
        {"to": ["not an address"]},
        {"to": "qa@acme.example"},
        {},
        {"to": ["qa@acme.example"], "extra": True},
    ],
)
def test_bad_test_sends_are_422_and_send_nothing(api: Api, campaign: dict[str, Any], body: Any) -> None:
    reply = api.post(f"/api/v1/campaigns/{campaign['id']}/test", body)
    assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
    assert reply.json["error"]["details"]
    assert sent_emails() == []


def test_a_suppressed_or_unsubscribed_recipient_is_422_and_nothing_is_sent(
    api: Api, campaign: dict[str, Any]
) -> None:
    assert api.post("/api/v1/exclusions", {"value": "@blocked.example"}).status in (200, 201)
    reply = api.post(
        f"/api/v1/campaigns/{campaign['id']}/test", {"to": ["qa@acme.example", "x@blocked.example"]}
    )
    assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
    assert [d["value"] for d in reply.json["error"]["details"]] == ["x@blocked.example"]
    gone = contact(api, email="gone@acme.example", status="UNSUBSCRIBED")
    assert gone
    reply = api.post(f"/api/v1/campaigns/{campaign['id']}/test", {"to": ["Gone@acme.example"]})
    assert reply.status == 422 and "unsubscribed" in reply.json["error"]["message"]
    assert sent_emails() == []


def test_unknown_steps_contacts_and_unverified_senders(
    api: Api, campaign: dict[str, Any], new_workspace
) -> None:
    path = f"/api/v1/campaigns/{campaign['id']}"
    wait = campaign["steps"][1]["id"]
    assert api.post(f"{path}/test", {"to": ["qa@acme.example"], "stepId": wait}).status == 422
    assert api.post(f"{path}/test", {"to": ["qa@acme.example"], "stepId": "nope"}).status == 404
    assert api.get(f"{path}/steps/nope/preview").status == 404
    assert api.get(f"{path}/steps/{wait}/preview").status == 422
    other = new_workspace(name="Other")
    theirs = other.post("/api/v1/contacts", {"email": "x@example.com"}).json["id"]
    reply = api.post(f"{path}/test", {"to": ["qa@acme.example"], "contactId": theirs})
    assert (reply.status, reply.error_code) == (404, "not_found")
    # Another workspace's campaign, and a sender the workspace has not verified.
    assert other.post(f"{path}/test", {"to": ["qa@acme.example"]}).status == 404
    assert other.get(f"{path}/steps/{wait}/preview").status == 404
    unverified = new_campaign(api, [], steps=STEPS, fromEmail="news@elsewhere.example")["id"]
    reply = api.post(f"/api/v1/campaigns/{unverified}/test", {"to": ["qa@acme.example"]})
    assert reply.status == 422 and reply.json["error"]["details"][0]["field"] == "fromEmail"
    assert sent_emails() == []
