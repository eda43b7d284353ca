"""Deleting a scoring rule takes back the points it gave: a job walks the workspace's contacts
and withdraws each award of the rule (its points, a scoreRemoved entry on the timeline), a
minute after the deletion so that a stream batch which read the rules before it cannot award
behind the job's back. The other rules' points stay. On the injected clock."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.clock import FakeClock
from tests.support.scoring import new_contact, new_rule, opened, score_of, tag
from tests.support.workspaces import workspace_of

CAMPAIGN = "01HCAMPAIGNAAAAAAAAAAAAAAA"


def _open(api: Api, pump, fake_clock: FakeClock, person: str, step: str) -> None:
    opened(workspace_of(api), person, CAMPAIGN, step).save()
    assert all(call.ok for call in fake_clock.drain(pump, wait=1))


def test_deleting_a_rule_takes_back_every_point_it_gave_and_only_those(
    api: Api, pump, fake_clock: FakeClock
) -> None:
    # GIVEN two rules, and contacts each holding awards of both (two opens, a tag)
    opens = new_rule(api, {"event": "opened"}, 10)
    tags = new_rule(api, {"event": "tagAdded", "tag": "demo"}, 3)
    held = new_rule(api, {"matches": {"field": "company", "op": "eq", "value": "Acme"}}, 100)
    people = [new_contact(api, f"p{n}@example.com", company="Acme") for n in range(3)]
    fake_clock.drain(pump, wait=1)
    for person in people:
        _open(api, pump, fake_clock, person, "s1")
        _open(api, pump, fake_clock, person, "s2")
        tag(api, person, "demo")
    assert all(call.ok for call in fake_clock.drain(pump, wait=1))
    assert api.post("/api/v1/scoring/recompute", {"ruleId": held}).status == 202
    assert all(call.ok for call in fake_clock.drain(pump, wait=1))
    assert [score_of(api, p) for p in people] == [123, 123, 123]
    # WHEN the opens rule and the matches rule are deleted, and the job has run
    assert api.delete(f"/api/v1/scoring/rules/{opens}").status == 204
    assert api.delete(f"/api/v1/scoring/rules/{held}").status == 204
    assert all(call.ok for call in fake_clock.drain(pump, wait=90))
    # THEN only the tag rule's points are left, and each withdrawal is on the timeline
    assert [score_of(api, p) for p in people] == [3, 3, 3]
    awards = api.get(f"/api/v1/contacts/{people[0]}/score").json["awards"]
    assert [a["ruleId"] for a in awards] == [tags]
    timeline = api.get(f"/api/v1/contacts/{people[0]}/activity").json["items"]
    removed = sorted(i["details"]["points"] for i in timeline if i["type"] == "scoreRemoved")
    assert removed == [-100, -10, -10]


def test_an_award_given_by_a_batch_that_read_the_rules_before_the_deletion_is_withdrawn_too(
    api: Api, pump, fake_clock: FakeClock
) -> None:
    from chalicelib.scoring import awards, rules

    # GIVEN a rule, a contact, and the rule as a stream batch read it before the deletion
    rule_id = new_rule(api, {"event": "opened"}, 10)
    person = new_contact(api, "ada@example.com")
    fake_clock.drain(pump, wait=1)
    as_read = rules.rule(workspace_of(api), rule_id)
    # WHEN the rule is deleted, the queues run at once, and then that batch awards by it
    assert api.delete(f"/api/v1/scoring/rules/{rule_id}").status == 204
    assert all(call.ok for call in pump.drain())
    event = opened(workspace_of(api), person, CAMPAIGN)
    assert awards.give(workspace_of(api), person, as_read, event.sk, event.at) == "awarded"
    assert score_of(api, person) == 10
    # THEN the withdrawal, a minute after the deletion, still takes it back
    assert all(call.ok for call in fake_clock.drain(pump, wait=90))
    assert score_of(api, person) == 0


def test_a_withdrawal_delivered_twice_takes_back_once(api: Api, pump, fake_clock: FakeClock) -> None:
    from chalicelib.scoring import awards

    rule_id = new_rule(api, {"event": "opened"}, 10)
    keep = new_rule(api, {"event": "tagAdded", "tag": "demo"}, 3)
    person = new_contact(api, "ada@example.com")
    fake_clock.drain(pump, wait=1)
    _open(api, pump, fake_clock, person, "s1")
    tag(api, person, "demo")
    assert all(call.ok for call in fake_clock.drain(pump, wait=1))
    assert score_of(api, person) == 13

    assert api.delete(f"/api/v1/scoring/rules/{rule_id}").status == 204
    assert all(call.ok for call in fake_clock.drain(pump, wait=90))
    again = awards.withdraw(workspace_of(api), person, rule_id)  # a page delivered again

    assert again == 0
    assert score_of(api, person) == 3
    assert [a["ruleId"] for a in api.get(f"/api/v1/contacts/{person}/score").json["awards"]] == [keep]
