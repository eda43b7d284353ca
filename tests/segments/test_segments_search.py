"""Segments: POST /contacts/search and /search/count with a filter (API.md "Segments"):
bad filters are 422 naming the node's path, and every page of a search, the count, and the
one evaluator applied to every contact agree, for random contacts and random filters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.contacts import engagement
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock
from tests.support.api import Api
from tests.support.campaigns import new_campaign
from tests.support.filters import trees

BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"field": "nickname", "op": "eq", "value": "x"}, "filter.field"),
    ({"field": "customFields.nothing", "op": "eq", "value": "x"}, "filter.field"),
    ({"all": [{"field": "email", "op": "gt", "value": "a"}]}, "filter.all[0].op"),
    (
        {
            "all": [
                {"field": "firstName", "op": "eq", "value": "a"},
                {"any": [{"field": "customFields.seats", "op": "gt", "value": "ten"}]},
            ]
        },
        "filter.all[1].any[0].value",
    ),
    ({"field": "customFields.seats", "op": "between", "value": [1]}, "filter.value"),
    ({"field": "createdAt", "op": "withinLast", "value": {"weeks": 2}}, "filter.value"),
    ({"field": "createdAt", "op": "withinLast", "value": 3}, "filter.value"),
    # a span past the engagement condition's bounds (100 years) overflowed the date: a 500
    ({"field": "createdAt", "op": "withinLast", "value": {"days": 1_000_000}}, "filter.value"),
    ({"field": "updatedAt", "op": "notWithinLast", "value": {"hours": 900_000}}, "filter.value"),
    ({"field": "status", "op": "eq", "value": "ASLEEP"}, "filter.value"),
    ({"field": "groups", "op": "has", "value": "01M80000000000000000000000"}, "filter.value"),
    ({"event": "opened", "campaignId": "01M80000000000000000000000"}, "filter.campaignId"),
    ({"any": [{"event": "opened", "withinLast": {"hours": 2}}]}, "filter.any[0].withinLast"),
    ({"event": "opened", "withinLast": {}}, "filter.withinLast"),
    ({"event": "forwarded"}, "filter.event"),
    # found by schemathesis: a 0 read as false where the document says boolean
    ({"event": "sent", "negate": 0}, "filter.negate"),
    ({"all": [{"field": "email", "op": "exists"}] * 51}, "filter"),
    ({"all": [{"allx": []}]}, "filter.all[0]"),
]


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"field": "email", "op": "exists"}
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    ("node", "path"), [*BAD_FILTERS, (_nested(11), "filter.not.not.not.not.not.not.not.not.not.not")]
)
def test_a_bad_filter_is_a_422_naming_the_node(api: Api, node: dict[str, Any], path: str) -> None:
    # GIVEN a workspace with a number field
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    # WHEN a search and a count are asked with a bad filter
    for route in ("/api/v1/contacts/search", "/api/v1/contacts/search/count"):
        reply = api.post(route, {"filter": node})
        # THEN each is a 422 whose details name the node's path
        assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
        assert path in [d["field"] for d in reply.json["error"]["details"]], reply.json


def _search_all(api: Api, node: dict[str, Any], limit: int) -> list[str]:
    found: list[str] = []
    cursor = None
    for _ in range(200):
        reply = api.post("/api/v1/contacts/search", {"filter": node, "limit": limit, "cursor": cursor})
        assert reply.status == 200, reply.json
        found += [c["id"] for c in reply.json["items"]]
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError("the search never ended")


# (event, the filter's campaign or another one, days ago); half a day off so no window's edge
# is ever hit by the moment between a search and the evaluator's check.
ENGAGED = st.lists(
    st.tuples(
        st.sampled_from(["sent", "opened", "clicked"]),
        st.booleans(),
        st.integers(0, 20).map(lambda d: d + 0.5),
    ),
    max_size=3,
)
ENGAGEMENT_LEAVES = st.builds(
    lambda event, campaign, days, negate: {
        "event": event,
        **({"campaignId": "CAMPAIGN"} if campaign else {}),
        **({"withinLast": {"days": days}} if days else {}),
        **({"negate": True} if negate else {}),
    },
    st.sampled_from(["sent", "opened", "clicked", "replied"]),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 20)),
    st.booleans(),
)
TEXTS = st.sampled_from(["Ana", "ana", "Élodie", "Bob", "Zoé", "acme", "ACME corp", "Globex"])
CONTACTS = st.lists(
    st.fixed_dictionaries(
        {
            "firstName": st.one_of(st.none(), TEXTS),
            "company": st.one_of(st.none(), TEXTS),
            "status": st.sampled_from(["ACTIVE", "UNSUBSCRIBED", "BOUNCED"]),
            "pipelineStage": st.sampled_from(["LEAD", "WON"]),
            "tags": st.lists(st.sampled_from(["vip", "web", "trial"]), max_size=2, unique=True),
            "seats": st.one_of(st.none(), st.integers(0, 20)),
            "member": st.booleans(),
            "engaged": ENGAGED,
        }
    ),
    min_size=1,
    max_size=8,
)
LEAVES = st.one_of(
    st.builds(lambda v: {"field": "firstName", "op": "eq", "value": v}, TEXTS),
    st.builds(lambda v: {"field": "company", "op": "startsWith", "value": v[:2]}, TEXTS),
    st.builds(lambda v: {"field": "company", "op": "contains", "value": v[1:3] or "a"}, TEXTS),
    st.just({"field": "company", "op": "notExists"}),
    st.builds(lambda v: {"field": "status", "op": "eq", "value": v}, st.sampled_from(["ACTIVE", "BOUNCED"])),
    st.builds(lambda v: {"field": "pipelineStage", "op": "ne", "value": v}, st.sampled_from(["LEAD"])),
    st.builds(lambda v: {"field": "tags", "op": "has", "value": v}, st.sampled_from(["vip", "web"])),
    st.builds(lambda v: {"field": "tags", "op": "hasNone", "value": [v]}, st.sampled_from(["vip", "trial"])),
    st.builds(lambda n: {"field": "customFields.seats", "op": "gte", "value": n}, st.integers(0, 20)),
    st.builds(
        lambda a, b: {"field": "customFields.seats", "op": "between", "value": [a, b]},
        st.integers(0, 20),
        st.integers(0, 20),
    ),
    st.just({"field": "groups", "op": "has", "value": "GROUP"}),
    ENGAGEMENT_LEAVES,
)
FILTERS = trees(LEAVES, max_leaves=6)


def _with_ids(node: Any, group: str, campaign: str) -> Any:
    """The filter with the placeholders GROUP and CAMPAIGN replaced by real ids."""
    if isinstance(node, dict):
        return {k: _with_ids(v, group, campaign) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_ids(v, group, campaign) for v in node]
    return {"GROUP": group, "CAMPAIGN": campaign}.get(node, node) if isinstance(node, str) else node


def engage(ws: str, contact_id: str, engaged: list[tuple[str, bool, float]], campaign: str) -> None:
    """Record the contact's events through the writer the stream uses (its facts)."""
    other = "01M8OTHERCAMPAIGN000000000Z"
    events = [
        engagement.Event(event, campaign if ours else other, clock.iso(clock.now() - timedelta(days=days)))
        for event, ours, days in engaged
    ]
    if events:
        engagement.record(ws, {contact_id: events})


def with_facts(view: dict[str, Any], ws: str) -> dict[str, Any]:
    """The API's view of a contact with its engagement facts (not part of the view)."""
    item = Contact.get(*Contact.key(ws, view["id"]))
    return {**view, "engagement": engagement.facts_of(item.attribute_values)}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(people=CONTACTS, filters=st.lists(FILTERS, min_size=1, max_size=4), limit=st.integers(1, 5))
def test_search_pages_and_count_agree_with_the_evaluator_on_every_contact(
    new_workspace, people: list[dict[str, Any]], filters: list[dict[str, Any]], limit: int
) -> None:
    from chalicelib.schemas.filters import CountBody
    from chalicelib.segments import rules
    from chalicelib.segments.evaluate import Context, matches

    # GIVEN random contacts, some in a group, with random engagement
    api = new_workspace()
    assert api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"}).status == 201
    group = api.post("/api/v1/groups", {"name": "G"}).json["id"]
    campaign = new_campaign(api, [group])["id"]  # a draft: what engagement conditions may name
    ws = api.get("/api/v1/workspace").json["id"]
    ids: list[str] = []
    members: set[str] = set()
    for n, person in enumerate(people):
        body = {k: v for k, v in person.items() if k not in ("seats", "member", "engaged") and v is not None}
        if person["seats"] is not None:
            body["customFields"] = {"seats": person["seats"]}
        reply = api.post("/api/v1/contacts", {**body, "email": f"p{n}@example.com"})
        assert reply.status == 201, reply.json
        ids.append(reply.json["id"])
        engage(ws, reply.json["id"], person["engaged"], campaign)
        if person["member"]:
            members.add(reply.json["id"])
    if members:
        api.post(f"/api/v1/groups/{group}/members", {"contactIds": sorted(members)})
    for raw in filters:
        node = _with_ids(raw, group, campaign)
        # WHEN the filter is searched (every page) and counted
        found = _search_all(api, node, limit)
        counted = api.post("/api/v1/contacts/search/count", {"filter": node}).json
        # THEN both give exactly the contacts the evaluator keeps, each once
        checked = rules.check(ws, CountBody.model_validate({"filter": node}).filter)
        context = Context(now=clock.now(), groups_of=lambda cid: frozenset({group} if cid in members else ()))
        expected = {
            cid
            for cid in ids
            if matches(checked, with_facts(api.get(f"/api/v1/contacts/{cid}").json, ws), context)
        }
        assert len(found) == len(set(found)), node
        assert set(found) == expected, node
        assert counted == {"count": len(expected), "exact": True}, node


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"field": "status", "op": "eq", "value": "ACTIVE"}, {"dynamodb.Query": 1}),
        (
            {"all": [{"field": "tags", "op": "has", "value": "vip"}, {"field": "company", "op": "exists"}]},
            {"dynamodb.Query": 1},
        ),
        ({"field": "company", "op": "contains", "value": "cm"}, {"dynamodb.Query": 1}),
        ({"field": "firstName", "op": "startsWith", "value": "an"}, {"dynamodb.Query": 1}),
    ],
)
def test_a_search_page_served_by_an_index_is_one_query(
    api: Api, requests, node: dict[str, Any], expected: dict[str, int]
) -> None:
    # GIVEN a few contacts
    for n in range(3):
        api.post(
            "/api/v1/contacts",
            {"email": f"p{n}@example.com", "firstName": "Ana", "company": "Acme", "tags": ["vip"]},
        )
    requests.reset()
    # WHEN a page is searched
    reply = api.post("/api/v1/contacts/search", {"filter": node})
    # THEN it was one Query (API-key lookups are cached), and it found them
    assert reply.status == 200 and len(reply.json["items"]) == 3, reply.json
    assert {k: v for k, v in requests.snapshot().items() if k.startswith("dynamodb")} == expected
