"""Launch is a moment (issue #18, item 3): a launch enrolls the members its groups had when
the launch was answered. A contact who joins a STATIC group a few milliseconds after the 202
is not enrolled by it, whenever the launch job reaches its page; one who joins a DYNAMIC
group then is enrolled by the stream, source "dynamicGroup", never "launch"."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    enrollments,
    launch,
    make_contacts,
    new_campaign,
    new_group,
    verify_sender,
)

ONE_EMAIL = [{"type": "email", "subject": "Hello {{firstName}}", "bodyText": "Hi"}]


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def sources(api: Api, campaign: str) -> dict[str, str]:
    return {e["contactId"]: e["source"] for e in enrollments(api, campaign)}


def test_a_contact_joining_a_static_group_just_after_the_launch_is_not_enrolled(api: Api, pump) -> None:
    static = new_group(api, "Customers")
    before, after = make_contacts(api, 2)
    add_members(api, static, [before])
    pump.drain()
    campaign = new_campaign(api, [static], steps=ONE_EMAIL)["id"]
    launch(api, campaign)
    add_members(api, static, [after])  # after the 202, before the launch job ran
    assert all(call.ok for call in pump.drain())

    assert sources(api, campaign) == {before: "launch"}
    overview = api.get(f"/api/v1/campaigns/{campaign}/overview").json
    assert overview["totals"]["enrolled"] == 1


def test_a_contact_joining_a_dynamic_group_just_after_the_launch_comes_through_the_stream(
    api: Api, pump
) -> None:
    dynamic = new_group(api, "Leads", "DYNAMIC")
    before, after = make_contacts(api, 2)
    add_members(api, dynamic, [before])
    pump.drain()
    campaign = new_campaign(api, [dynamic], steps=ONE_EMAIL)["id"]
    launch(api, campaign)
    add_members(api, dynamic, [after])
    assert all(call.ok for call in pump.drain())

    assert sources(api, campaign) == {before: "launch", after: "dynamicGroup"}


def test_a_member_from_before_the_launch_read_late_by_the_stream_is_the_launchs(api: Api, pump) -> None:
    """Its membership's stream record is handled after the launch (the stream lagged): the
    campaign is RUNNING by then, but the member was there at the launch moment."""
    dynamic = new_group(api, "Leads", "DYNAMIC")
    [member] = make_contacts(api, 1)
    campaign = new_campaign(api, [dynamic], steps=ONE_EMAIL)["id"]
    pump.drain()
    add_members(api, dynamic, [member])  # its INSERT is still unread at the launch
    launch(api, campaign)
    assert all(call.ok for call in pump.drain())

    assert sources(api, campaign) == {member: "launch"}
