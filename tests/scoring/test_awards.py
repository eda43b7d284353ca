"""Event rules: each event scores exactly once, whatever the redeliveries and however many
come at once; `once` and `maxPerContact` hold under concurrency; awards expire on time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.api import Api
from tests.support.campaigns import running_campaign, sent_emails, verify_sender
from tests.support.forms import json_post, make_form
from tests.support.groups import member_ids, new_group
from tests.support.races import atomic_moto_transactions, competitor_before
from tests.support.scoring import new_contact, new_rule, opened, redeliver, score_of, tag
from tests.support.workspaces import workspace_of

CAMPAIGN = "01HCAMPAIGNAAAAAAAAAAAAAAA"


def _rule(api: Api, rule_id: str):  # the rule as the stream reads it
    from chalicelib.scoring import rules

    return rules.rule(workspace_of(api), rule_id)


def test_the_same_event_delivered_twice_scores_once(api: Api, pump) -> None:
    # GIVEN a rule for opens and a contact
    new_rule(api, {"event": "opened"}, 10)
    person = new_contact(api, "ada@example.com")
    pump.drain()
    # WHEN an open is recorded, and its stream record is delivered a second time
    event = opened(workspace_of(api), person, CAMPAIGN)
    event.save()
    assert all(call.ok for call in pump.drain())
    assert redeliver(event) == {"batchItemFailures": []}
    pump.drain()
    # THEN the score counts it once, and one award shows on the score and the timeline
    assert score_of(api, person) == 10
    assert len(api.get(f"/api/v1/contacts/{person}/score").json["awards"]) == 1
    timeline = api.get(f"/api/v1/contacts/{person}/activity").json["items"]
    [award] = [i for i in timeline if i["type"] == "scoreAwarded"]
    assert award["details"]["points"] == 10


def test_each_event_kind_scores_when_it_fits_the_rule(api: Api, pump) -> None:
    # GIVEN rules for a tag, a status, a form, a group's joins, and one tag that does not fit
    group = new_group(api, "Buyers")
    form = make_form(api)["id"]
    new_rule(api, {"event": "tagAdded", "tag": "demo"}, 5)
    new_rule(api, {"event": "statusChanged", "status": "REPLIED"}, 7)
    new_rule(api, {"event": "formSubmitted", "formId": form}, 11)
    new_rule(api, {"event": "joinedGroup", "groupId": group}, 13)
    person = new_contact(api, "ada@example.com")
    pump.drain()
    # WHEN each happens once (and a tag no rule names)
    tag(api, person, "demo", "other")
    assert api.patch(f"/api/v1/contacts/{person}", {"status": "REPLIED"}).status == 200
    assert json_post(api, form, {"email": "ada@example.com"}).status in (200, 201)
    assert api.post(f"/api/v1/groups/{group}/members", {"contactIds": [person]}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN each fitting rule scored once
    assert score_of(api, person) == 5 + 7 + 11 + 13


def test_twenty_concurrent_events_on_one_contact_give_the_exact_sum(api: Api, pump) -> None:
    from chalicelib.scoring import awards

    # GIVEN an everyTime rule and a contact
    rule = _rule(api, new_rule(api, {"event": "opened"}, 3))
    person = new_contact(api, "ada@example.com")
    pump.drain()
    ws = workspace_of(api)
    # WHEN 20 different opens are scored at once, on 8 threads
    with atomic_moto_transactions(), ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda n: awards.give(ws, person, rule, f"OPENED#{n}", "2026-01-01T00:00:00Z"), range(20)
            )
        )
    # THEN each was awarded and the score is their exact sum
    assert outcomes == ["awarded"] * 20
    assert score_of(api, person) == 60


def test_an_award_landing_between_a_contact_edits_read_and_write_is_kept(api: Api, pump) -> None:
    """The award bumps the contact's revision: an edit that read the contact before it fails its
    condition and reads again, instead of writing the old score back."""
    from chalicelib.scoring import awards

    # GIVEN a rule and a contact
    rule = _rule(api, new_rule(api, {"event": "opened"}, 9))
    person = new_contact(api, "ada@example.com", firstName="Ada")
    pump.drain()
    ws = workspace_of(api)
    # WHEN an award is given just before an edit of the contact writes
    award = lambda: awards.give(ws, person, rule, "OPENED#race", "2026-01-01T00:00:00Z")  # noqa: E731
    with competitor_before(["TransactWriteItems"], f"CONTACT#{person}", award) as state:
        assert api.patch(f"/api/v1/contacts/{person}", {"lastName": "Lovelace"}).status == 200
    # THEN both the edit and the award are there
    assert state["ran"] == 1
    assert api.get(f"/api/v1/contacts/{person}").json["lastName"] == "Lovelace"
    assert score_of(api, person) == 9


def test_once_awards_once_when_two_events_race(api: Api, pump) -> None:
    from chalicelib.scoring import awards

    # GIVEN a `once` rule and a contact
    rule = _rule(api, new_rule(api, {"event": "opened"}, 10, repeat="once"))
    person = new_contact(api, "ada@example.com")
    pump.drain()
    ws = workspace_of(api)
    # WHEN a second open is scored between the first one's start and its write
    other = lambda: awards.give(ws, person, rule, "OPENED#b", "2026-01-01T00:00:00Z")  # noqa: E731
    with competitor_before(["TransactWriteItems"], "OPENED#a", other) as state:
        first = awards.give(ws, person, rule, "OPENED#a", "2026-01-01T00:00:00Z")
    # THEN only one of them scored
    assert state["ran"] == 1 and first == "limit"
    assert score_of(api, person) == 10


def test_max_per_contact_holds_under_twenty_concurrent_events(api: Api, pump) -> None:
    from chalicelib.scoring import awards

    # GIVEN a rule of at most 3 awards a contact
    rule = _rule(api, new_rule(api, {"event": "clicked"}, 4, maxPerContact=3))
    person = new_contact(api, "ada@example.com")
    pump.drain()
    ws = workspace_of(api)
    # WHEN 20 different clicks are scored at once, on 8 threads
    with atomic_moto_transactions(), ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda n: awards.give(ws, person, rule, f"CLICKED#{n}", "2026-01-01T00:00:00Z"), range(20)
            )
        )
    # THEN three of them scored
    assert outcomes.count("awarded") == 3 and outcomes.count("limit") == 17
    assert score_of(api, person) == 12


def test_an_award_expires_at_its_time_and_the_score_drops(api: Api, pump, fake_clock) -> None:
    from chalicelib.platform import clock
    from chalicelib.timers import due

    # GIVEN a rule whose awards last a day, and a contact tagged
    new_rule(api, {"event": "tagAdded"}, 20, expiresAfter={"days": 1})
    person = new_contact(api, "ada@example.com")
    tag(api, person, "demo")
    pump.drain()
    assert score_of(api, person) == 20
    # WHEN almost a day passes THEN it still counts
    fake_clock.advance(86400 - 120)
    due.release_due(now=clock.now())
    fake_clock.drain(pump, wait=2)
    assert score_of(api, person) == 20
    # WHEN the day is over, and the expiry's message comes twice at once
    fake_clock.advance(180)
    assert due.release_due(now=clock.now()) == 1
    with competitor_before(["TransactWriteItems"], "EXPIRED#", _expiry(api, person)) as state:
        fake_clock.drain(pump, wait=2)
    # THEN the score dropped once, the award is gone from the score and on the timeline
    assert state["ran"] == 1
    assert score_of(api, person) == 0
    assert api.get(f"/api/v1/contacts/{person}/score").json["awards"] == []
    kinds = [i["type"] for i in api.get(f"/api/v1/contacts/{person}/activity").json["items"]]
    assert kinds.count("scoreExpired") == 1 and kinds.count("scoreAwarded") == 1


def _expiry(api: Api, person: str):  # the award's expiry, as a second delivery of its message
    from chalicelib.models.activity import Activity
    from chalicelib.scoring import awards

    ws = workspace_of(api)
    [award] = Activity.query(Activity.partition(ws, person), Activity.sk.startswith("AWARD#"))
    return lambda: awards.on_expire_message({"workspaceId": ws, "contactId": person, "sk": award.sk})


def test_crossing_a_threshold_joins_a_dynamic_rule_group_and_starts_its_campaign(api: Api, pump) -> None:
    # GIVEN a DYNAMIC rule group of score >= 50, a running campaign on it, and a rule of 20
    # points a tag
    verify_sender(api)
    reply = api.post(
        "/api/v1/groups",
        {"name": "Hot leads", "type": "DYNAMIC", "rules": {"field": "score", "op": "gte", "value": 50}},
    )
    assert reply.status == 201, reply.json
    group = reply.json["id"]
    steps = [{"type": "email", "subject": "Hi {{firstName}}", "bodyText": "Hello"}]
    running_campaign(api, [group], steps=steps)
    new_rule(api, {"event": "tagAdded"}, 20)
    person = new_contact(api, "ada@example.com", firstName="Ada")
    pump.drain()
    # WHEN two tags bring 40 points THEN nothing yet
    tag(api, person, "a", "b")
    pump.drain()
    assert score_of(api, person) == 40 and member_ids(api, group) == []
    # WHEN a third brings 60
    tag(api, person, "c")
    assert all(call.ok for call in pump.drain())
    # THEN the contact joined and got the campaign's first email
    assert score_of(api, person) == 60
    assert member_ids(api, group) == [person]
    assert [m.subject for m in sent_emails()] == ["Hi Ada"]


def test_a_matches_rule_holds_its_points_while_the_contact_matches(api: Api, pump) -> None:
    # GIVEN a rule of 30 points for companies called Acme
    new_rule(api, {"matches": {"field": "company", "op": "eq", "value": "Acme"}}, 30)
    person = new_contact(api, "ada@example.com")
    pump.drain()
    # WHEN the contact starts to match THEN it holds the points (edits meanwhile change nothing)
    api.patch(f"/api/v1/contacts/{person}", {"company": "acme"})
    pump.drain()
    api.patch(f"/api/v1/contacts/{person}", {"title": "CTO"})
    pump.drain()
    assert score_of(api, person) == 30
    # WHEN it stops matching THEN it loses them, and the timeline says so
    api.patch(f"/api/v1/contacts/{person}", {"company": "Other"})
    pump.drain()
    assert score_of(api, person) == 0
    kinds = [i["type"] for i in api.get(f"/api/v1/contacts/{person}/activity").json["items"]]
    assert "scoreRemoved" in kinds


def test_the_score_is_read_only_through_the_contact_routes(api: Api) -> None:
    person = new_contact(api, "ada@example.com")
    # WHEN an edit sets the score THEN it is refused
    reply = api.patch(f"/api/v1/contacts/{person}", {"score": 100})
    assert reply.status == 422
    # WHEN a sync sets it with other fields THEN the rest is kept and the score left out, said so
    reply = api.post("/api/v1/contacts/sync", {"email": "ada@example.com", "company": "Acme", "score": 100})
    assert reply.status == 200, reply.json
    assert [w["field"] for w in reply.json["warnings"]] == ["score"]
    assert (reply.json["contact"]["company"], reply.json["contact"]["score"]) == ("Acme", 0)
    assert api.get(f"/api/v1/contacts/{person}").json["score"] == 0
    # WHEN a create sets it THEN the same: kept without it, said so
    created = api.post("/api/v1/contacts", {"email": "bob@example.com", "score": 100})
    assert created.status == 201, created.json
    assert ([w["field"] for w in created.json["warnings"]], created.json["score"]) == (["score"], 0)
