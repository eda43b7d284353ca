"""Double opt-in forms: one confirmation email with a signed link, a page that confirms only
on its button, expiry, resend limits, then the form's groups and their campaigns."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.campaigns import SENDER, enrollments, running_campaign, sent_emails, verify_sender
from tests.support.db import table
from tests.support.forms import (
    CONSENT_TEXT,
    browser_post,
    confirm,
    confirmation_emails,
    contact_by_email,
    contacts,
    double_opt_in_form,
    json_post,
    make_form,
    token_in,
)
from tests.support.groups import new_group
from tests.support.races import competitor_before

WELCOME = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Glad you're here."}]


def _groups_of(api: Api, contact_id: str) -> list[str]:
    return [g["id"] for g in api.get(f"/api/v1/contacts/{contact_id}/groups").json["items"]]


# ---- the form ------------------------------------------------------------------------------


def test_a_double_opt_in_form_needs_a_verified_sender(api) -> None:
    without = api.post("/api/v1/forms", {"name": "F", "doubleOptIn": True})
    assert (without.status, without.error_code) == (422, "validation_error")
    unverified = api.post("/api/v1/forms", {"name": "F", "doubleOptIn": True, "fromEmail": SENDER})
    assert (unverified.status, unverified.error_code) == (422, "validation_error")
    assert unverified.json["error"]["details"][0]["field"] == "fromEmail"
    assert api.get("/api/v1/forms").json["items"] == []

    form = double_opt_in_form(api)
    assert (form["doubleOptIn"], form["fromEmail"], form["consentText"]) == (True, SENDER, CONSENT_TEXT)
    assert form["confirmSubject"] == "Confirm your subscription"
    assert form["confirmBodyText"]  # the default text
    cleared = api.patch(f"/api/v1/forms/{form['id']}", {"fromEmail": None})
    assert (cleared.status, cleared.error_code) == (422, "validation_error")
    assert api.get(f"/api/v1/forms/{form['id']}").json == form
    off = api.patch(f"/api/v1/forms/{form['id']}", {"doubleOptIn": False})
    assert (off.status, off.json["doubleOptIn"]) == (200, False)


def test_the_page_shows_the_consent_text(api) -> None:
    form = double_opt_in_form(api)
    page = Api(api.client).get(f"/f/{form['id']}")
    assert page.status == 200 and "I agree to receive the newsletter" in page.text


# ---- a new lead --------------------------------------------------------------------------------


def test_a_new_lead_is_unconfirmed_and_gets_one_confirmation_email(api, pump) -> None:
    # GIVEN a double opt-in form into a dynamic group with a running campaign
    group = new_group(api, "Newsletter", "DYNAMIC")
    form = double_opt_in_form(api, groupIds=[group])
    campaign = running_campaign(api, [group], steps=WELCOME)
    pump.drain()
    # WHEN a visitor posts it
    reply = browser_post(api, form["id"], {"email": "Ann@Example.com", "firstName": "Ann"})
    # THEN the page says to check the inbox, one email came, and the lead waits unconfirmed
    assert reply.status == 200 and "check your inbox" in reply.text
    [email] = sent_emails()
    assert (email.to, email.subject, email.sender) == ("ann@example.com", "Confirm your subscription", SENDER)
    assert "/c/" in email.text
    ann = contact_by_email(api, "ann@example.com")
    assert ann["status"] == "UNCONFIRMED"
    consent = ann["consent"]
    assert (consent["status"], consent["source"], consent["text"]) == (
        "PENDING",
        f"form:{form['id']}",
        CONSENT_TEXT,
    )
    assert consent["ip"] == "127.0.0.1"
    assert _groups_of(api, ann["id"]) == []
    pump.drain()
    assert enrollments(api, campaign) == []
    assert len(sent_emails()) == 1  # nothing but the confirmation


def test_opening_the_link_confirms_nothing_and_the_button_confirms(api, pump) -> None:
    # GIVEN an unconfirmed lead of a form into a running campaign's dynamic group
    group = new_group(api, "Newsletter", "DYNAMIC")
    form = double_opt_in_form(api, groupIds=[group])
    campaign = running_campaign(api, [group], steps=WELCOME)
    pump.drain()
    browser_post(api, form["id"], {"email": "ann@example.com", "firstName": "Ann"})
    token = token_in(confirmation_emails()[0])
    # WHEN the link is opened (a mail scanner does this too)
    page = Api(api.client).get(f"/c/{token}")
    # THEN a page with a button, and nothing changed
    assert page.status == 200 and '<form method="post"' in page.text and "Confirm" in page.text
    assert contact_by_email(api, "ann@example.com")["status"] == "UNCONFIRMED"
    # WHEN the button is pressed
    done = confirm(api, token)
    # THEN the lead is ACTIVE with a GRANTED consent, in the group, enrolled, welcomed
    assert done.status == 200 and "confirmed" in done.text
    ann = contact_by_email(api, "ann@example.com")
    assert ann["status"] == "ACTIVE"
    assert (ann["consent"]["status"], ann["consent"]["source"]) == ("GRANTED", f"form:{form['id']}")
    assert ann["consent"]["text"] == CONSENT_TEXT
    assert _groups_of(api, ann["id"]) == [group]
    assert all(call.ok for call in pump.drain())
    [enrollment] = enrollments(api, campaign)
    assert enrollment["contactId"] == ann["id"]
    assert [(m.to, m.subject) for m in sent_emails()[1:]] == [("ann@example.com", "Welcome Ann")]
    # and the timeline tells the consent's story
    kinds = [a["type"] for a in api.get(f"/api/v1/contacts/{ann['id']}/activity").json["items"]]
    assert {"consentRequested", "consentConfirmed", "joinedGroup", "enrolled"} <= set(kinds)


def test_confirming_twice_is_confirming_once(api, pump) -> None:
    # GIVEN a lead that confirmed
    group = new_group(api, "Newsletter", "DYNAMIC")
    form = double_opt_in_form(api, groupIds=[group])
    campaign = running_campaign(api, [group], steps=WELCOME)
    browser_post(api, form["id"], {"email": "ann@example.com"})
    token = token_in(confirmation_emails()[0])
    assert confirm(api, token).status == 200
    pump.drain()
    first = contact_by_email(api, "ann@example.com")
    # WHEN the link is opened again, then the button is pressed again
    reopened = Api(api.client).get(f"/c/{token}")
    again = confirm(api, token)
    # THEN the page says it is confirmed (no button to press), the same answer, and nothing
    # was written again
    assert reopened.status == 200 and "confirmed" in reopened.text
    assert '<form method="post"' not in reopened.text
    assert again.status == 200
    pump.drain()
    assert contact_by_email(api, "ann@example.com") == first
    assert len(enrollments(api, campaign)) == 1
    assert len([m for m in sent_emails() if m.subject.startswith("Welcome")]) == 1


def test_an_existing_active_contact_is_not_asked_again(api, pump) -> None:
    group = new_group(api, "Newsletter")
    form = double_opt_in_form(api, groupIds=[group])
    bob = api.post("/api/v1/contacts", {"email": "bob@example.com"}).json
    reply = json_post(api, form["id"], {"email": "bob@example.com", "firstName": "Bob"})
    assert (reply.status, reply.json) == (200, {"result": "updated"})
    assert confirmation_emails() == []
    after = contact_by_email(api, "bob@example.com")
    assert (after["status"], after["firstName"], after["consent"]["status"]) == ("ACTIVE", "Bob", "GRANTED")
    assert _groups_of(api, bob["id"]) == [group]


def test_a_double_opt_in_post_without_an_email_is_422_and_stores_nothing(api, aws) -> None:
    form = double_opt_in_form(api)
    before = table(aws)
    reply = json_post(api, form["id"], {"phone": "+33612345678", "firstName": "Ann"})
    assert (reply.status, reply.error_code) == (422, "validation_error")
    assert reply.json["error"]["details"][0]["field"] == "email"
    assert table(aws) == before
    assert sent_emails() == []


# ---- resending ---------------------------------------------------------------------------------


def test_posting_again_resends_at_most_once_an_hour(api, fake_clock) -> None:
    form = double_opt_in_form(api)
    browser_post(api, form["id"], {"email": "ann@example.com"})
    browser_post(api, form["id"], {"email": "ann@example.com"})
    assert len(confirmation_emails()) == 1
    fake_clock.advance(59 * 60)
    browser_post(api, form["id"], {"email": "ann@example.com"})
    assert len(confirmation_emails()) == 1
    fake_clock.advance(2 * 60)
    browser_post(api, form["id"], {"email": "ann@example.com"})
    assert len(confirmation_emails()) == 2
    assert [c["status"] for c in contacts(api)] == ["UNCONFIRMED"]


def test_two_posts_at_once_send_one_email(api) -> None:
    # GIVEN a form, and a second post of the same address that lands just before the first
    # one claims the right to send
    form = double_opt_in_form(api)

    def competitor() -> None:
        assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200

    # WHEN the two posts interleave
    with competitor_before(["PutItem"], "OPTIN#", competitor) as race:
        assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    # THEN one email went
    assert race["ran"]
    assert len(confirmation_emails()) == 1


class _RefusingOnce:
    """SES refusing the first email (MessageRejected), then sending as moto does."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.refused = 0

    def send_email(self, **request: Any) -> Any:
        from botocore.exceptions import ClientError

        if not self.refused:
            self.refused += 1
            raise ClientError({"Error": {"Code": "MessageRejected", "Message": "refused"}}, "SendEmail")
        return self.real.send_email(**request)


def test_an_email_ses_refused_can_be_asked_for_again_at_once(api) -> None:
    from chalicelib.platform import mailer

    # GIVEN a form whose first confirmation SES refuses
    form = double_opt_in_form(api)
    ses = _RefusingOnce(mailer._boto_client())
    with mailer.use_client(ses):
        assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
        assert (ses.refused, sent_emails()) == (1, [])
        # WHEN the visitor posts again at once
        assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    # THEN the email goes: nothing went the first time, so the hour's limit was not used
    assert [m.to for m in confirmation_emails()] == ["ann@example.com"]


def test_a_suppressed_address_gets_no_confirmation(api) -> None:
    form = double_opt_in_form(api)
    assert api.post("/api/v1/exclusions", {"value": "@example.com"}).status == 201
    assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    assert sent_emails() == []
    assert contact_by_email(api, "ann@example.com")["status"] == "UNCONFIRMED"


# ---- bad links ---------------------------------------------------------------------------------


def _unconfirmed_lead(api: Api) -> tuple[dict[str, Any], str]:
    form = double_opt_in_form(api)
    browser_post(api, form["id"], {"email": "ann@example.com"})
    return form, token_in(confirmation_emails()[0])


def test_a_tampered_link_is_404_and_changes_nothing(api, aws) -> None:
    _, token = _unconfirmed_lead(api)
    before = table(aws)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (flipped, token[:-3], token + "xx", "nope", "%3Cscript%3E", "A" * 300):
        for method in ("GET", "POST"):
            reply = Api(api.client).call(method, f"/c/{bad}", raw="", headers={"Content-Type": "text/plain"})
            assert reply.status == 404, (bad, method, reply.status)
            assert reply.headers["Content-Type"].startswith("text/html")
            assert "not valid" in reply.text
    assert table(aws) == before


def test_an_expired_link_is_410_and_changes_nothing(api, aws, fake_clock) -> None:
    _, token = _unconfirmed_lead(api)
    fake_clock.advance(7 * 24 * 3600 - 60)
    assert Api(api.client).get(f"/c/{token}").status == 200  # still good a minute before
    fake_clock.advance(120)
    before = table(aws)
    page = Api(api.client).get(f"/c/{token}")
    assert page.status == 410 and "expired" in page.text
    posted = confirm(api, token)
    assert posted.status == 410 and "expired" in posted.text
    assert table(aws) == before
    assert contact_by_email(api, "ann@example.com")["status"] == "UNCONFIRMED"


def test_a_link_of_a_deleted_contact_is_404(api) -> None:
    _, token = _unconfirmed_lead(api)
    ann = contact_by_email(api, "ann@example.com")
    assert api.delete(f"/api/v1/contacts/{ann['id']}").status == 204
    assert confirm(api, token).status == 404
    assert contacts(api) == []


def test_a_contact_that_unsubscribed_meanwhile_is_not_confirmed(api) -> None:
    _, token = _unconfirmed_lead(api)
    ann = contact_by_email(api, "ann@example.com")
    api.patch(f"/api/v1/contacts/{ann['id']}", {"status": "UNSUBSCRIBED"})
    reply = confirm(api, token)
    assert reply.status == 409 and "cannot be confirmed" in reply.text
    after = contact_by_email(api, "ann@example.com")
    assert (after["status"], after["consent"]["status"]) == ("UNSUBSCRIBED", "WITHDRAWN")


def test_a_single_opt_in_form_grants_consent_at_once(api) -> None:
    form = make_form(api, consentText="Yes, email me.")
    verify_sender(api)
    reply = json_post(api, form["id"], {"email": "ann@example.com"})
    assert reply.status == 201
    ann = contact_by_email(api, "ann@example.com")
    assert ann["status"] == "ACTIVE"
    assert {k: ann["consent"][k] for k in ("status", "source", "text", "ip")} == {
        "status": "GRANTED",
        "source": f"form:{form['id']}",
        "text": "Yes, email me.",
        "ip": "127.0.0.1",
    }
    assert sent_emails() == []


def test_request_budget_of_a_double_opt_in(api, requests) -> None:
    group = new_group(api, "Leads")
    form = double_opt_in_form(api, groupIds=[group])
    requests.reset()
    assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    # The form and the address's lookup (new or unconfirmed?), the sync's read and write, the
    # suppression check, the post recorded as a formSubmitted event (scoring) and the
    # conditional claim of the send, and the email.
    assert requests.snapshot() == {
        "dynamodb.GetItem": 2,
        "dynamodb.BatchGetItem": 2,
        "dynamodb.TransactWriteItems": 1,
        "dynamodb.PutItem": 2,
        "sesv2.SendEmail": 1,
    }
    token = token_in(confirmation_emails()[0])
    requests.reset()
    assert confirm(api, token).status == 200
    # The contact, its confirmation (one transaction), the form, then its groups as any post.
    assert requests.snapshot() == {
        "dynamodb.GetItem": 2,
        "dynamodb.TransactWriteItems": 1,
        "dynamodb.BatchGetItem": 2,
        "dynamodb.PutItem": 1,
    }
