"""Group statistics: one read, counters kept by the stream exactly once, the daily recount."""

from __future__ import annotations

from typing import Any

from tests.support.contacts import make_contacts
from tests.support.events import LambdaContext
from tests.support.groups import add, new_group, run_jobs, stats
from tests.support.workspaces import workspace_of


def _counts(api, group: str) -> tuple[int, int, int]:
    found = stats(api, group)
    return found["totalContacts"], found["activeContacts"], found["inactiveContacts"]


def _stream_calls_with_memberships(calls: list[Any]) -> list[Any]:
    return [
        call
        for call in calls
        if call.kind == "stream"
        and any(
            (r["dynamodb"].get("NewImage") or r["dynamodb"].get("OldImage") or {}).get("type")
            == {"S": "Membership"}
            for r in call.records
        )
    ]


def _replay(event: dict[str, Any]) -> dict[str, Any]:
    """Hand a batch to the stream handler again, as Lambda does on a retry."""
    from app import table_changes

    return table_changes(event, LambdaContext("cohort-local-table_changes"))


def test_stats_of_a_new_group_are_zero_and_one_read(api, requests) -> None:
    # GIVEN
    group = new_group(api, "Leads", "DYNAMIC")
    stats(api, group)  # warms the key cache: the next call is the route alone
    # WHEN
    requests.reset()
    # THEN
    assert stats(api, group) == {
        "type": "DYNAMIC",
        "totalContacts": 0,
        "activeContacts": 0,
        "inactiveContacts": 0,
        "linkedRunningCampaigns": 0,
        "lastCampaignSentAt": None,
        "averageEngagementRate": None,
    }
    assert requests.snapshot() == {"dynamodb.BatchGetItem": 1}


def test_counters_follow_adds_removes_and_status_changes(api, pump) -> None:
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 6)
    add(api, group, contacts[:4])
    assert all(call.ok for call in pump.drain())
    assert _counts(api, group) == (4, 4, 0)
    assert api.get(f"/api/v1/groups/{group}").json["memberCount"] == 4

    api.patch(f"/api/v1/contacts/{contacts[0]}", {"status": "UNSUBSCRIBED"})
    api.patch(f"/api/v1/contacts/{contacts[1]}", {"status": "BOUNCED"})
    api.patch(f"/api/v1/contacts/{contacts[5]}", {"status": "BOUNCED"})  # not a member
    pump.drain()
    assert _counts(api, group) == (4, 2, 2)

    api.patch(f"/api/v1/contacts/{contacts[1]}", {"status": "ACTIVE"})
    add(api, group, contacts[4:])  # one ACTIVE, one BOUNCED
    pump.drain()
    assert _counts(api, group) == (6, 4, 2)

    api.post(f"/api/v1/groups/{group}/members/remove", {"contactIds": [contacts[0], contacts[2]]})
    api.delete(f"/api/v1/contacts/{contacts[5]}")
    pump.drain()
    assert _counts(api, group) == (3, 3, 0)


def test_a_replayed_stream_batch_does_not_count_twice(api, pump) -> None:
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 5)
    add(api, group, contacts)
    calls = _stream_calls_with_memberships(pump.drain())
    assert calls
    assert _counts(api, group) == (5, 5, 0)
    for call in calls:
        assert _replay(call.event) == {"batchItemFailures": []}
        records = call.event["Records"]
        _replay({"Records": records[len(records) // 2 :]})  # a retry from the middle
    pump.drain()
    assert _counts(api, group) == (5, 5, 0)

    api.patch(f"/api/v1/contacts/{contacts[0]}", {"status": "UNSUBSCRIBED"})
    status_calls = _stream_calls_with_memberships(pump.drain())
    for call in status_calls:
        _replay(call.event)
    assert _counts(api, group) == (5, 4, 1)


def test_a_contact_change_replayed_late_does_not_undo_a_newer_one(api, pump) -> None:
    group = new_group(api, "Leads")
    contact = make_contacts(api, 1)[0]
    add(api, group, [contact])
    pump.drain()
    api.patch(f"/api/v1/contacts/{contact}", {"status": "UNSUBSCRIBED"})
    first = [call for call in pump.drain() if call.kind == "stream"]
    api.patch(f"/api/v1/contacts/{contact}", {"status": "ACTIVE", "company": "Acme"})
    pump.drain()
    for call in first:  # the older change arrives again
        _replay(call.event)
    pump.drain()
    assert _counts(api, group) == (1, 1, 0)
    member = api.get(f"/api/v1/groups/{group}/members").json["items"][0]
    assert (member["status"], member["company"]) == ("ACTIVE", "Acme")


def test_engagement_fields_come_from_the_campaign_side(api) -> None:
    from chalicelib.models.groups import GroupEngagement

    # GIVEN
    group = new_group(api, "Leads", "DYNAMIC")
    ws = workspace_of(api)
    # WHEN
    GroupEngagement(
        *GroupEngagement.key(ws, group),
        linkedRunningCampaigns=2,
        lastCampaignSentAt="2026-11-20T10:00:00.000Z",
        sent=12,
        delivered=10,
        opened=4,
        clicked=1,
    ).save()
    found = stats(api, group)
    # THEN
    assert found["linkedRunningCampaigns"] == 2
    assert found["lastCampaignSentAt"] == "2026-11-20T10:00:00.000Z"
    assert found["averageEngagementRate"] == 0.4


# ---- the daily recount ------------------------------------------------------------------------


def _corrupt(api, group: str, total: int, active: int) -> None:
    from chalicelib.models.groups import Group

    Group(*Group.key(workspace_of(api), group)).update(
        [Group.totalContacts.set(total), Group.activeContacts.set(active)]
    )


def test_the_daily_recount_repairs_drifted_counters(api, pump, monkeypatch, fake_clock) -> None:
    from chalicelib.groups import upkeep

    monkeypatch.setattr(upkeep, "SETTLE_SECONDS", 1)  # 15 minutes in the product
    drifted = new_group(api, "Drifted")
    fine = new_group(api, "Fine")
    contacts = make_contacts(api, 4)
    add(api, drifted, contacts)
    add(api, fine, contacts[:2])
    api.patch(f"/api/v1/contacts/{contacts[0]}", {"status": "BLOCKED"})
    pump.drain()
    _corrupt(api, drifted, 9, 1)
    assert pump.invoke_schedule("recount_groups").ok
    calls = run_jobs(pump)
    assert calls and all(call.ok for call in calls)
    assert _counts(api, drifted) == (9, 1, 8)  # found, repaired once the stream has settled
    assert all(call.ok for call in fake_clock.drain(pump, wait=3))
    assert _counts(api, drifted) == (4, 3, 1)
    assert _counts(api, fine) == (2, 1, 1)
    # Nothing changed since: the next run starts no job.
    assert pump.invoke_schedule("recount_groups").ok
    assert run_jobs(pump) == []


def test_the_recount_mends_a_stale_snapshot_and_leaves_counters_right(api, pump) -> None:
    from chalicelib.models.groups import Membership

    group = new_group(api, "Leads")
    contacts = make_contacts(api, 3)
    add(api, group, contacts)
    pump.drain()
    # A snapshot of an older state of its contact (what a lost stream record would leave).
    stale = Membership.get(*Membership.key(workspace_of(api), group, contacts[1]))
    stale.update([Membership.status.set("BOUNCED"), Membership.contactRevision.set(0)])
    pump.drain()
    assert _counts(api, group) == (3, 2, 1)
    pump.invoke_schedule("recount_groups")
    assert all(call.ok for call in pump.drain())
    assert _counts(api, group) == (3, 3, 0)
    member = [m for m in api.get(f"/api/v1/groups/{group}/members").json["items"] if m["id"] == contacts[1]]
    assert member[0]["status"] == "ACTIVE"


def test_a_recount_while_the_stream_lags_does_not_count_a_member_twice(
    api, pump, monkeypatch, fake_clock
) -> None:
    """A member added just before the count: the recount sees it, the counters do not yet.
    Repaired at once, the stream's +1 would come on top (4 for 3 members)."""
    from chalicelib.events import dispatch
    from chalicelib.groups import jobs, upkeep

    monkeypatch.setattr(upkeep, "SETTLE_SECONDS", 1)
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 3)
    add(api, group, contacts[:2])
    pump.drain()
    add(api, group, contacts[2:])  # its stream record is not handled yet
    ws = workspace_of(api)
    job_id = upkeep.start_recount(ws, group)
    assert job_id
    jobs.run(jobs.get(ws, job_id), 0, dispatch.job_kinds())  # the recount runs before the stream catches up
    assert all(call.ok for call in fake_clock.drain(pump, wait=3))
    assert _counts(api, group)[0] == 3
