"""One workspace can never see or touch another's data: every route that takes an id, called
by workspace B with workspace A's ids (and with bodies that would succeed on B's own), answers
4xx; bodies that name A's ids from B's own resources are refused; A's data is unchanged."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.campaigns import verify_sender

SENDER = "noreply@cohort.local"
STEPS = [{"type": "email", "subject": "Hi", "bodyText": "Hello"}]
SYNC = {
    "name": "CRM",
    "engine": "postgresql",
    "connection": {"host": "127.0.0.1", "port": 9, "database": "crm", "user": "reader", "password": "x"},
    "query": "SELECT email FROM customers",
    "mapping": {"email": "email"},
}
# A body each route family would accept (the bodies go to every route: most are ignored).
BODIES: list[Any] = [
    None,
    {"firstName": "Mallory", "tags": ["stolen"]},
    {"name": "Renamed"},
    {"steps": STEPS},
    {"action": "applyTags", "tags": ["stolen"]},
    {"action": "deleteContacts", "confirm": True},
    {"contactIds": ["A_CONTACT"], "emails": ["mallory@example.com"]},
    {"contactIds": ["A_CONTACT"]},
    {"groupIds": []},
    {"sourceGroupIds": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]},
]


@pytest.fixture
def victim(new_workspace: Any, pump: Any) -> tuple[Api, dict[str, str]]:
    """Workspace A with one of everything: a contact in a dynamic group, a running campaign
    on it, a form, a job, an import."""
    a = new_workspace(name="Victim")
    sender = verify_sender(a)["id"]
    contact = a.post("/api/v1/contacts", {"email": "ada@example.com", "tags": ["vip"]}).json["id"]
    group = a.post("/api/v1/groups", {"name": "Leads", "type": "DYNAMIC"}).json["id"]
    a.post(f"/api/v1/groups/{group}/members", {"contactIds": [contact]})
    body = {"name": "Welcome", "fromEmail": SENDER, "steps": STEPS, "includeGroupIds": [group]}
    campaign = a.post("/api/v1/campaigns", body).json["id"]
    assert a.post(f"/api/v1/campaigns/{campaign}/launch").status == 202
    form = a.post("/api/v1/forms", {"name": "Newsletter", "groupIds": [group]}).json["id"]
    job = a.post(f"/api/v1/groups/{group}/actions", {"action": "applyTags", "tags": ["x"]}).json["jobId"]
    upload = a.post("/api/v1/imports", {"fileName": "leads.csv"}).json["id"]
    key = a.post("/api/v1/keys", {"name": "CI", "scope": "full"}).json["id"]
    hook = {"url": "http://127.0.0.1:9/", "events": ["import.completed"]}
    webhook = a.post("/api/v1/webhooks", hook).json["id"]
    sync = a.post("/api/v1/syncs", SYNC).json["id"]
    pump.drain()
    ids = {"contacts": contact, "groups": group, "campaigns": campaign, "forms": form, "keys": key}
    ids["senders"] = sender
    return a, {**ids, "jobs": job, "imports": upload, "exports": upload, "webhooks": webhook, "syncs": sync}


def snapshot(a: Api, ids: dict[str, str]) -> dict[str, Any]:
    """What A sees of its own data."""
    paths = [
        f"/api/v1/contacts/{ids['contacts']}",
        f"/api/v1/contacts/{ids['contacts']}/groups",
        f"/api/v1/groups/{ids['groups']}",
        f"/api/v1/groups/{ids['groups']}/members",
        f"/api/v1/campaigns/{ids['campaigns']}",
        f"/api/v1/campaigns/{ids['campaigns']}/enrollments",
        f"/api/v1/forms/{ids['forms']}",
        "/api/v1/contacts",
        "/api/v1/tags",
    ]
    return {path: a.get(path).json for path in paths}


def _private_routes_with_ids() -> list[tuple[str, str]]:
    import app  # noqa: F401  (registers every route)
    from chalicelib.api.http import ROUTES

    return sorted((path, method) for (path, method), doc in ROUTES.items() if "{" in path and not doc.public)


def test_another_workspaces_ids_are_404_on_every_route(victim: Any, new_workspace: Any, pump: Any) -> None:
    a, ids = victim
    before = snapshot(a, ids)
    b = new_workspace(name="Intruder")
    own_contact = b.post("/api/v1/contacts", {"email": "bob@example.com"}).json["id"]
    answered: dict[tuple[str, str], set[int]] = {}
    for path, method in _private_routes_with_ids():
        collection = path.removeprefix("/api/v1").split("/")[1]
        # A's id for the collection the path names; a second id ({contactId}) is A's contact.
        first = ids[collection]
        url = re.sub(r"\{contactId\}", ids["contacts"], re.sub(r"\{(id|groupId|formId|jobId)\}", first, path))
        for body in BODIES if method in ("POST", "PATCH", "PUT") else [None]:
            if body and body.get("contactIds"):
                body = {**body, "contactIds": [ids["contacts"]]}
            reply = b.call(method, url, body)
            answered.setdefault((method, path), set()).add(reply.status)
            assert 400 <= reply.status < 500, (method, url, body, reply.status, reply.body[:300])
    pump.drain()
    # Nothing was found: not "forbidden" (which would confirm the id exists), not a success.
    assert {status for statuses in answered.values() for status in statuses} <= {404, 400, 409, 422}
    assert [route for route, statuses in answered.items() if 404 not in statuses] == [], answered

    # Bodies of B's own requests that name A's resources.
    own_group = b.post("/api/v1/groups", {"name": "Mine"}).json["id"]
    refused = [
        b.post("/api/v1/campaigns", {"name": "X", "fromEmail": SENDER, "includeGroupIds": [ids["groups"]]}),
        b.post("/api/v1/forms", {"name": "X", "groupIds": [ids["groups"]]}),
        b.put(f"/api/v1/contacts/{own_contact}/groups", {"groupIds": [ids["groups"]]}),
        b.post(
            f"/api/v1/groups/{own_group}/actions", {"action": "addToCampaign", "campaignId": ids["campaigns"]}
        ),
        b.get(f"/api/v1/contacts/export?groupId={ids['groups']}"),
        b.post(f"/api/v1/groups/{own_group}/merge", {"sourceGroupIds": [ids["groups"]]}),
    ]
    assert all(r.status in (404, 422) and "not found" in r.json["error"]["message"] for r in refused), [
        (r.status, r.json) for r in refused
    ]
    assert b.get(f"/api/v1/contacts?groupId={ids['groups']}").json["items"] == []
    added = b.post(f"/api/v1/groups/{own_group}/members", {"contactIds": [ids["contacts"]]})
    assert added.status == 404 and added.json["error"]["details"][0]["unknownIds"] == [ids["contacts"]]
    assert b.get(f"/api/v1/groups/{own_group}/members").json["items"] == []
    pump.drain()

    assert snapshot(a, ids) == before
    assert b.get("/api/v1/contacts").json["items"][0]["email"] == "bob@example.com"
