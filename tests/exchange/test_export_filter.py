"""POST /api/v1/contacts/export with a filter (API.md "Segments"): the same answer as
GET /contacts/export (the CSV inline, or 202 and an export job), holding exactly the contacts
the one evaluator matches, whatever the filter and however many pages it takes."""

from __future__ import annotations

import csv
import io
from typing import Any

import requests as http
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.exchange import contact_export
from chalicelib.segments import search
from tests.support.api import Api
from tests.support.contacts import make_contacts
from tests.support.filters import trees
from tests.support.workspaces import workspace_of


def _ids(text: str) -> list[str]:
    assert text.startswith("\ufeff")
    return [row["id"] for row in csv.DictReader(io.StringIO(text[1:]))]


def _expected(api: Api, node: dict[str, Any], ids: list[str]) -> set[str]:
    """The one evaluator applied to each contact as the API shows it."""
    from chalicelib.platform import clock
    from chalicelib.schemas.filters import ExportBody
    from chalicelib.segments import rules
    from chalicelib.segments.evaluate import Context, matches

    checked = rules.check(workspace_of(api), ExportBody.model_validate({"filter": node}).filter)
    context = Context(now=clock.now(), groups_of=lambda _cid: frozenset())
    return {cid for cid in ids if matches(checked, api.get(f"/api/v1/contacts/{cid}").json, context)}


def test_a_small_filtered_export_is_the_csv_of_the_matches(api: Api) -> None:
    # GIVEN contacts, three of them vip at Acme
    vips = make_contacts(api, 3, prefix="vip", tags=["vip"], company="Acme")
    make_contacts(api, 2, prefix="other", tags=["vip"], company="Globex")
    make_contacts(api, 2, prefix="plain", company="Acme")
    node = {
        "all": [
            {"field": "tags", "op": "has", "value": "vip"},
            {"field": "company", "op": "eq", "value": "acme"},
        ]
    }
    # WHEN they are exported by the filter
    reply = api.post("/api/v1/contacts/export", {"filter": node})
    # THEN the answer is the CSV of exactly those, as GET /contacts/export answers
    assert reply.status == 200, reply.json
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="contacts-')
    text = reply.body.decode("utf-8")
    assert sorted(_ids(text)) == sorted(vips)
    assert (
        text[1:].split("\r\n", 1)[0]
        == api.get("/api/v1/contacts/export").body.decode()[1:].split("\r\n", 1)[0]
    )


def test_a_large_filtered_export_is_built_by_steps_over_many_pages(
    api: Api, pump: Any, monkeypatch: Any
) -> None:
    # GIVEN small thresholds (pages of 3 items read, parts of ~300 bytes) and 9 matches of 14
    monkeypatch.setattr(contact_export, "INLINE_ROWS", 3)
    monkeypatch.setattr(contact_export, "PAGE", 3)
    monkeypatch.setattr(contact_export, "PART_BYTES", 300)
    monkeypatch.setattr(search, "READ_LIMIT", 3)
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 256)
    matching = make_contacts(api, 9, prefix="web", tags=["web"])
    make_contacts(api, 5, prefix="shop")
    node = {
        "any": [
            {"field": "tags", "op": "has", "value": "web"},
            {"field": "email", "op": "startsWith", "value": "nobody"},
        ]
    }
    # WHEN they are exported by the filter
    started = api.post("/api/v1/contacts/export", {"filter": node})
    # THEN the export is a job, and its file holds every match once
    assert started.status == 202, started.json
    assert started.headers["Location"] == started.json["statusUrl"]
    assert all(call.ok for call in pump.drain())
    done = api.get(started.json["statusUrl"]).json
    assert (done["status"], done["rows"]) == ("COMPLETED", 9)
    text = http.get(done["downloadUrl"], timeout=10).content.decode("utf-8")
    assert text.count("\ufeff") == 1
    assert sorted(_ids(text)) == sorted(matching)


def test_a_selective_filter_reading_too_much_inline_becomes_a_job(
    api: Api, pump: Any, monkeypatch: Any
) -> None:
    # GIVEN a filter matching one contact of six, and room to read only 4 items inline
    monkeypatch.setattr(contact_export, "INLINE_READ", 4)
    monkeypatch.setattr(contact_export, "PAGE", 2)
    monkeypatch.setattr(search, "READ_LIMIT", 2)
    [wanted] = make_contacts(api, 1, prefix="zed", company="Initech")
    make_contacts(api, 5, prefix="plain")
    # WHEN it is exported
    started = api.post(
        "/api/v1/contacts/export", {"filter": {"field": "company", "op": "contains", "value": "tech"}}
    )
    # THEN it goes on as a job rather than reading on in the request
    assert started.status == 202, started.json
    assert all(call.ok for call in pump.drain())
    done = api.get(started.json["statusUrl"]).json
    assert _ids(http.get(done["downloadUrl"], timeout=10).content.decode("utf-8")) == [wanted]


def test_a_bad_filter_is_a_422_naming_the_node_and_exports_nothing(api: Api) -> None:
    from chalicelib.models.imports import Export
    from chalicelib.models.keys import workspace

    reply = api.post(
        "/api/v1/contacts/export", {"filter": {"all": [{"field": "email", "op": "gt", "value": "a"}]}}
    )
    assert (reply.status, reply.error_code) == (422, "validation_error")
    assert "filter.all[0].op" in [d["field"] for d in reply.json["error"]["details"]]
    assert api.post("/api/v1/contacts/export", {}).status == 422
    assert list(Export.query(workspace(workspace_of(api)), Export.sk.startswith("EXPORT#"))) == []


TEXTS = st.sampled_from(["Ana", "ana", "Élodie", "Bob", "acme", "ACME corp"])
PEOPLE = st.lists(
    st.fixed_dictionaries(
        {
            "firstName": st.one_of(st.none(), TEXTS),
            "company": st.one_of(st.none(), TEXTS),
            "pipelineStage": st.sampled_from(["LEAD", "WON"]),
            "tags": st.lists(st.sampled_from(["vip", "web"]), max_size=2, unique=True),
        }
    ),
    min_size=1,
    max_size=7,
)
LEAVES = st.one_of(
    st.builds(lambda v: {"field": "firstName", "op": "eq", "value": v}, TEXTS),
    st.builds(lambda v: {"field": "company", "op": "startsWith", "value": v[:2]}, TEXTS),
    st.just({"field": "company", "op": "notExists"}),
    st.builds(lambda v: {"field": "pipelineStage", "op": "eq", "value": v}, st.sampled_from(["LEAD", "WON"])),
    st.builds(lambda v: {"field": "tags", "op": "has", "value": v}, st.sampled_from(["vip", "web"])),
    st.builds(lambda v: {"field": "tags", "op": "hasNone", "value": [v]}, st.sampled_from(["vip", "web"])),
)
FILTERS = trees(LEAVES, max_leaves=5)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(people=PEOPLE, filters=st.lists(FILTERS, min_size=1, max_size=3))
def test_the_export_holds_exactly_the_evaluators_matches(
    new_workspace: Any, people: list[dict[str, Any]], filters: list[dict[str, Any]]
) -> None:
    # GIVEN random contacts (pages of 2 items read, so most filters take several)
    search_limit = search.READ_LIMIT
    export_page = contact_export.PAGE
    search.READ_LIMIT, contact_export.PAGE = 2, 2
    try:
        api = new_workspace()
        ids = []
        for n, person in enumerate(people):
            body = {k: v for k, v in person.items() if v is not None}
            reply = api.post("/api/v1/contacts", {**body, "email": f"p{n}@example.com"})
            assert reply.status == 201, reply.json
            ids.append(reply.json["id"])
        for node in filters:
            # WHEN the filter is exported
            reply = api.post("/api/v1/contacts/export", {"filter": node})
            # THEN its rows are the evaluator's set, each once
            assert reply.status == 200, reply.json
            rows = _ids(reply.body.decode("utf-8"))
            assert len(rows) == len(set(rows)), node
            assert set(rows) == _expected(api, node, ids), node
    finally:
        search.READ_LIMIT, contact_export.PAGE = search_limit, export_page
