"""Bulk actions on a whole group: apply tags, add to a campaign, delete its contacts; as jobs."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.campaigns import new_campaign, verify_sender
from tests.support.contacts import make_contacts
from tests.support.groups import add, member_ids, new_group


def _start(api: Api, group: str, body: dict[str, Any], **kw: Any) -> str:
    reply = api.post(f"/api/v1/groups/{group}/actions", body, **kw)
    assert reply.status == 202, reply.json
    return reply.json["jobId"]


def _job(api: Api, job_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/v1/jobs/{job_id}")
    assert reply.status == 200, reply.json
    return reply.json


def test_apply_tags_tags_every_member_and_only_them(api, pump) -> None:
    group = new_group(api, "Trade show")
    members = make_contacts(api, 5)
    outsider = make_contacts(api, 1, prefix="outsider")[0]
    tagged_before = make_contacts(api, 1, prefix="tagged", tags=["vip"])[0]
    add(api, group, [*members, tagged_before])
    pump.drain()
    job_id = _start(api, group, {"action": "applyTags", "tags": ["vip", "salon-2024", "vip"]})
    assert _job(api, job_id)["status"] == "PENDING"
    assert all(call.ok for call in pump.drain())
    job = _job(api, job_id)
    assert (job["status"], job["processed"], job["total"], job["errors"]) == ("COMPLETED", 6, 6, [])
    for contact in members:
        assert api.get(f"/api/v1/contacts/{contact}").json["tags"] == ["vip", "salon-2024"]
    assert api.get(f"/api/v1/contacts/{tagged_before}").json["tags"] == ["vip", "salon-2024"]
    assert api.get(f"/api/v1/contacts/{outsider}").json["tags"] == []


def test_bad_actions_are_422_and_start_nothing(api) -> None:
    group = new_group(api, "Leads")
    for body in (
        {"action": "applyTags"},
        {"action": "applyTags", "tags": []},
        {"action": "applyTags", "tags": [""]},
        {"action": "applyTags", "tags": ["a\nb"]},
        {"action": "addToCampaign"},
        {"action": "deleteContacts"},
        {"action": "deleteContacts", "confirm": False},
        {"action": "explode"},
        {"tags": ["x"]},
    ):
        reply = api.post(f"/api/v1/groups/{group}/actions", body)
        assert (reply.status, reply.error_code) == (422, "validation_error"), body


def test_delete_contacts_removes_them_from_the_workspace(api, pump) -> None:
    # GIVEN
    group = new_group(api, "To forget")
    other = new_group(api, "Other")
    doomed = make_contacts(api, 3)
    kept = make_contacts(api, 1, prefix="kept")[0]
    add(api, group, doomed)
    add(api, other, [doomed[0], kept])
    pump.drain()
    # WHEN
    job_id = _start(api, group, {"action": "deleteContacts", "confirm": True})
    # THEN
    assert all(call.ok for call in pump.drain())
    assert (_job(api, job_id)["status"], _job(api, job_id)["processed"]) == ("COMPLETED", 3)
    assert all(api.get(f"/api/v1/contacts/{c}").status == 404 for c in doomed)
    assert api.get(f"/api/v1/contacts/{kept}").status == 200
    assert api.get("/api/v1/workspace").json["contactCount"] == 1
    assert member_ids(api, group) == []
    assert member_ids(api, other) == [kept]
    assert api.get(f"/api/v1/groups/{group}").json["memberCount"] == 0


def test_add_to_campaign_hands_the_members_to_the_campaign(api, pump) -> None:
    verify_sender(api)
    launched_with = new_group(api, "Launch group")
    group = new_group(api, "Late arrivals")
    contacts = make_contacts(api, 3)
    add(api, group, contacts)
    campaign = new_campaign(api, [launched_with])
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/launch").status == 202
    pump.drain()
    job_id = _start(api, group, {"action": "addToCampaign", "campaignId": campaign["id"]})
    assert all(call.ok for call in pump.drain())
    assert _job(api, job_id)["status"] == "COMPLETED"
    enrolled = api.get(f"/api/v1/campaigns/{campaign['id']}/enrollments").json["items"]
    assert sorted(e["contactId"] for e in enrolled) == sorted(contacts)
    assert {(e["source"], e["viaGroupId"]) for e in enrolled} == {("manual", group)}


def test_add_to_an_unknown_or_draft_campaign_is_refused(api) -> None:
    from chalicelib.platform.ids import new_id

    group = new_group(api, "Leads")
    unknown = api.post(f"/api/v1/groups/{group}/actions", {"action": "addToCampaign", "campaignId": new_id()})
    assert (unknown.status, unknown.error_code) == (404, "not_found")
    draft = new_campaign(api, [group])
    refused = api.post(
        f"/api/v1/groups/{group}/actions", {"action": "addToCampaign", "campaignId": draft["id"]}
    )
    assert (refused.status, refused.error_code) == (409, "conflict")


def test_the_same_idempotency_key_starts_one_job(api) -> None:
    group = new_group(api, "Leads")
    headers = {"Idempotency-Key": "tag-them-once"}
    first = _start(api, group, {"action": "applyTags", "tags": ["a"]}, headers=headers)
    assert _start(api, group, {"action": "applyTags", "tags": ["a"]}, headers=headers) == first
    reused = api.post(
        f"/api/v1/groups/{group}/actions", {"action": "applyTags", "tags": ["b"]}, headers=headers
    )
    assert reused.status == 409
