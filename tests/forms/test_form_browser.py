"""The public form in a real browser (tests/support/browser.py: headless Chromium, no
JavaScript, against `chalice local`'s server on the in-process moto)."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.browser import field, heading, submit
from tests.support.campaigns import enrollments, running_campaign, sent_emails
from tests.support.forms import CONSENT_TEXT, contact_by_email, double_opt_in_form, token_in


def test_a_visitor_fills_in_the_form_and_becomes_a_contact(api: Api, server: str, browser: Any) -> None:
    group = api.post("/api/v1/groups", {"name": "Web leads"}).json["id"]
    form = api.post("/api/v1/forms", {"name": "Join the beta", "groupIds": [group], "tags": ["beta"]}).json

    browser.get(f"{server}/f/{form['id']}")
    assert browser.title == "Join the beta"
    for label, value in (
        ("Email", "Élodie.Martin@Example.com"),
        ("Phone", "06 12 34 56 78"),
        ("First name", "Élodie"),
        ("Last name", "Martin"),
        ("Company", "Acme & Co"),
        ("Job title", "CTO"),
    ):
        field(browser, label).send_keys(value)
    submit(browser)
    assert heading(browser) == "Thank you"

    found = api.get("/api/v1/contacts?q=elodie").json["items"]
    assert len(found) == 1
    contact = found[0]
    assert contact["email"] == "élodie.martin@example.com"
    assert contact["phone"] == "+33612345678"
    assert (contact["firstName"], contact["lastName"], contact["company"], contact["title"]) == (
        "Élodie",
        "Martin",
        "Acme & Co",
        "CTO",
    )
    assert contact["tags"] == ["beta"]
    groups = api.get(f"/api/v1/contacts/{contact['id']}/groups").json["items"]
    assert [g["id"] for g in groups] == [group]


def test_a_visitor_corrects_a_refused_post_and_is_redirected(api: Api, server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    form = api.post("/api/v1/forms", {"name": "Contact us", "redirectUrl": f"{server}/api/v1/health"}).json
    browser.get(f"{server}/f/{form['id']}")
    field(browser, "Last name").send_keys("Martin")
    submit(browser)  # neither email nor phone: the server refuses

    assert heading(browser) == "Contact us"
    assert browser.title == "Error: Contact us"
    summary = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "Email" in summary and "Phone" in summary
    assert field(browser, "Last name").get_attribute("value") == "Martin"
    assert field(browser, "Email").get_attribute("aria-invalid") == "true"
    assert api.get("/api/v1/contacts").json["items"] == []

    field(browser, "Email").send_keys("e.martin@example.com")
    submit(browser)
    assert browser.current_url == f"{server}/api/v1/health"
    assert '"ok"' in browser.find_element(By.TAG_NAME, "body").text
    found = api.get("/api/v1/contacts?q=e.martin").json["items"]
    assert [(c["email"], c["lastName"]) for c in found] == [("e.martin@example.com", "Martin")]


def test_a_double_opt_in_lead_confirms_in_the_browser_and_is_enrolled(
    api: Api, server: str, browser: Any, pump: Any
) -> None:
    from selenium.webdriver.common.by import By

    # GIVEN a double opt-in form into a dynamic group whose campaign is running
    group = api.post("/api/v1/groups", {"name": "Newsletter", "type": "DYNAMIC"}).json["id"]
    form = double_opt_in_form(api, groupIds=[group])
    welcome = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Glad you're here."}]
    campaign = running_campaign(api, [group], steps=welcome)
    pump.drain()

    # WHEN a visitor fills it in
    browser.get(f"{server}/f/{form['id']}")
    assert CONSENT_TEXT in browser.find_element(By.ID, "consent-text").text
    field(browser, "Email").send_keys("Zoé@Example.com")
    field(browser, "First name").send_keys("Zoé")
    submit(browser)

    # THEN one email is sent: the confirmation, with its link
    assert heading(browser) == "Thank you"
    assert "check your inbox" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    pump.drain()
    [email] = sent_emails()
    assert (email.to, email.subject) == ("zoé@example.com", "Confirm your subscription")
    token = token_in(email)

    # WHEN the link is opened: a page with a button, and nothing confirmed yet
    browser.get(f"{server}/c/{token}")
    assert heading(browser) == "Confirm your subscription"
    assert contact_by_email(api, "zoé@example.com")["status"] == "UNCONFIRMED"
    pump.drain()
    assert enrollments(api, campaign) == []

    # WHEN its button is clicked
    submit(browser)

    # THEN the lead is confirmed, joins the group and gets the campaign's first email
    assert heading(browser) == "Subscription confirmed"
    zoe = contact_by_email(api, "zoé@example.com")
    assert (zoe["status"], zoe["consent"]["status"], zoe["consent"]["text"]) == (
        "ACTIVE",
        "GRANTED",
        CONSENT_TEXT,
    )
    assert all(call.ok for call in pump.drain())
    [enrollment] = enrollments(api, campaign)
    assert enrollment["contactId"] == zoe["id"]
    assert [(m.to, m.subject) for m in sent_emails()] == [
        ("zoé@example.com", "Confirm your subscription"),
        ("zoé@example.com", "Welcome Zoé"),
    ]
