"""GET /api/v1/contacts/export: CSV that Excel opens right and cannot be tricked by, filtered as
the contact list, inline when small and built in S3 by steps when large; and a file exported
here imports back unchanged."""

from __future__ import annotations

import csv
import io

import pytest
import requests as http

from chalicelib.exchange import contact_export
from tests.support.campaigns import add_members, new_group
from tests.support.imports import contacts_by_email, import_body


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def seed(api) -> dict[str, str]:
    for field in (
        {"key": "budget", "label": "Budget annuel", "type": "number"},
        {"key": "vip", "label": "VIP", "type": "boolean"},
    ):
        assert api.post("/api/v1/fields", field).status == 201
    people = [
        {
            "email": "elodie@example.com",
            "firstName": "Élodie",
            "lastName": "Crème",
            "phone": "06 12 34 56 78",
            "tags": ["vip", "salon"],
            "customFields": {"budget": 12500.5, "vip": True},
        },
        {"email": "attacker@example.com", "firstName": '=HYPERLINK("http://evil")', "company": "@SUM(A1)"},
        {"email": "minus@example.com", "lastName": "-2+3", "title": "+1 trick", "tags": ["salon"]},
    ]
    return {p["email"]: api.post("/api/v1/contacts", p).json["id"] for p in people}


def test_a_small_export_is_the_csv_itself_safe_for_spreadsheets(api) -> None:
    seed(api)
    reply = api.get("/api/v1/contacts/export")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="contacts-')
    text = reply.body.decode("utf-8")
    header = text[1:].split("\r\n", 1)[0].split(",")
    assert header[:4] == ["id", "email", "phone", "firstName"] and header[-2:] == ["Budget annuel", "VIP"]
    rows = {row["email"]: row for row in rows_of(text)}
    elodie = rows["elodie@example.com"]
    assert (elodie["firstName"], elodie["lastName"], elodie["phone"]) == ("Élodie", "Crème", "'+33612345678")
    assert (elodie["tags"], elodie["Budget annuel"], elodie["VIP"]) == ("vip;salon", "12500.5", "true")
    attacker = rows["attacker@example.com"]
    assert attacker["firstName"] == '\'=HYPERLINK("http://evil")' and attacker["company"] == "'@SUM(A1)"
    assert (rows["minus@example.com"]["lastName"], rows["minus@example.com"]["title"]) == (
        "'-2+3",
        "'+1 trick",
    )


def test_export_takes_the_filters_of_the_list(api) -> None:
    ids = seed(api)
    group = new_group(api, "Salon")
    add_members(api, group, [ids["attacker@example.com"]])
    by_tag = rows_of(api.get("/api/v1/contacts/export?tag=salon").body.decode())
    assert sorted(row["email"] for row in by_tag) == ["elodie@example.com", "minus@example.com"]
    by_group = rows_of(api.get(f"/api/v1/contacts/export?groupId={group}").body.decode())
    assert [row["email"] for row in by_group] == ["attacker@example.com"]
    by_q = rows_of(api.get("/api/v1/contacts/export?q=elo").body.decode())
    assert [row["email"] for row in by_q] == ["elodie@example.com"]
    assert api.get("/api/v1/contacts/export?status=GONE").status == 422
    assert api.get("/api/v1/contacts/export?groupId=01ARZ3NDEKTSV4RRFFQ69G5FAV").status == 404
    # The literal path wins over /contacts/{id}; an id still reads a contact.
    assert api.get(f"/api/v1/contacts/{ids['minus@example.com']}").json["email"] == "minus@example.com"


def test_an_exported_file_imports_back_unchanged(api, new_workspace, pump) -> None:
    seed(api)
    exported = api.get("/api/v1/contacts/export").body
    other = new_workspace(name="Copy")
    for field in (
        {"key": "budget", "label": "Budget annuel", "type": "number"},
        {"key": "vip", "label": "VIP", "type": "boolean"},
    ):
        assert other.post("/api/v1/fields", field).status == 201
    view = import_body(other, pump, exported)
    assert (view["created"], view["failed"]) == (3, 0), view["errors"]
    assert sorted(view["columns"]["ignored"]) == sorted(
        [
            "createdAt",
            "id",
            "source",
            "updatedAt",
            "consentStatus",
            "consentAt",
            "consentSource",
            "consentText",
            "consentIp",
        ]
    )
    kept = ("email", "phone", "firstName", "lastName", "company", "title", "tags", "customFields", "status")
    original = {e: {k: c[k] for k in kept} for e, c in contacts_by_email(api).items()}
    copied = {e: {k: c[k] for k in kept} for e, c in contacts_by_email(other).items()}
    assert copied == original


TRICKY_FIELDS = [
    {"key": "role", "label": "Role", "type": "text"},  # "Role" is a synonym of title
    {"key": "region", "label": "Zone", "type": "text"},  # each label is the other's key
    {"key": "zone", "label": "Region", "type": "text"},
]


def test_ambiguous_labels_and_quoted_values_import_back_unchanged(api, new_workspace, pump) -> None:
    for workspace in (api, other := new_workspace(name="Copy")):
        for field in TRICKY_FIELDS:
            assert workspace.post("/api/v1/fields", field).status == 201
    person = {
        "email": "a@example.com",
        "title": "CTO",
        "lastName": "'=x",  # a quote before a formula character
        "company": "'Quoted Ltd",
        "customFields": {"role": "buyer", "region": "north", "zone": "z1"},
    }
    assert api.post("/api/v1/contacts", person).status == 201
    exported = api.get("/api/v1/contacts/export").body
    header = rows_of(exported.decode("utf-8"))[0].keys()
    assert {"customFields.role", "customFields.region", "customFields.zone"} <= set(header)
    view = import_body(other, pump, exported)
    assert (view["created"], view["failed"]) == (1, 0), view["errors"]
    kept = ("lastName", "company", "title", "customFields")
    copied = contacts_by_email(other)["a@example.com"]
    assert {k: copied[k] for k in kept} == {k: person[k] for k in kept}


def test_a_tag_cannot_hold_what_separates_tags_in_a_file(api) -> None:
    for tag in ("Paris, France", "a;b", "x|y"):
        reply = api.post("/api/v1/contacts", {"email": "a@example.com", "tags": [tag]})
        assert (reply.status, reply.json["error"]["details"][0]["field"]) == (422, "tags.0"), tag


def test_a_large_export_is_built_in_s3_by_steps(api, pump, monkeypatch) -> None:
    # Small thresholds so 13 contacts take several parts; moto's own minimum part size is the
    # documented knob of the fake (S3_UPLOAD_PART_MIN_SIZE), lowered to match.
    monkeypatch.setattr(contact_export, "INLINE_ROWS", 3)
    monkeypatch.setattr(contact_export, "PAGE", 4)
    monkeypatch.setattr(contact_export, "PART_BYTES", 300)
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 256)
    seed(api)
    for i in range(10):
        assert (
            api.post("/api/v1/contacts", {"email": f"bulk{i}@example.com", "firstName": f"Bulk {i}"}).status
            == 201
        )
    started = api.get("/api/v1/contacts/export")
    assert started.status == 202
    assert started.headers["Location"] == started.json["statusUrl"] == f"/api/v1/exports/{started.json['id']}"
    assert api.get(started.json["statusUrl"]).json["status"] == "RUNNING"
    calls = pump.drain()
    assert all(call.ok for call in calls)
    done = api.get(started.json["statusUrl"]).json
    assert (done["status"], done["rows"]) == ("COMPLETED", 13)
    download = http.get(done["downloadUrl"], timeout=10)
    assert download.status_code == 200
    text = download.content.decode("utf-8")
    assert text.count("\ufeff") == 1 and text.count("id,email,phone") == 1
    emails = sorted(row["email"] for row in rows_of(text))
    assert emails == sorted([f"bulk{i}@example.com" for i in range(10)] + list(seed_emails()))


def seed_emails() -> tuple[str, ...]:
    return ("elodie@example.com", "attacker@example.com", "minus@example.com")


def test_exports_belong_to_their_workspace(api, new_workspace, pump, monkeypatch) -> None:
    # GIVEN
    monkeypatch.setattr(contact_export, "INLINE_ROWS", 1)
    seed(api)
    started = api.get("/api/v1/contacts/export").json
    # WHEN
    other = new_workspace(name="Other")
    # THEN
    assert other.get(f"/api/v1/exports/{started['id']}").status == 404
    assert api.get("/api/v1/exports/not-an-id").status == 404


@pytest.mark.parametrize("path", ["/api/v1/contacts/export", "/api/v1/exports/01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_exports_need_a_key(client, path) -> None:
    from tests.support.api import Api

    assert Api(client).get(path).status == 401
