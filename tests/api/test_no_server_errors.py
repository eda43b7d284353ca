"""Whatever a client sends to any route, the answer is never a 5xx: random JSON bodies,
bodies that are not JSON, odd query strings and path parameters, on every route of the API."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Api

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    [
        "email",
        "phone",
        "firstName",
        "name",
        "type",
        "steps",
        "groupIds",
        "tags",
        "value",
        "action",
        "campaignId",
        "contactIds",
        "emails",
        "status",
        "customFields",
        "fromEmail",
        "includeGroupIds",
        "key",
        "label",
        "options",
        "confirm",
        "mapping",
        "redirectUrl",
        "to",
        "from",
        "limit",
        "cursor",
        "filter",
        "rules",
        "when",
        "points",
        "sourceGroupIds",
        "connection",
        "query",
        "doubleOptIn",
        "requireConsent",
    ]
)


@st.composite
def mutated(draw: Any) -> str:
    body = dict(draw(st.sampled_from(VALID)))
    if body and draw(st.booleans()):
        body[draw(st.sampled_from(sorted(body)))] = draw(JSON_VALUES)
    return json.dumps(body)


BODIES = (
    mutated()
    | st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=5).map(json.dumps)
    | JSON_VALUES.map(json.dumps)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "email=ada%40example.com&firstName=Ada",
            "email=%ZZ&&==",
            "website=spam&email=a@b.co",
            # deeper than Python's recursion limit: the JSON reader's own guard
            '{"filter": ' + "[" * 3000 + "]" * 3000 + "}",
        ]
    )
)
GARBAGE_IDS = st.one_of(
    st.just("01ARZ3NDEKTSV4RRFFQ69G5FAV"), st.text(alphabet="abcXYZ019-_.%~", min_size=1, max_size=30)
)
# Bodies that pass validation, each field of which a test may replace with anything.
VALID = [
    {"email": "ada@example.com", "firstName": "Ada", "tags": ["vip"], "customFields": {"plan": "pro"}},
    {"phone": "+33612345678", "status": "ACTIVE", "pipelineStage": "QUALIFIED"},
    {"name": "Leads", "type": "DYNAMIC"},
    {
        "name": "Welcome",
        "fromEmail": "noreply@cohort.local",
        "steps": [{"type": "email", "subject": "Hi", "bodyText": "Hello"}, {"type": "wait", "minutes": 5}],
    },
    {"action": "applyTags", "tags": ["x"]},
    {"action": "addToCampaign", "campaignId": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    {"contactIds": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"], "emails": ["bob@example.com"]},
    {"key": "plan", "label": "Plan", "type": "select", "options": ["a", "b"]},
    {"value": "@rival.com"},
    {"from": "vip", "to": "gold"},
    {"name": "Newsletter", "groupIds": [], "tags": ["web"], "redirectUrl": "https://example.com/thanks"},
    {"fileName": "leads.csv", "mapping": {"E-mail": "email"}, "updateExisting": True},
    # segments, scoring, syncs, consent, group merge (the routes of 2026-12-05/06)
    {"filter": {"all": [{"field": "createdAt", "op": "withinLast", "value": {"days": 30}}]}, "limit": 10},
    {"filter": {"any": [{"event": "opened", "withinLast": {"days": 7}}]}, "action": "addTags", "tags": ["x"]},
    {"name": "Rules", "type": "DYNAMIC", "rules": {"field": "tags", "op": "has", "value": "vip"}},
    {"name": "Opened", "points": 5, "when": {"event": "opened"}, "repeat": "once", "active": True},
    {"sourceGroupIds": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"], "deleteSources": False},
    {
        "name": "CRM",
        "engine": "postgresql",
        "connection": {"host": "127.0.0.1", "port": 9, "database": "crm", "user": "u", "password": "p"},
        "query": "SELECT email FROM people",
        "mapping": {"email": "email"},
        "schedule": "manual",
        "updateExisting": True,
    },
    {"name": "Opt-in", "groupIds": [], "doubleOptIn": True, "fromEmail": "noreply@cohort.local"},
    {"requireConsent": True},
]
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 3
    + ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "text/csv"]
)
QUERIES = st.dictionaries(
    st.sampled_from(["limit", "cursor", "status", "tag", "q", "groupId", "pipelineStage", "prefix"]),
    st.text(alphabet="abc019-_=+/%&", max_size=30),
    max_size=3,
)


def _routes() -> list[tuple[str, str]]:
    import app  # noqa: F401  (registers every route)
    from chalicelib.api.http import ROUTES

    return sorted(ROUTES)


@pytest.fixture
def seeded(api: Api) -> dict[str, str]:
    """What exists in the workspace, by the collection a path names: a contact, a dynamic
    group, a campaign on it, a form, a field, a tag, an exclusion, a database sync."""
    contact = api.post("/api/v1/contacts", {"email": "seed@example.com", "tags": ["vip"]}).json["id"]
    group = api.post("/api/v1/groups", {"name": "Seed", "type": "DYNAMIC"}).json["id"]
    campaign = api.post("/api/v1/campaigns", {**VALID[3], "includeGroupIds": [group]}).json["id"]
    form = api.post("/api/v1/forms", {"name": "Seed form", "groupIds": [group]}).json["id"]
    api.post("/api/v1/fields", VALID[7])
    api.post("/api/v1/exclusions", {"value": "@rival.com"})
    # A database sync whose server is nowhere (nothing listens on port 9: refused at once).
    connection = {"host": "127.0.0.1", "port": 9, "database": "crm", "user": "reader", "password": "x"}
    sync = {"name": "Seed", "engine": "mysql", "connection": connection, "query": "SELECT email FROM t"}
    sync_id = api.post("/api/v1/syncs", {**sync, "mapping": {"email": "email"}}).json["id"]
    rule = api.post("/api/v1/scoring/rules", VALID[15]).json["id"]
    return {
        "contacts": contact,
        "groups": group,
        "campaigns": campaign,
        "forms": form,
        "f": form,
        "fields": "plan",
        "tags": "vip",
        "exclusions": "@rival.com",
        "syncs": sync_id,
        "scoring": rule,
    }


@pytest.mark.parametrize(("path", "method"), _routes())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_client_input_gets_a_server_error(
    api: Api, seeded: dict[str, str], path: str, method: str, data: Any
) -> None:
    from urllib.parse import quote, urlencode

    collection = path.removeprefix("/api/v1").split("/")[1]
    known = seeded.get(collection)
    ids = st.sampled_from([known] * 4) | GARBAGE_IDS if known else GARBAGE_IDS
    concrete = re.sub(r"\{[^}]+\}", lambda _: quote(data.draw(ids), safe=""), path)
    query = data.draw(QUERIES)
    url = concrete + ("?" + urlencode(query) if query else "")
    raw = data.draw(BODIES) if method in ("POST", "PATCH", "PUT") else None
    content_type = data.draw(CONTENT_TYPES) if raw is not None else "application/json"
    reply = api.call(method, url, raw=raw, headers={"Content-Type": content_type})
    assert reply.status < 500, (method, url, raw, reply.body[:500])
    if reply.status >= 400 and reply.headers.get("Content-Type", "").startswith("application/json"):
        error = reply.json["error"]
        assert error["code"] and error["message"], reply.json
