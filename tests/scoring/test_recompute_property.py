"""A rule added after the events, then recomputed, gives every contact the score it would have
had if the rule had existed all along (event rules over past events, matches rules over the
contacts as they are)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Api
from tests.support.scoring import new_contact, score_of

CONTACTS = 3
TAG = st.sampled_from(["a", "b", "c"])
# (contact, tag): add the tag (a new tagAdded event), or (contact, None): take all tags off
OPS = st.lists(st.tuples(st.integers(0, CONTACTS - 1), st.one_of(st.none(), TAG)), max_size=8)
EVENT_RULES = st.fixed_dictionaries(
    {
        "when": st.one_of(st.just({"event": "tagAdded"}), TAG.map(lambda t: {"event": "tagAdded", "tag": t})),
        "points": st.integers(-5, 9).filter(bool),
        "repeat": st.sampled_from(["once", "everyTime"]),
    }
).flatmap(
    lambda r: (
        st.just(r)
        if r["repeat"] == "once"
        else st.one_of(st.just(r), st.integers(1, 3).map(lambda n: {**r, "maxPerContact": n}))
    )
)
MATCHES_RULES = st.fixed_dictionaries(
    {
        "when": TAG.map(lambda t: {"matches": {"field": "tags", "op": "has", "value": t}}),
        "points": st.integers(-5, 9).filter(bool),
    }
)


def _play(api: Api, pump, ops: list[tuple[int, str | None]]) -> list[str]:
    people = [new_contact(api, f"p{n}@example.com") for n in range(CONTACTS)]
    for who, tag in ops:
        have = api.get(f"/api/v1/contacts/{people[who]}").json["tags"]
        tags = [] if tag is None else [*have, tag] if tag not in have else have
        assert api.patch(f"/api/v1/contacts/{people[who]}", {"tags": tags}).status == 200
        pump.drain()  # events one after the other, as they would come
    return people


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(rule=st.one_of(EVENT_RULES, MATCHES_RULES), ops=OPS)
def test_a_rule_recomputed_over_past_events_scores_as_if_it_had_existed_all_along(
    new_workspace, pump, rule: dict[str, Any], ops: list[tuple[int, str | None]]
) -> None:
    # GIVEN a workspace where the rule existed before the events
    along = new_workspace(name="Along")
    assert along.post("/api/v1/scoring/rules", {"name": "R", **rule}).status == 201
    before = _play(along, pump, ops)
    # AND one where the same events happened first
    late = new_workspace(name="Late")
    after = _play(late, pump, ops)
    # WHEN the rule is added afterwards and recomputed
    rule_id = late.post("/api/v1/scoring/rules", {"name": "R", **rule}).json["id"]
    reply = late.post("/api/v1/scoring/recompute", {"ruleId": rule_id})
    assert reply.status == 202, reply.json
    assert all(call.ok for call in pump.drain())
    # THEN every contact's score is the same, and the job says it is done
    assert [score_of(late, p) for p in after] == [score_of(along, p) for p in before]
    job = late.get(f"/api/v1/jobs/{reply.json['jobId']}").json
    assert (job["status"], job["processed"]) == ("COMPLETED", CONTACTS)
