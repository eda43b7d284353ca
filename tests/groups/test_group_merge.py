"""Merging groups (API.md "Group merge"): a resumable paged job; members join the target once,
a DYNAMIC target enrolls the new ones as any join does, campaigns are re-pointed, sources
deleted on request; every bad request a 4xx with nothing written."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.events import dispatch
from chalicelib.flows import group_merge
from chalicelib.groups import jobs
from chalicelib.models.groups import Membership
from chalicelib.models.jobs import Job
from chalicelib.models.keys import group_partition, workspace
from tests.support.api import Api
from tests.support.campaigns import enrollments, new_campaign, running_campaign, sent_emails, verify_sender
from tests.support.contacts import make_contacts, seed_contacts
from tests.support.groups import add, member_ids, new_group, seed_members, stats
from tests.support.workspaces import workspace_of

ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]


def merge(api: Api, target: str, sources: list[str], **body: Any) -> str:
    reply = api.post(f"/api/v1/groups/{target}/merge", {"sourceGroupIds": sources, **body})
    assert reply.status == 202, reply.json
    return str(reply.json["jobId"])


def job(api: Api, job_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/v1/jobs/{job_id}")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def jobs_of(api: Api) -> list[Job]:
    return list(Job.query(workspace(workspace_of(api)), Job.sk.startswith("JOB#")))


class FailingOnce:
    """The merge's page, failing on its `fail_on`-th call (a Lambda that died half way)."""

    def __init__(self, fail_on: int) -> None:
        self.calls, self.fail_on = 0, fail_on

    def __call__(self, job: Job, members: list[Any]) -> jobs.PageResult:
        self.calls += 1
        if self.calls == self.fail_on:
            group_merge.merge_page(job, members[: len(members) // 2])  # half the page written
            raise RuntimeError("the Lambda died half way")
        return group_merge.merge_page(job, members)


def test_a_merge_of_hundreds_across_pages_survives_a_failed_page(api: Api, pump, monkeypatch) -> None:
    # GIVEN a target with 30 members, and two sources of 150 and 100 (the 30 among the first)
    people = seed_contacts(api, 250)
    target, first, second = new_group(api, "Target"), new_group(api, "Fair 2025"), new_group(api, "Fair 2026")
    seed_members(api, target, people[:30])
    seed_members(api, first, people[:150])
    seed_members(api, second, people[150:])
    assert all(call.ok for call in pump.drain())
    # AND pages of 40 members, the fourth of which fails once, half written
    page = FailingOnce(fail_on=4)
    kind = dataclasses.replace(group_merge.MERGE_KIND, run_page=page, page_size=40)
    monkeypatch.setitem(dispatch.job_kinds(), group_merge.MERGE, kind)  # type: ignore[index]
    # WHEN both are merged into the target
    job_id = merge(api, target, [first, second])
    assert job(api, job_id)["status"] == "PENDING"
    calls = pump.drain()
    # THEN the failed page was run again, and every member is in the target once
    assert [call for call in calls if not call.ok], "the failing page's delivery failed"
    assert page.calls == 4 + 3 + 1  # 150 members in 4 pages, 100 in 3, the failed one again
    found = job(api, job_id)
    assert (found["status"], found["processed"], found["total"], found["errors"]) == (
        "COMPLETED",
        250,
        250,
        [],
    )
    members = member_ids(api, target, limit="500")
    assert sorted(members) == sorted(p["id"] for p in people)
    assert stats(api, target)["totalContacts"] == 250
    # AND the sources keep their members (deleteSources was not asked)
    assert len(member_ids(api, first, limit="500")) == 150


def test_a_dynamic_target_enrolls_new_members_once_and_existing_ones_not_again(api: Api, pump) -> None:
    verify_sender(api)
    # GIVEN a DYNAMIC target with one member enrolled in its running campaign
    target, source = new_group(api, "Customers", "DYNAMIC"), new_group(api, "Leads", "DYNAMIC")
    old, new_one, new_two = make_contacts(api, 3)
    add(api, target, [old])
    campaign = running_campaign(api, [target], steps=ONE_EMAIL)
    assert all(call.ok for call in pump.drain())
    assert [e["contactId"] for e in enrollments(api, campaign)] == [old]
    # AND a source holding that member and two others
    add(api, source, [old, new_one, new_two])
    pump.drain()
    # WHEN the source is merged into the target, and its page is run a second time
    job_id = merge(api, target, [source])
    assert all(call.ok for call in pump.drain())
    ws = workspace_of(api)
    again = group_merge.merge_page(
        Job.get(*Job.key(ws, job_id)), list(Membership.query(group_partition(ws, source)))
    )
    assert again.counts == {"added": 0, "alreadyMember": 3}
    assert all(call.ok for call in pump.drain())
    # THEN the two new members are enrolled once each, through the join; the old one not again
    found = {e["contactId"]: e for e in enrollments(api, campaign)}
    assert sorted(found) == sorted([old, new_one, new_two])
    assert found[new_one]["source"] == found[new_two]["source"] == "dynamicGroup"
    assert sorted(m.to for m in sent_emails()) == [
        "person0@example.com",
        "person1@example.com",
        "person2@example.com",
    ]
    assert job(api, job_id)["status"] == "COMPLETED"


def test_campaigns_are_re_pointed_and_sources_deleted_on_request(api: Api, pump) -> None:
    verify_sender(api)
    # GIVEN two sources named by campaigns (one includes, one excludes), and the target
    target, first, second = new_group(api, "All"), new_group(api, "A"), new_group(api, "B")
    people = make_contacts(api, 4)
    add(api, first, people[:2])
    add(api, second, people[2:])
    including = new_campaign(api, [first, target], name="Including")["id"]
    excluding = new_campaign(api, [new_group(api, "Other")], [second], name="Excluding")["id"]
    running = running_campaign(api, [second], name="Running")
    pump.drain()
    # WHEN both are merged into the target, deleting them
    job_id = merge(api, target, [first, second], deleteSources=True)
    assert all(call.ok for call in pump.drain())
    # THEN the campaigns name the target instead (once), the sources are gone, the contacts stay
    assert job(api, job_id)["status"] == "COMPLETED"
    assert api.get(f"/api/v1/campaigns/{including}").json["includeGroupIds"] == [target]
    assert api.get(f"/api/v1/campaigns/{excluding}").json["excludeGroupIds"] == [target]
    assert api.get(f"/api/v1/campaigns/{running}").json["includeGroupIds"] == [target]
    for source in (first, second):
        assert api.get(f"/api/v1/groups/{source}").status == 404
    assert sorted(member_ids(api, target)) == sorted(people)
    assert all(api.get(f"/api/v1/contacts/{p}").status == 200 for p in people)
    assert stats(api, target)["linkedRunningCampaigns"] == 1
    # AND a finish run again (its message delivered twice) changes nothing
    group_merge.finish(Job.get(*Job.key(workspace_of(api), job_id)))
    assert api.get(f"/api/v1/campaigns/{including}").json["includeGroupIds"] == [target]
    assert stats(api, target)["linkedRunningCampaigns"] == 1


def test_bad_merges_are_4xx_and_write_nothing(api: Api, new_workspace, pump) -> None:
    # GIVEN groups of both types, a rule group, another workspace's group and a campaign that
    # includes one group and excludes another
    static, other_static, dynamic = new_group(api, "S1"), new_group(api, "S2"), new_group(api, "D", "DYNAMIC")
    rules = {"field": "tags", "op": "has", "value": "vip"}
    ruled = api.post("/api/v1/groups", {"name": "R", "type": "STATIC", "rules": rules}).json["id"]
    theirs = new_group(new_workspace(name="Other"), "Theirs")
    verify_sender(api)
    both_ways, excluded = new_group(api, "In"), new_group(api, "Out")
    new_campaign(api, [both_ways], [excluded])
    add(api, other_static, make_contacts(api, 2))
    pump.drain()
    cases: list[tuple[str, Any, int, str]] = [
        (static, {"sourceGroupIds": [static]}, 409, "conflict"),
        (static, {"sourceGroupIds": [other_static, static]}, 409, "conflict"),
        (static, {"sourceGroupIds": [dynamic]}, 409, "conflict"),
        (static, {"sourceGroupIds": [ruled]}, 409, "conflict"),
        (ruled, {"sourceGroupIds": [static]}, 409, "conflict"),
        (both_ways, {"sourceGroupIds": [excluded]}, 409, "conflict"),
        (static, {"sourceGroupIds": [theirs]}, 404, "not_found"),
        (static, {"sourceGroupIds": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}, 404, "not_found"),
        (theirs, {"sourceGroupIds": [static]}, 404, "not_found"),
        (static, {"sourceGroupIds": []}, 422, "validation_error"),
        (static, {"sourceGroupIds": "x"}, 422, "validation_error"),
        (static, {"deleteSources": True}, 422, "validation_error"),
    ]
    for target, body, status, code in cases:
        reply = api.post(f"/api/v1/groups/{target}/merge", body)
        assert (reply.status, reply.error_code) == (status, code), (body, reply.json)
    # THEN no job was started and no group changed
    assert jobs_of(api) == []
    assert member_ids(api, static) == []
    assert len(member_ids(api, other_static)) == 2


def test_an_archived_member_of_a_source_joins_the_target_uncounted(api: Api, pump) -> None:
    # GIVEN a source with a live and an archived member
    target, source = new_group(api, "T"), new_group(api, "S")
    live, gone = make_contacts(api, 2)
    add(api, source, [live, gone])
    assert api.post(f"/api/v1/contacts/{gone}/archive").status == 200
    pump.drain()
    # WHEN it is merged
    merge(api, target, [source])
    assert all(call.ok for call in pump.drain())
    # THEN both are members (history kept), only the live one counted and listed
    assert member_ids(api, target) == [live]
    assert stats(api, target)["totalContacts"] == 1
    assert [g["id"] for g in api.get(f"/api/v1/contacts/{gone}/groups").json["items"]] == sorted(
        [target, source]
    )


def test_enrollments_through_a_deleted_source_do_not_stop_when_leaving(api: Api, pump) -> None:
    verify_sender(api)
    # GIVEN a running campaign that stops when its contacts leave their group, on the source
    target, source = new_group(api, "All", "DYNAMIC"), new_group(api, "Fair", "DYNAMIC")
    steps = [*ONE_EMAIL, {"type": "wait", "days": 2}, *ONE_EMAIL]
    campaign = running_campaign(api, [source], steps=steps, stopWhenLeaving=True)
    contacts = make_contacts(api, 2)
    add(api, source, contacts)
    pump.drain()
    assert [e["status"] for e in enrollments(api, campaign)] == ["ACTIVE", "ACTIVE"]
    # WHEN the source is merged into the target and deleted
    merge(api, target, [source], deleteSources=True)
    assert all(call.ok for call in pump.drain())
    # THEN its members moved with it: their enrollments go on, not enrolled twice
    assert api.get(f"/api/v1/campaigns/{campaign}").json["includeGroupIds"] == [target]
    assert [e["status"] for e in enrollments(api, campaign)] == ["ACTIVE", "ACTIVE"]
