"""The suppression list: /api/v1/exclusions and the check that sends go through."""

from __future__ import annotations

import pytest

from chalicelib.deliverability import suppression


def test_addresses_and_domains_are_added_normalised_and_listed(api) -> None:
    # WHEN
    person = api.post("/api/v1/exclusions", {"value": "  Person@Competitor.COM "})
    domain = api.post("/api/v1/exclusions", {"value": "@Rival.example"})
    # THEN
    assert (person.status, person.json["value"], person.json["type"]) == (
        201,
        "person@competitor.com",
        "address",
    )
    assert (domain.status, domain.json["value"], domain.json["type"]) == (201, "@rival.example", "domain")
    listed = api.get("/api/v1/exclusions").json
    assert [item["value"] for item in listed["items"]] == ["@rival.example", "person@competitor.com"]
    assert listed["nextCursor"] is None
    assert [i["value"] for i in api.get("/api/v1/exclusions?q=@").json["items"]] == ["@rival.example"]


def test_adding_a_value_twice_keeps_one_and_answers_200(api) -> None:
    # GIVEN
    first = api.post("/api/v1/exclusions", {"value": "a@x.com"})
    # WHEN
    again = api.post("/api/v1/exclusions", {"value": "A@X.com"})
    # THEN
    assert (first.status, again.status) == (201, 200)
    assert again.json == first.json
    assert len(api.get("/api/v1/exclusions").json["items"]) == 1


@pytest.mark.parametrize("value", ["not-an-address", "@", "@nodot", "a@@b.com", "x@", "@bad_domain..com", ""])
def test_a_value_neither_an_address_nor_a_domain_is_422_and_stores_nothing(api, value) -> None:
    reply = api.post("/api/v1/exclusions", {"value": value})
    assert (reply.status, reply.error_code) == (422, "validation_error")
    assert reply.json["error"]["details"][0]["field"] == "value"
    assert api.get("/api/v1/exclusions").json["items"] == []


def test_the_list_is_paginated(api) -> None:
    for n in range(5):
        api.post("/api/v1/exclusions", {"value": f"p{n}@x.com"})
    first = api.get("/api/v1/exclusions?limit=2").json
    second = api.get(f"/api/v1/exclusions?limit=2&cursor={first['nextCursor']}").json
    third = api.get(f"/api/v1/exclusions?limit=2&cursor={second['nextCursor']}").json
    values = [i["value"] for page in (first, second, third) for i in page["items"]]
    assert values == [f"p{n}@x.com" for n in range(5)]
    assert third["nextCursor"] is None
    assert api.get("/api/v1/exclusions?limit=501").status == 422


def test_removing_by_query_or_body_and_unknown_values_are_404(api) -> None:
    api.post("/api/v1/exclusions", {"value": "a@x.com"})
    api.post("/api/v1/exclusions", {"value": "@y.com"})
    assert api.delete("/api/v1/exclusions?value=A@x.com").status == 204
    assert api.call("DELETE", "/api/v1/exclusions", {"value": "@y.com"}).status == 204
    assert api.get("/api/v1/exclusions").json["items"] == []
    gone = api.delete("/api/v1/exclusions?value=a@x.com")
    assert (gone.status, gone.error_code) == (404, "not_found")
    assert api.delete("/api/v1/exclusions").status == 422


def test_each_workspace_has_its_own_list(api, new_workspace) -> None:
    # GIVEN
    other = new_workspace(name="Other")
    # WHEN
    api.post("/api/v1/exclusions", {"value": "a@x.com"})
    # THEN
    assert other.get("/api/v1/exclusions").json["items"] == []
    assert other.delete("/api/v1/exclusions?value=a@x.com").status == 404
    assert len(api.get("/api/v1/exclusions").json["items"]) == 1


def test_is_suppressed_sees_addresses_domains_subdomains_and_erased_people(api, requests) -> None:
    ws = api.get("/api/v1/workspace").json["id"]
    api.post("/api/v1/exclusions", {"value": "boss@acme.com"})
    api.post("/api/v1/exclusions", {"value": "@rival.com"})
    erased = api.post("/api/v1/contacts", {"email": "gone@free.com"}).json["id"]
    assert api.post(f"/api/v1/contacts/{erased}/anonymize").status == 200

    requests.reset()
    assert suppression.is_suppressed(ws, "boss@acme.com") == suppression.EXCLUDED_ADDRESS
    assert requests.snapshot() == {"dynamodb.BatchGetItem": 1}
    assert suppression.is_suppressed(ws, "anyone@rival.com") == suppression.EXCLUDED_DOMAIN
    assert suppression.is_suppressed(ws, "anyone@eu.mail.rival.com") == suppression.EXCLUDED_DOMAIN
    assert suppression.is_suppressed(ws, "gone@free.com") == suppression.ERASED
    assert suppression.is_suppressed(ws, "other@acme.com") is None
    assert suppression.is_suppressed(ws, "someone@notrival.com") is None
    many = suppression.suppressed(ws, ["boss@acme.com", "x@rival.com", "ok@ok.com"])
    assert many == {"boss@acme.com": "excludedAddress", "x@rival.com": "excludedDomain"}


def test_exclusions_answer_401_without_a_key(client) -> None:
    from tests.support.api import Api

    assert Api(client).get("/api/v1/exclusions").status == 401


def test_an_idempotency_key_replays_the_first_answer(api) -> None:
    key = {"Idempotency-Key": "exclusion-1"}
    first, again = (api.post("/api/v1/exclusions", {"value": "a@b.com"}, headers=key) for _ in range(2))
    assert (first.status, again.status, again.json) == (201, 201, first.json)
    assert api.post("/api/v1/exclusions", {"value": "c@b.com"}, headers=key).status == 409
    assert [e["value"] for e in api.get("/api/v1/exclusions").json["items"]] == ["a@b.com"]
