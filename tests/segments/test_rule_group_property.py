"""A DYNAMIC rule group's members, once the stream settles, are exactly the contacts the one
evaluator keeps: after its build, and again after random changes to those contacts (their
fields, tags and engagement: events recorded on their timelines)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.contacts import activity, engagement
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock, ids
from tests.support.campaigns import new_campaign
from tests.support.filters import trees
from tests.support.groups import member_ids

TAGS = st.lists(st.sampled_from(["vip", "web", "trial"]), max_size=2, unique=True)
SEATS = st.one_of(st.none(), st.integers(0, 20))
# (timeline kind, the rules' campaign or another one, days ago; half a day off any window's edge)
ENGAGED = st.lists(
    st.tuples(
        st.sampled_from([activity.EMAIL_SENT, activity.OPENED, activity.CLICKED]),
        st.booleans(),
        st.integers(0, 20).map(lambda d: d + 0.5),
    ),
    max_size=3,
)
PEOPLE = st.lists(
    st.fixed_dictionaries(
        {
            "tags": TAGS,
            "seats": SEATS,
            "company": st.sampled_from(["Acme", "Globex", ""]),
            "engaged": ENGAGED,
        }
    ),
    min_size=1,
    max_size=6,
)
LEAVES = st.one_of(
    st.builds(lambda v: {"field": "tags", "op": "has", "value": v}, st.sampled_from(["vip", "web"])),
    st.builds(lambda v: {"field": "tags", "op": "hasNone", "value": [v]}, st.sampled_from(["trial", "vip"])),
    st.builds(lambda n: {"field": "customFields.seats", "op": "gte", "value": n}, st.integers(0, 20)),
    st.builds(lambda v: {"field": "company", "op": "eq", "value": v}, st.sampled_from(["acme", "GLOBEX"])),
    st.just({"field": "company", "op": "notExists"}),
    st.builds(
        lambda event, campaign, days, negate: {
            "event": event,
            **({"campaignId": "CAMPAIGN"} if campaign else {}),
            **({"withinLast": {"days": days}} if days else {}),
            **({"negate": True} if negate else {}),
        },
        st.sampled_from(["sent", "opened", "clicked"]),
        st.booleans(),
        st.one_of(st.none(), st.integers(1, 20)),
        st.booleans(),
    ),
)
RULES = trees(LEAVES, max_leaves=5)


def _with_campaign(node: Any, campaign: str) -> Any:
    if isinstance(node, dict):
        return {k: _with_campaign(v, campaign) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_campaign(v, campaign) for v in node]
    return campaign if node == "CAMPAIGN" else node


def _engage(ws: str, contact_id: str, engaged: list[tuple[str, bool, float]], campaign: str) -> None:
    """The contact's events as their timeline items (the stream makes them facts)."""
    for kind, ours, days in engaged:
        at = clock.iso(clock.now() - timedelta(days=days))
        cid = campaign if ours else "01M8OTHERCAMPAIGN000000000Z"
        activity.item(ws, contact_id, kind, f"{kind.upper()}#{cid}#{ids.new_id()}", at, campaignId=cid).save()


def _body(person: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"tags": person["tags"], "customFields": {"seats": person["seats"]}}
    body["company"] = person["company"] or None
    return body


def _given_people(api: Any, people: list[dict[str, Any]]) -> tuple[str, str, list[str]]:
    """A `seats` number field, a campaign for the rules to name, and one contact per person
    with their engagement: (workspace id, campaign id, contact ids in the people's order)."""
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    ws = api.get("/api/v1/workspace").json["id"]
    campaign = new_campaign(api, [api.post("/api/v1/groups", {"name": "G"}).json["id"]])["id"]
    contact_ids = []
    for n, person in enumerate(people):
        body = {k: v for k, v in _body(person).items() if v is not None}
        body["customFields"] = {k: v for k, v in body["customFields"].items() if v is not None}
        contact_ids.append(api.post("/api/v1/contacts", {"email": f"p{n}@example.com", **body}).json["id"])
        _engage(ws, contact_ids[-1], person["engaged"], campaign)
    return ws, campaign, contact_ids


def _seen(api: Any, ws: str, contact_id: str) -> dict[str, Any]:
    """The API's view of the contact with its engagement facts (not part of the view)."""
    facts = engagement.facts_of(Contact.get(*Contact.key(ws, contact_id)).attribute_values)
    return {**api.get(f"/api/v1/contacts/{contact_id}").json, "engagement": facts}


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
    ws, campaign, contact_ids = _given_people(api, people)
    rules = _with_campaign(rules, campaign)
    assert all(call.ok for call in pump.drain())
    reply = api.post("/api/v1/groups", {"name": "R", "type": "DYNAMIC", "rules": rules})
    assert reply.status == 201, reply.json
    group = reply.json["id"]
    checked = filter_rules.check(ws, CountBody.model_validate({"filter": rules}).filter)

    def expected() -> set[str]:
        context = Context(now=clock.now(), groups_of=lambda _cid: frozenset())
        return {cid for cid in contact_ids if matches(checked, _seen(api, ws, cid), context)}

    # WHEN the stream settles, THEN the members are the evaluator's
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, group)) == expected()
    # WHEN contacts change, THEN again
    for index, person in changes:
        changed = contact_ids[index % len(contact_ids)]
        api.patch(f"/api/v1/contacts/{changed}", _body(person))
        _engage(ws, changed, person["engaged"], campaign)
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
    ws, campaign, ids = _given_people(api, people)
    rules = _with_campaign(rules, campaign)
    a = api.post(
        "/api/v1/groups",
        {"name": "A", "type": "DYNAMIC", "rules": {"field": "tags", "op": "has", "value": "vip"}},
    ).json["id"]
    value = a if op == "has" else [a]
    b_rules = {joiner: [{"field": "groups", "op": op, "value": value}, rules]}
    reply = api.post("/api/v1/groups", {"name": "B", "type": "DYNAMIC", "rules": b_rules})
    assert reply.status == 201, reply.json
    b = reply.json["id"]
    checked = filter_rules.check(ws, CountBody.model_validate({"filter": b_rules}).filter)

    def expected() -> set[str]:
        in_a = set(member_ids(api, a))
        return {
            cid
            for cid in ids
            if matches(
                checked,
                _seen(api, ws, cid),
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
        _engage(ws, ids[index % len(ids)], person["engaged"], campaign)
    assert all(call.ok for call in pump.drain())
    assert set(member_ids(api, b)) == expected(), (b_rules, changes)
