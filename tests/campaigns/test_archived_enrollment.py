"""Archived contacts and campaigns: never enrolled (reason `archived`), and archiving an
enrolled contact stops its enrollments."""

from __future__ import annotations

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
)

ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]

pytestmark = pytest.mark.usefixtures("fake_clock")


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def test_an_archived_contact_is_not_enrolled_at_launch_nor_by_a_join(api: Api, pump) -> None:
    # GIVEN a group with an archived member, and a DYNAMIC group
    static, dynamic = new_group(api, "Static"), new_group(api, "Dynamic", "DYNAMIC")
    kept, archived, joiner = make_contacts(api, 3)
    add_members(api, static, [kept, archived])
    for contact in (archived, joiner):
        assert api.post(f"/api/v1/contacts/{contact}/archive").status == 200
    pump.drain()
    # WHEN a campaign on both groups launches and the archived joiner joins the DYNAMIC one
    campaign = running_campaign(api, [static, dynamic], steps=ONE_EMAIL)
    assert all(call.ok for call in pump.drain())
    add_members(api, dynamic, [joiner])
    assert all(call.ok for call in pump.drain())
    # THEN only the live contact is enrolled and mailed
    assert [e["contactId"] for e in enrollments(api, campaign)] == [kept]
    assert [m.to for m in sent_emails()] == ["person0@example.com"]


def test_archiving_an_enrolled_contact_stops_its_enrollment(api: Api, pump) -> None:
    # GIVEN two contacts enrolled in a campaign with a second email two days on
    leads = new_group(api, "Leads", "DYNAMIC")
    steps = [*ONE_EMAIL, {"type": "wait", "days": 2}, *ONE_EMAIL]
    campaign = running_campaign(api, [leads], steps=steps)
    contact, other = make_contacts(api, 2)
    add_members(api, leads, [contact, other])
    pump.drain()
    # WHEN one is archived
    assert api.post(f"/api/v1/contacts/{contact}/archive").status == 200
    assert all(call.ok for call in pump.drain())
    # THEN its enrollment stops with the reason `archived`; the other goes on
    found = {e["contactId"]: e for e in enrollments(api, campaign)}
    assert (found[contact]["status"], found[contact]["stopReason"]) == ("STOPPED", "archived")
    assert found[other]["status"] == "ACTIVE"
