"""Engagement facts: the last time of each event kind per contact, for any campaign and per
campaign, kept on the Contact item from the timeline's stream; a time never moves back (a
replay, an older event delivered late, a concurrent writer), and a change of the facts alone
is not a change of the contact (no updatedAt, no contact.updated webhook)."""

from __future__ import annotations

from typing import Any

from chalicelib.contacts import activity, engagement, engagement_backfill
from chalicelib.models.contacts import Contact
from chalicelib.platform import ids
from tests.support.api import Api
from tests.support.events import LambdaContext, batch, make_stream_record
from tests.support.races import competitor_before
from tests.support.receiver import receiver
from tests.support.workspaces import workspace_of

__all__ = ["receiver"]  # the fixture, re-exported: a test asks for it by name

T1, T2, T3 = "2026-12-01T10:00:00.000Z", "2026-12-02T10:00:00.000Z", "2026-12-03T10:00:00.000Z"


def new_contact(api: Api, email: str = "ada@example.com") -> str:
    reply = api.post("/api/v1/contacts", {"email": email, "firstName": "Ada"})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def event_item(ws: str, contact_id: str, kind: str, at: str, campaign_id: str | None = None) -> Any:
    sk = f"{kind.upper()}#{campaign_id}#{at}"
    return activity.item(ws, contact_id, kind, sk, at, campaignId=campaign_id)


def deliver(*items: Any) -> None:
    """The timeline items' INSERT records, as one stream batch through the real handler."""
    from boto3.dynamodb.types import TypeDeserializer

    from app import table_changes

    plain = TypeDeserializer().deserialize
    records = [
        make_stream_record(
            "INSERT", {"pk": i.pk, "sk": i.sk}, new={k: plain(v) for k, v in i.serialize().items()}
        )
        for i in items
    ]
    result = table_changes(batch(records), LambdaContext("cohort-local-table_changes"))
    assert result["batchItemFailures"] == []


def facts(ws: str, contact_id: str) -> dict[str, Any]:
    return engagement.facts_of(Contact.get(*Contact.key(ws, contact_id)).attribute_values)


def test_an_open_recorded_on_the_timeline_becomes_a_fact_of_the_contact(api: Api, pump) -> None:
    # GIVEN a contact
    ws, ada = workspace_of(api), new_contact(api)
    campaign = ids.new_id()
    pump.drain()
    before = api.get(f"/api/v1/contacts/{ada}").json
    # WHEN an email is sent and opened (their timeline items, as the tracking writes them)
    event_item(ws, ada, activity.EMAIL_SENT, T1, campaign).save()
    event_item(ws, ada, activity.OPENED, T2, campaign).save()
    assert all(call.ok for call in pump.drain())
    # THEN the contact's facts say when, for the campaign and for any
    assert engagement.last_time(facts_and_id(ws, ada), "sent") == T1
    assert engagement.last_time(facts_and_id(ws, ada), "opened", campaign) == T2
    assert engagement.last_time(facts_and_id(ws, ada), "clicked") is None
    # AND the contact itself did not change: same updatedAt, same revision
    after = api.get(f"/api/v1/contacts/{ada}").json
    assert (after["updatedAt"], after.get("revision")) == (before["updatedAt"], before.get("revision"))


def facts_and_id(ws: str, contact_id: str) -> dict[str, Any]:
    return {"engagement": facts(ws, contact_id)}


def test_a_replayed_record_or_an_older_event_delivered_late_never_moves_a_time_back(api: Api) -> None:
    # GIVEN a contact with an open at T3
    ws, ada = workspace_of(api), new_contact(api)
    campaign = ids.new_id()
    newer, older = (
        event_item(ws, ada, activity.OPENED, T3, campaign),
        event_item(ws, ada, activity.OPENED, T1, campaign),
    )
    deliver(newer)
    written = facts(ws, ada)
    # WHEN the same record comes again, then an older open of the same campaign arrives late
    deliver(newer)
    deliver(older)
    # THEN the times are still T3, and nothing was written again
    assert engagement.last_time({"engagement": facts(ws, ada)}, "opened") == T3
    assert engagement.last_time({"engagement": facts(ws, ada)}, "opened", campaign) == T3
    assert facts(ws, ada)["rev"] == written["rev"]


def test_two_events_out_of_order_in_one_batch_keep_the_later(api: Api) -> None:
    # GIVEN a contact
    ws, ada = workspace_of(api), new_contact(api)
    # WHEN a batch holds a click at T2 and then one at T1
    deliver(event_item(ws, ada, activity.CLICKED, T2, "C1"), event_item(ws, ada, activity.CLICKED, T1, "C2"))
    # THEN any campaign's last click is T2, each campaign has its own
    found = {"engagement": facts(ws, ada)}
    assert engagement.last_time(found, "clicked") == T2
    assert (engagement.last_time(found, "clicked", "C1"), engagement.last_time(found, "clicked", "C2")) == (
        T2,
        T1,
    )


def test_a_concurrent_writer_between_the_read_and_the_write_is_not_overwritten(api: Api) -> None:
    # GIVEN a contact with a reply at T1
    ws, ada = workspace_of(api), new_contact(api)
    deliver(event_item(ws, ada, activity.REPLIED, T1, "C1"))

    def competitor() -> None:  # another writer (the backfill, another shard) records a later reply
        engagement.record(ws, {ada: [engagement.Event("replied", "C9", T3)]})

    # WHEN a reply at T2 is written while the competitor writes between our read and our write
    with competitor_before(["UpdateItem"], '"engagement"', competitor) as state:
        deliver(event_item(ws, ada, activity.REPLIED, T2, "C2"))
    # THEN both are there, and the latest of all is the competitor's
    assert state["ran"]
    found = {"engagement": facts(ws, ada)}
    assert engagement.last_time(found, "replied") == T3
    assert [engagement.last_time(found, "replied", c) for c in ("C1", "C2", "C9")] == [T1, T2, T3]


def test_a_batch_costs_one_read_and_one_write_a_contact_whatever_its_events(api: Api, requests) -> None:
    # GIVEN three contacts
    ws = workspace_of(api)
    people = [new_contact(api, f"p{n}@example.com") for n in range(3)]
    requests.reset()
    # WHEN one stream batch holds 2 events of each (and a replay of one)
    events = [
        event_item(ws, p, kind, T1, "C1") for p in people for kind in (activity.EMAIL_SENT, activity.OPENED)
    ]
    deliver(*events, events[0])
    # THEN one BatchGetItem for all of them and one UpdateItem a contact (the two Queries are
    # the batch's other reactions: the workspace's scoring rules, the webhooks' endpoints)
    dynamodb = {k: v for k, v in requests.snapshot().items() if k.startswith("dynamodb")}
    assert dynamodb == {"dynamodb.BatchGetItem": 1, "dynamodb.UpdateItem": 3, "dynamodb.Query": 2}


def test_a_contact_keeps_at_most_20_campaigns_a_kind_the_latest(api: Api) -> None:
    # GIVEN a contact sent 25 campaigns, one a day
    ws, ada = workspace_of(api), new_contact(api)
    sent = [(f"C{n:02d}", f"2026-11-{n + 1:02d}T08:00:00.000Z") for n in range(25)]
    deliver(*(event_item(ws, ada, activity.EMAIL_SENT, at, cid) for cid, at in sent))
    # THEN the 20 latest are kept; the 5 oldest are let go, the latest of them as `dropped`
    found = facts(ws, ada)["sent"]
    assert sorted(found["campaigns"]) == [cid for cid, _ in sent[5:]]
    assert found["dropped"] == sent[4][1] and found["last"] == sent[-1][1]
    # WHEN an event older than what was let go arrives late for a campaign not kept
    deliver(event_item(ws, ada, activity.EMAIL_SENT, "2026-10-01T08:00:00.000Z", "OLD"))
    # THEN it is not kept either
    assert "OLD" not in facts(ws, ada)["sent"]["campaigns"]


def test_a_contact_write_keeps_the_facts(api: Api) -> None:
    # GIVEN a contact with facts
    ws, ada = workspace_of(api), new_contact(api)
    deliver(event_item(ws, ada, activity.OPENED, T1, "C1"))
    # WHEN the contact is updated through the API, and synced by email (a write that read
    # the email's copy, which has no facts)
    assert api.patch(f"/api/v1/contacts/{ada}", {"lastName": "Lovelace", "tags": ["vip"]}).status == 200
    synced = api.post("/api/v1/contacts/sync", {"email": "ada@example.com", "company": "Analytical"})
    assert synced.status == 200 and synced.json["result"] == "updated", synced.json
    # THEN they are still there
    assert engagement.last_time({"engagement": facts(ws, ada)}, "opened", "C1") == T1


def test_a_change_of_the_facts_alone_sends_no_contact_updated_webhook(api: Api, pump, receiver) -> None:
    # GIVEN a webhook on contact.updated, and a contact
    reply = api.post("/api/v1/webhooks", {"url": receiver.url, "events": ["contact.updated"]})
    assert reply.status == 201, reply.json
    ws, ada = workspace_of(api), new_contact(api)
    pump.drain()
    # WHEN only its facts change (an open is recorded)
    event_item(ws, ada, activity.OPENED, T1, "C1").save()
    assert all(call.ok for call in pump.drain())
    # THEN no contact.updated is delivered (a real change still is)
    assert facts(ws, ada)["opened"]["last"] == T1
    assert [
        d["event"] for d in api.get(f"/api/v1/webhooks/{reply.json['id']}/deliveries").json["items"]
    ] == []
    api.patch(f"/api/v1/contacts/{ada}", {"lastName": "Lovelace"})
    pump.drain()
    deliveries = api.get(f"/api/v1/webhooks/{reply.json['id']}/deliveries").json["items"]
    assert [d["event"] for d in deliveries] == ["contact.updated"]


def test_an_erased_contact_loses_its_facts(api: Api, pump) -> None:
    # GIVEN a contact with facts
    ws, ada = workspace_of(api), new_contact(api)
    deliver(event_item(ws, ada, activity.OPENED, T1, "C1"))
    # WHEN it is erased (GDPR)
    erased = api.post(f"/api/v1/contacts/{ada}/anonymize")
    assert erased.status in (200, 202), erased.json
    assert all(call.ok for call in pump.drain())
    # THEN its facts are gone with its timeline
    assert facts(ws, ada) == {}


def test_the_backfill_rebuilds_facts_from_the_timelines_and_a_second_run_writes_nothing(
    api: Api, pump, requests, monkeypatch
) -> None:
    # GIVEN contacts whose events are on their timelines but whose facts are gone (recorded
    # before the facts were kept)
    ws = workspace_of(api)
    people = [new_contact(api, f"p{n}@example.com") for n in range(3)]
    event_item(ws, people[0], activity.OPENED, T1, "C1").save()
    event_item(ws, people[0], activity.OPENED, T2, "C2").save()
    event_item(ws, people[1], activity.BOUNCED, T3, "C1").save()
    assert all(call.ok for call in pump.drain())
    for person in people:
        engagement.forget(ws, person)
    pump.drain()
    # WHEN the backfill runs over the workspace (a page smaller than the workspace)
    monkeypatch.setattr(engagement_backfill, "PAGE", 2)
    engagement_backfill.start(ws)
    assert all(call.ok for call in pump.drain())
    # THEN the facts are back as the stream had made them
    assert engagement.last_time({"engagement": facts(ws, people[0])}, "opened") == T2
    assert engagement.last_time({"engagement": facts(ws, people[0])}, "opened", "C1") == T1
    assert engagement.last_time({"engagement": facts(ws, people[1])}, "bounced", "C1") == T3
    assert facts(ws, people[2]) == {}
    # WHEN it runs again, THEN it writes nothing
    requests.reset()
    engagement_backfill.start(ws)
    assert all(call.ok for call in pump.drain())
    assert requests.snapshot().get("dynamodb.UpdateItem", 0) == 0
