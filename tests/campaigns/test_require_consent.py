"""A workspace that requires consent: campaigns enroll only contacts whose consent is GRANTED,
the others are reported with reason `noConsent`; unconfirmed leads are never enrolled."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    enrollments,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
)
from tests.support.timers import let_time_pass
from tests.support.workspaces import workspace_of

ONE_EMAIL = [{"type": "email", "subject": "Hello", "bodyText": "Hi"}]


def _people(api: Api) -> dict[str, str]:
    found = {}
    for name, consent in (("granted", "GRANTED"), ("pending", "PENDING"), ("none", None)):
        body = {"email": f"{name}@example.com", **({"consent": {"status": consent}} if consent else {})}
        found[name] = api.post("/api/v1/contacts", body).json["id"]
    return found


def test_the_setting_is_read_and_changed(api: Api, new_workspace) -> None:
    assert api.get("/api/v1/workspace").json["requireConsent"] is False
    changed = api.patch("/api/v1/workspace", {"requireConsent": True})
    assert (changed.status, changed.json["requireConsent"]) == (200, True)
    assert api.get("/api/v1/workspace").json["requireConsent"] is True
    assert new_workspace(name="Other").get("/api/v1/workspace").json["requireConsent"] is False
    for bad in ({}, {"requireConsent": "yes"}, {"requireConsent": None}, {"plan": "PRO"}):
        reply = api.patch("/api/v1/workspace", bad)
        assert (reply.status, reply.error_code) == (422, "validation_error"), bad
    assert api.get("/api/v1/workspace").json["requireConsent"] is True


def test_a_launch_enrolls_only_granted_consents_and_reports_the_others(api: Api, pump) -> None:
    # GIVEN a workspace that requires consent, and three members of different consents
    assert api.patch("/api/v1/workspace", {"requireConsent": True}).status == 200
    verify_sender(api)
    people = _people(api)
    leads = new_group(api, "Leads")
    add_members(api, leads, list(people.values()))
    pump.drain()
    campaign = running_campaign(api, [new_group(api, "Newsletter", "DYNAMIC")], steps=ONE_EMAIL)
    # WHEN the group is added to a running campaign
    reply = api.post(f"/api/v1/groups/{leads}/actions", {"action": "addToCampaign", "campaignId": campaign})
    assert reply.status == 202, reply.json
    assert all(call.ok for call in pump.drain())
    # THEN only the granted one is enrolled and emailed; the others say why
    job = api.get(f"/api/v1/jobs/{reply.json['jobId']}").json
    assert sorted(job["errors"], key=lambda e: e["contactId"]) == sorted(
        [
            {"contactId": people["pending"], "reason": "noConsent"},
            {"contactId": people["none"], "reason": "noConsent"},
        ],
        key=lambda e: e["contactId"],
    )
    assert [e["contactId"] for e in enrollments(api, campaign)] == [people["granted"]]
    assert [m.to for m in sent_emails()] == ["granted@example.com"]


def test_without_the_setting_consent_does_not_decide(api: Api, pump) -> None:
    verify_sender(api)
    people = _people(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    add_members(api, leads, list(people.values()))
    assert all(call.ok for call in pump.drain())
    assert {e["contactId"] for e in enrollments(api, campaign)} == set(people.values())


def test_a_dynamic_join_of_a_contact_without_consent_is_not_enrolled(api: Api, pump) -> None:
    from chalicelib.campaigns import enrollment

    assert api.patch("/api/v1/workspace", {"requireConsent": True}).status == 200
    verify_sender(api)
    people = _people(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    add_members(api, leads, list(people.values()))
    assert all(call.ok for call in pump.drain())
    assert [e["contactId"] for e in enrollments(api, campaign)] == [people["granted"]]
    outcome = enrollment.enroll(
        workspace_of(api), [people["none"]], [enrollment.Target(campaign)], source="test", via_group_id=leads
    )
    assert outcome.skipped == [(people["none"], campaign, "noConsent")]


def test_an_unconfirmed_contact_is_never_enrolled(api: Api, pump) -> None:
    from chalicelib.campaigns import enrollment

    verify_sender(api)
    unconfirmed = api.post("/api/v1/contacts", {"email": "u@example.com", "status": "UNCONFIRMED"}).json
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=ONE_EMAIL)
    add_members(api, leads, [unconfirmed["id"]])
    assert all(call.ok for call in pump.drain())
    assert enrollments(api, campaign) == []
    assert sent_emails() == []
    outcome = enrollment.enroll(
        workspace_of(api),
        [unconfirmed["id"]],
        [enrollment.Target(campaign)],
        source="test",
        via_group_id=leads,
    )
    assert outcome.skipped == [(unconfirmed["id"], campaign, "unconfirmed")]


def test_consent_required_while_campaigns_run_stops_the_next_email_of_the_others(
    api: Api, pump, fake_clock
) -> None:
    # GIVEN contacts of every consent enrolled in a campaign of two emails a day apart, the
    # first email sent, in a workspace that does not require consent yet
    verify_sender(api)
    people = _people(api)
    leads = new_group(api, "Leads", "DYNAMIC")
    steps = [*ONE_EMAIL, {"type": "wait", "days": 1}, {"type": "email", "subject": "Again", "bodyText": "Hi"}]
    campaign = running_campaign(api, [leads], steps=steps)
    add_members(api, leads, list(people.values()))
    assert all(call.ok for call in fake_clock.drain(pump, wait=3))
    assert len(sent_emails()) == 3
    # WHEN the workspace starts requiring consent, and the day passes
    assert api.patch("/api/v1/workspace", {"requireConsent": True}).status == 200
    let_time_pass(fake_clock, pump, 86_400 + 60)
    # THEN only the granted contact gets the second email; the others stop, saying why
    assert [(m.to, m.subject) for m in sent_emails()[3:]] == [("granted@example.com", "Again")]
    ended = {e["contactId"]: (e["status"], e["stopReason"]) for e in enrollments(api, campaign)}
    assert ended == {
        people["granted"]: ("COMPLETED", None),
        people["pending"]: ("STOPPED", "noConsent"),
        people["none"]: ("STOPPED", "noConsent"),
    }
