"""Bulk work on a filter (POST /api/v1/contacts/bulk, API.md "Segments"): each action reaches
every contact the filter matches and only them, over several pages, even when the action makes
a contact leave the index the pages follow; a page run again changes nothing twice; every
contact not acted on is reported; bad input is a 4xx that starts nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.events import dispatch
from chalicelib.flows import contact_bulk
from chalicelib.groups import jobs
from chalicelib.segments import search
from tests.support.api import Api
from tests.support.campaigns import dynamodb_fault, new_campaign, running_campaign, verify_sender
from tests.support.contacts import make_contacts
from tests.support.groups import add, member_ids, new_group
from tests.support.workspaces import workspace_of

VIP = {"field": "tags", "op": "has", "value": "vip"}
ACTIVE_VIPS = {"all": [{"field": "status", "op": "eq", "value": "ACTIVE"}, VIP]}
LEAD_VIPS = {"all": [{"field": "pipelineStage", "op": "eq", "value": "LEAD"}, VIP]}
PAGE = 2  # contacts a page: 5 matches take 3 pages


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of PAGE items (the search's read limit too), so a job over a few contacts takes
    several pages."""
    monkeypatch.setattr(search, "READ_LIMIT", PAGE)
    small = jobs.Kind(contact_bulk.run_page, page_size=PAGE, read_page=contact_bulk.read_matches)
    for action in contact_bulk.ACTIONS:
        monkeypatch.setitem(dispatch.job_kinds(), contact_bulk.kind_name(action), small)  # type: ignore[index]


def _start(api: Api, body: dict[str, Any]) -> str:
    reply = api.post("/api/v1/contacts/bulk", body)
    assert reply.status == 202, reply.json
    return str(reply.json["jobId"])


def _job(api: Api, job_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/v1/jobs/{job_id}")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def _contact(api: Api, contact_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/contacts/{contact_id}").json)


def _people(api: Api) -> tuple[list[str], list[str]]:
    """Five contacts tagged vip (the matches of VIP) and two others, each with a third tag."""
    matching = make_contacts(api, 5, prefix="vip", tags=["vip", "web"])
    others = make_contacts(api, 2, prefix="other", tags=["web"])
    return matching, others


def _nothing(api: Api) -> dict[str, Any]:
    return {}


def _group_of_matches(api: Api) -> dict[str, Any]:
    return {"groupId": new_group(api, "Target")}


def _members_group(api: Api) -> dict[str, Any]:
    group = new_group(api, "Members")
    vips = [c["id"] for c in api.post("/api/v1/contacts/search", {"filter": VIP, "limit": 100}).json["items"]]
    add(api, group, vips)
    return {"groupId": group, "filter": {"field": "groups", "op": "has", "value": group}}


def _seats_field(api: Api) -> dict[str, Any]:
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    return {}


CASES: dict[str, tuple[dict[str, Any], Callable[[Api], dict[str, Any]]]] = {
    "addTags": ({"action": "addTags", "tags": ["gold", "vip"]}, _nothing),
    # Pages the tag's contacts while taking the tag off them.
    "removeTags": ({"action": "removeTags", "tags": ["vip"]}, _nothing),
    "setFields": (
        {"action": "setFields", "fields": {"company": "Acme", "customFields": {"seats": 3}}},
        _seats_field,
    ),
    # Pages the ACTIVE contacts while changing their status.
    "setStatus": ({"action": "setStatus", "status": "UNSUBSCRIBED", "filter": ACTIVE_VIPS}, _nothing),
    # Pages the LEAD contacts while changing their stage.
    "setPipelineStage": (
        {"action": "setPipelineStage", "pipelineStage": "WON", "filter": LEAD_VIPS},
        _nothing,
    ),
    "addToGroup": ({"action": "addToGroup"}, _group_of_matches),
    # Pages the group's members while removing them.
    "removeFromGroup": ({"action": "removeFromGroup"}, _members_group),
    # Pages the tag's contacts while deleting them.
    "delete": ({"action": "delete", "confirm": True}, _nothing),
}


def _value(action: str, contact: dict[str, Any]) -> Any:
    if action in ("addTags", "removeTags"):
        return contact["tags"]
    if action == "setFields":
        return contact["company"], contact["customFields"]
    return contact["status"] if action == "setStatus" else contact["pipelineStage"]


def _expected(action: str, matched: bool) -> Any:
    return {
        "addTags": ["vip", "web", "gold"] if matched else ["web"],
        "removeTags": ["web"],
        "setFields": ("Acme", {"seats": 3}) if matched else (None, {}),
        "setStatus": "UNSUBSCRIBED" if matched else "ACTIVE",
        "setPipelineStage": "WON" if matched else "LEAD",
    }[action]


@pytest.mark.parametrize("action", list(CASES))
def test_each_action_reaches_every_match_over_several_pages_and_only_them(
    api: Api, pump: Any, action: str
) -> None:
    # GIVEN five matching contacts and two others, and what the action needs
    body, before = CASES[action]
    matching, others = _people(api)
    extra = before(api)
    request = {"filter": VIP, **body, **extra}
    # WHEN the action is started on the filter and the jobs queue drains
    job_id = _start(api, request)
    assert all(call.ok for call in pump.drain())
    # THEN the job completed over several pages, every match once
    job = _job(api, job_id)
    assert (job["status"], job["processed"], job["errorCount"]) == ("COMPLETED", 5, 0), job
    assert (job["counts"]["changed"], job["counts"]["failed"]) == (5, 0), job
    assert int(jobs.get(workspace_of(api), job_id).page) >= 3
    # and each contact is as the action says: the matches changed, the others not
    if action == "addToGroup":
        assert sorted(member_ids(api, extra["groupId"])) == sorted(matching)
    elif action == "removeFromGroup":
        assert member_ids(api, extra["groupId"]) == []
    elif action == "delete":
        assert [api.get(f"/api/v1/contacts/{c}").status for c in matching] == [404] * 5
        assert [api.get(f"/api/v1/contacts/{c}").status for c in others] == [200] * 2
    else:
        for contact_id in matching + others:
            got = _contact(api, contact_id)
            assert _value(action, got) == _expected(action, contact_id in matching), (contact_id, got)


def test_add_to_campaign_enrolls_the_eligible_matches_and_reports_the_others(api: Api, pump: Any) -> None:
    # GIVEN a running campaign, five matches (one unsubscribed), two others
    verify_sender(api)
    campaign = running_campaign(api, [new_group(api, "Launch")])
    matching, _ = _people(api)
    assert api.patch(f"/api/v1/contacts/{matching[0]}", {"status": "UNSUBSCRIBED"}).status == 200
    # WHEN they are added to it by the filter
    job_id = _start(api, {"filter": VIP, "action": "addToCampaign", "campaignId": campaign})
    assert all(call.ok for call in pump.drain())
    # THEN the four eligible are enrolled, the unsubscribed one is reported with its reason
    enrolled = api.get(f"/api/v1/campaigns/{campaign}/enrollments").json["items"]
    assert sorted(e["contactId"] for e in enrolled) == sorted(matching[1:])
    assert {(e["source"], e["viaGroupId"]) for e in enrolled} == {("manual", None)}
    job = _job(api, job_id)
    assert (job["status"], job["processed"], job["counts"]["changed"]) == ("COMPLETED", 5, 4)
    assert job["errors"] == [
        {"contactId": matching[0], "email": "vip0@example.com", "reason": "unsubscribed"}
    ]


def test_set_status_never_lowers_one_and_reports_it_in_the_job_and_its_csv(api: Api, pump: Any) -> None:
    # GIVEN five matches, two of them unsubscribed
    matching, _ = _people(api)
    for contact_id in matching[:2]:
        assert api.patch(f"/api/v1/contacts/{contact_id}", {"status": "UNSUBSCRIBED"}).status == 200
    # WHEN the filter's contacts are set to REPLIED
    job_id = _start(api, {"filter": VIP, "action": "setStatus", "status": "REPLIED"})
    assert api.get(f"/api/v1/jobs/{job_id}/errors.csv").status == 409  # not finished yet
    assert all(call.ok for call in pump.drain())
    # THEN three are REPLIED, the two unsubscribed stay so and are reported, once each
    assert [_contact(api, c)["status"] for c in matching] == ["UNSUBSCRIBED"] * 2 + ["REPLIED"] * 3
    job = _job(api, job_id)
    assert (job["errorCount"], job["counts"]) == (2, {"changed": 3, "unchanged": 0, "failed": 2})
    assert sorted(e["contactId"] for e in job["errors"]) == sorted(matching[:2])
    assert all(e["reason"].startswith("statusNotLowered") for e in job["errors"])
    report = api.get(f"/api/v1/jobs/{job_id}/errors.csv")
    assert report.status == 200 and report.headers["Content-Type"].startswith("text/csv")
    lines = report.body.decode("utf-8").lstrip("\ufeff").strip().split("\r\n")
    assert lines[0] == "contactId,email,reason"
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(matching[:2])


def test_a_page_whose_record_failed_is_run_again_and_reported_once(api: Api, pump: Any) -> None:
    # GIVEN five matches, the first two unsubscribed (reported on the first page)
    matching, _ = _people(api)
    for contact_id in matching[:2]:
        assert api.patch(f"/api/v1/contacts/{contact_id}", {"status": "UNSUBSCRIBED"}).status == 200
    job_id = _start(api, {"filter": VIP, "action": "setStatus", "status": "REPLIED"})
    # WHEN each page's record fails once after its contacts were changed (the Lambda died)
    with dynamodb_fault("UpdateItem", f"JOB#{job_id}", times=2):
        calls = pump.drain()
    assert any(not call.ok for call in calls)
    # THEN the pages ran again, and the job says what happened once
    job = _job(api, job_id)
    assert (job["status"], job["processed"], job["errorCount"]) == ("COMPLETED", 5, 2), job
    assert [_contact(api, c)["status"] for c in matching] == ["UNSUBSCRIBED"] * 2 + ["REPLIED"] * 3
    lines = api.get(f"/api/v1/jobs/{job_id}/errors.csv").body.decode("utf-8").strip().split("\r\n")
    assert len(lines) == 1 + 2


def test_a_page_run_twice_changes_nothing_the_second_time(api: Api, pump: Any, requests: Any) -> None:
    # GIVEN a setFields job that ran
    matching, _ = _people(api)
    job_id = _start(api, {"filter": VIP, "action": "setFields", "fields": {"company": "Acme"}})
    stale = jobs.get(workspace_of(api), job_id)  # what a late second delivery of page 0 read
    assert all(call.ok for call in pump.drain())
    updated = {c: _contact(api, c)["updatedAt"] for c in matching}
    # WHEN its first page runs again
    requests.reset()
    jobs.run(stale, 0, dispatch.job_kinds())
    # THEN no contact was written again
    assert requests.snapshot().get("dynamodb.TransactWriteItems", 0) == 0
    assert {c: _contact(api, c)["updatedAt"] for c in matching} == updated
    assert _job(api, job_id)["processed"] == 5


def _jobs_written(api: Api) -> int:
    from chalicelib.models.jobs import Job
    from chalicelib.models.keys import workspace

    return sum(1 for _ in Job.query(workspace(workspace_of(api)), Job.sk.startswith("JOB#")))


def test_bad_input_is_a_4xx_naming_it_and_starts_nothing(api: Api, new_workspace: Any) -> None:
    from chalicelib.platform.ids import new_id

    # GIVEN a rule group, a draft campaign, another workspace's group
    verify_sender(api)
    rule_group = api.post("/api/v1/groups", {"name": "R", "type": "DYNAMIC", "rules": VIP}).json["id"]
    draft = new_campaign(api, [new_group(api, "L")])["id"]
    theirs = new_group(new_workspace(name="Other"), "Theirs")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "addTags"}, 422, "tags"),
        ({"action": "addTags", "tags": ["a\nb"]}, 422, "tags.0"),
        ({"action": "removeTags", "tags": []}, 422, "tags"),
        ({"action": "setFields"}, 422, "fields"),
        ({"action": "setFields", "fields": {"email": "x@example.com"}}, 422, "fields.email"),
        (
            {"action": "setFields", "fields": {"customFields": {"nothing": 1}}},
            422,
            "fields.customFields.nothing",
        ),
        ({"action": "setStatus"}, 422, "status"),
        ({"action": "setStatus", "status": "ASLEEP"}, 422, "status"),
        ({"action": "setStatus", "status": "ACTIVE"}, 422, "status"),
        # below ACTIVE (a double opt-in lead's): no contact could be raised to it
        ({"action": "setStatus", "status": "UNCONFIRMED"}, 422, "status"),
        ({"action": "setPipelineStage"}, 422, "pipelineStage"),
        ({"action": "addToGroup"}, 422, "groupId"),
        ({"action": "addToGroup", "groupId": new_id()}, 404, ""),
        ({"action": "addToGroup", "groupId": theirs}, 404, ""),
        ({"action": "addToGroup", "groupId": rule_group}, 409, "groupId"),
        ({"action": "removeFromGroup", "groupId": rule_group}, 409, "groupId"),
        ({"action": "addToCampaign"}, 422, "campaignId"),
        ({"action": "addToCampaign", "campaignId": new_id()}, 404, ""),
        ({"action": "addToCampaign", "campaignId": draft}, 409, "campaignId"),
        ({"action": "delete"}, 422, "confirm"),
        ({"action": "explode"}, 422, "action"),
        (
            {"action": "addTags", "tags": ["x"], "filter": {"field": "nickname", "op": "eq", "value": "x"}},
            422,
            "filter.field",
        ),
    ]
    for body, status, field in cases:
        # WHEN a bad bulk request is sent
        reply = api.post("/api/v1/contacts/bulk", {"filter": VIP, **body})
        # THEN it is refused naming what is wrong
        assert reply.status == status, (body, reply.json)
        if field:
            assert field in [d.get("field") for d in reply.json["error"]["details"]], (body, reply.json)
    # and no job was written
    assert _jobs_written(api) == 0


def test_a_bulk_job_is_its_workspaces_only(api: Api, new_workspace: Any) -> None:
    job_id = _start(api, {"filter": VIP, "action": "addTags", "tags": ["x"]})
    assert new_workspace(name="Other").get(f"/api/v1/jobs/{job_id}").status == 404
    assert new_workspace(name="Third").get(f"/api/v1/jobs/{job_id}/errors.csv").status == 404


def test_a_large_errors_report_is_a_redirect_to_its_download(api: Api, pump: Any, monkeypatch: Any) -> None:
    from chalicelib.groups import job_report

    # GIVEN a finished job with failures, and a report larger than the inline limit
    monkeypatch.setattr(job_report, "INLINE_BYTES", 10)
    matching, _ = _people(api)
    assert api.patch(f"/api/v1/contacts/{matching[3]}", {"status": "BLOCKED"}).status == 200
    job_id = _start(api, {"filter": VIP, "action": "setStatus", "status": "BOUNCED"})
    assert all(call.ok for call in pump.drain())
    # WHEN its report is asked for
    reply = api.get(f"/api/v1/jobs/{job_id}/errors.csv")
    # THEN it is a 303 to the report's download
    assert reply.status == 303 and f"{job_id}" in reply.headers["Location"]


def test_a_page_served_by_an_index_reads_one_query_and_one_batch_of_contacts(
    api: Api, pump: Any, requests: Any
) -> None:
    # GIVEN a job over a tag's contacts
    _people(api)
    job_id = _start(api, {"filter": VIP, "action": "setFields", "fields": {"company": "Acme"}})
    job = jobs.get(workspace_of(api), job_id)
    # WHEN its first page runs
    requests.reset()
    jobs.run(job, 0, dispatch.job_kinds())
    # THEN it read the tag's partition once and its contacts in one batch, wrote them in one
    # transaction, recorded the page and sent the next
    counted = requests.snapshot()
    assert {k: v for k, v in counted.items() if k.startswith("dynamodb")} == {
        "dynamodb.Query": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "dynamodb.UpdateItem": 1,
    }, counted
