"""A DYNAMIC rule group's members, once the stream settles, are exactly the contacts the one
evaluator keeps: after its build, and again after random changes to those contacts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.groups import member_ids

TAGS = st.lists(st.sampled_from(["vip", "web", "trial"]), max_size=2, unique=True)
SEATS = st.one_of(st.none(), st.integers(0, 20))
PEOPLE = st.lists(
    st.fixed_dictionaries({"tags": TAGS, "seats": SEATS, "company": st.sampled_from(["Acme", "Globex", ""])}),
    min_size=1,
    max_size=6,
)
LEAVES = st.one_of(
    st.builds(lambda v: {"field": "tags", "op": "has", "value": v}, st.sampled_from(["vip", "web"])),
    st.builds(lambda v: {"field": "tags", "op": "hasNone", "value": [v]}, st.sampled_from(["trial", "vip"])),
    st.builds(lambda n: {"field": "customFields.seats", "op": "gte", "value": n}, st.integers(0, 20)),
    st.builds(lambda v: {"field": "company", "op": "eq", "value": v}, st.sampled_from(["acme", "GLOBEX"])),
    st.just({"field": "company", "op": "notExists"}),
)
RULES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=5,
)


def _body(person: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"tags": person["tags"], "customFields": {"seats": person["seats"]}}
    body["company"] = person["company"] or None
    return body


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    people=PEOPLE,
    rules=RULES,
    changes=st.lists(st.tuples(st.integers(0, 5), PEOPLE.map(lambda p: p[0])), max_size=4),
)
def test_a_rule_groups_members_are_the_evaluators_after_the_build_and_after_changes(
    new_workspace,
    pump,
    people: list[dict[str, Any]],
    rules: dict[str, Any],
    changes: list[tuple[int, dict[str, Any]]],
) -> None:
    from chalicelib.platform import clock
    from chalicelib.schemas.filters import CountBody
    from chalicelib.segments import rules as filter_rules
    from chalicelib.segments.evaluate import Context, matches

    # GIVEN random contacts and a DYNAMIC rule group with random rules
    api = new_workspace()
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    ids = []
    for n, person in enumerate(people):
        body = {k: v for k, v in _body(person).items() if v is not None}
        body["customFields"] = {k: v for k, v in body["customFields"].items() if v is not None}
        ids.append(api.post("/api/v1/contacts", {"email": f"p{n}@example.com", **body}).json["id"])
    reply = api.post("/api/v1/groups", {"name": "R", "type": "DYNAMIC", "rules": rules})
    assert reply.status == 201, reply.json
    group = reply.json["id"]
    ws = api.get("/api/v1/workspace").json["id"]
    checked = filter_rules.check(ws, CountBody.model_validate({"filter": rules}).filter)

    def expected() -> set[str]:
        context = Context(now=clock.now(), groups_of=lambda _cid: frozenset())
        return {cid for cid in ids if matches(checked, api.get(f"/api/v1/contacts/{cid}").json, context)}

    # WHEN the stream settles, THEN the members are the evaluator's
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, group)) == expected()
    # WHEN contacts change, THEN again
    for index, person in changes:
        api.patch(f"/api/v1/contacts/{ids[index % len(ids)]}", _body(person))
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, group)) == expected(), (rules, changes)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    people=PEOPLE,
    rules=RULES,
    joiner=st.sampled_from(["all", "any"]),
    op=st.sampled_from(["has", "hasNone"]),
    changes=st.lists(st.tuples(st.integers(0, 5), PEOPLE.map(lambda p: p[0])), max_size=3),
)
def test_a_rule_group_naming_a_rule_group_follows_it_after_the_builds_and_after_changes(
    new_workspace,
    pump,
    people: list[dict[str, Any]],
    rules: dict[str, Any],
    joiner: str,
    op: str,
    changes: list[tuple[int, dict[str, Any]]],
) -> None:
    from chalicelib.platform import clock
    from chalicelib.schemas.filters import CountBody
    from chalicelib.segments import rules as filter_rules
    from chalicelib.segments.evaluate import Context, matches

    # GIVEN random contacts, a DYNAMIC rule group A (vip) and B: A's members combined with
    # random rules
    api = new_workspace()
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    ids = []
    for n, person in enumerate(people):
        body = {k: v for k, v in _body(person).items() if v is not None}
        body["customFields"] = {k: v for k, v in body["customFields"].items() if v is not None}
        ids.append(api.post("/api/v1/contacts", {"email": f"p{n}@example.com", **body}).json["id"])
    a = api.post(
        "/api/v1/groups",
        {"name": "A", "type": "DYNAMIC", "rules": {"field": "tags", "op": "has", "value": "vip"}},
    ).json["id"]
    value = a if op == "has" else [a]
    b_rules = {joiner: [{"field": "groups", "op": op, "value": value}, rules]}
    reply = api.post("/api/v1/groups", {"name": "B", "type": "DYNAMIC", "rules": b_rules})
    assert reply.status == 201, reply.json
    b = reply.json["id"]
    ws = api.get("/api/v1/workspace").json["id"]
    checked = filter_rules.check(ws, CountBody.model_validate({"filter": b_rules}).filter)

    def expected() -> set[str]:
        in_a = set(member_ids(api, a))
        return {
            cid
            for cid in ids
            if matches(
                checked,
                api.get(f"/api/v1/contacts/{cid}").json,
                Context(
                    now=clock.now(),
                    groups_of=lambda _cid, cid=cid: frozenset({a}) if cid in in_a else frozenset(),
                ),
            )
        }

    # WHEN the stream settles, THEN B's members are the evaluator's, given A's
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, b)) == expected(), b_rules
    # WHEN contacts change (joining and leaving A among others), THEN again
    for index, person in changes:
        api.patch(f"/api/v1/contacts/{ids[index % len(ids)]}", _body(person))
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, b)) == expected(), (b_rules, changes)
