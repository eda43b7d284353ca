"""A contact's consent through the API: recorded on every contact, stated by a client (and
checked), raised but never lowered by syncs, withdrawn by unsubscribing, on the timeline and
in the export, erased with the person."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.db import table
from tests.support.forms import contact_by_email
from tests.support.imports import import_body


def _kinds(api, contact_id: str) -> list[str]:
    return [a["type"] for a in api.get(f"/api/v1/contacts/{contact_id}/activity").json["items"]]


def test_every_new_contact_has_a_consent_recording_where_it_came_from(api) -> None:
    plain = api.post("/api/v1/contacts", {"email": "ann@example.com"}).json
    assert plain["consent"] == {"status": "NONE", "at": plain["createdAt"], "source": "api"}

    stated = api.post(
        "/api/v1/contacts",
        {
            "email": "bob@example.com",
            "consent": {
                "status": "GRANTED",
                "at": "2026-11-30T09:15:00+01:00",
                "source": "event:salon-2026",
                "text": "Yes, send me news",
                "ip": "2001:db8::1",
            },
        },
    )
    assert stated.status == 201, stated.json
    assert stated.json["consent"] == {
        "status": "GRANTED",
        "at": "2026-11-30T08:15:00.000Z",
        "source": "event:salon-2026",
        "text": "Yes, send me news",
        "ip": "2001:db8::1",
    }
    assert api.get(f"/api/v1/contacts/{stated.json['id']}").json["consent"] == stated.json["consent"]


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        ({"status": "MAYBE"}, "consent.status"),
        ({"at": "2026-11-30T09:15:00Z"}, "consent.status"),
        ({"status": "GRANTED", "at": "yesterday"}, "consent.at"),
        ({"status": "GRANTED", "at": "2026-11-30T09:15:00"}, "consent.at"),
        ({"status": "GRANTED", "ip": "300.1.1.1"}, "consent.ip"),
        ({"status": "GRANTED", "source": ""}, "consent.source"),
        ({"status": "GRANTED", "text": "x" * 2001}, "consent.text"),
        ({"status": "GRANTED", "who": "me"}, "consent.who"),
        ("GRANTED", "consent"),
    ],
)
def test_a_bad_consent_is_422_naming_it_and_writes_nothing(api, aws, consent, field) -> None:
    api.get("/api/v1/workspace")  # the key's first use is recorded (lastUsedAt): not this test's
    before = table(aws)
    for path in ("/api/v1/contacts", "/api/v1/contacts/sync"):
        reply = api.post(path, {"email": "ann@example.com", "consent": consent})
        assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
        assert reply.json["error"]["details"][0]["field"] == field
    assert table(aws) == before


def test_a_sync_raises_consent_but_never_lowers_it(api) -> None:
    api.post("/api/v1/contacts", {"email": "ann@example.com"})
    sync = lambda status: api.post(  # noqa: E731
        "/api/v1/contacts/sync", {"email": "ann@example.com", "consent": {"status": status}}
    ).json["contact"]["consent"]["status"]
    assert sync("PENDING") == "PENDING"
    assert sync("NONE") == "PENDING"
    assert sync("GRANTED") == "GRANTED"
    assert sync("PENDING") == "GRANTED"
    assert sync("NONE") == "GRANTED"


def test_withdrawing_consent_unsubscribes_and_no_sync_undoes_it(api) -> None:
    ann = api.post("/api/v1/contacts", {"email": "ann@example.com", "consent": {"status": "GRANTED"}}).json
    withdrawn = api.post(
        "/api/v1/contacts/sync", {"email": "ann@example.com", "consent": {"status": "WITHDRAWN"}}
    )
    assert withdrawn.json["contact"]["status"] == "UNSUBSCRIBED"
    assert withdrawn.json["contact"]["consent"]["status"] == "WITHDRAWN"
    again = api.post(
        "/api/v1/contacts/sync",
        {"email": "ann@example.com", "status": "ACTIVE", "consent": {"status": "GRANTED"}},
    )
    assert (again.json["contact"]["status"], again.json["contact"]["consent"]["status"]) == (
        "UNSUBSCRIBED",
        "WITHDRAWN",
    )
    # An operator may change it (PATCH), as with the status.
    patched = api.patch(
        f"/api/v1/contacts/{ann['id']}", {"status": "ACTIVE", "consent": {"status": "GRANTED"}}
    )
    assert (patched.json["status"], patched.json["consent"]["status"]) == ("ACTIVE", "GRANTED")
    assert patched.json["consent"]["source"] == "api"
    cleared = api.patch(f"/api/v1/contacts/{ann['id']}", {"consent": None})
    assert (cleared.status, cleared.error_code) == (422, "validation_error")


def test_unsubscribing_withdraws_consent_on_the_timeline(api, pump) -> None:
    # GIVEN a contact that gave consent
    ann = api.post("/api/v1/contacts", {"email": "ann@example.com", "consent": {"status": "GRANTED"}}).json
    pump.drain()
    # WHEN it is unsubscribed
    api.patch(f"/api/v1/contacts/{ann['id']}", {"status": "UNSUBSCRIBED"})
    pump.drain()
    # THEN its consent is withdrawn, and the timeline says both
    after = contact_by_email(api, "ann@example.com")
    assert (after["consent"]["status"], after["consent"]["source"]) == ("WITHDRAWN", "api")
    items = api.get(f"/api/v1/contacts/{ann['id']}/activity").json["items"]
    assert [a["type"] for a in items] == ["consentWithdrawn", "consentGiven"]
    assert items[1]["details"]["source"] == "api"


def test_the_unsubscribe_path_withdraws_consent(api) -> None:
    from chalicelib.contacts import status

    ann = api.post("/api/v1/contacts", {"email": "ann@example.com", "consent": {"status": "GRANTED"}}).json
    workspace_id = api.get("/api/v1/workspace").json["id"]
    assert status.raise_to(workspace_id, ann["id"], "UNSUBSCRIBED", "unsubscribe link")
    after = contact_by_email(api, "ann@example.com")
    assert (after["status"], after["consent"]["status"], after["consent"]["source"]) == (
        "UNSUBSCRIBED",
        "WITHDRAWN",
        "unsubscribe link",
    )


def test_the_export_shows_consent(api) -> None:
    api.post(
        "/api/v1/contacts",
        {"email": "ann@example.com", "consent": {"status": "GRANTED", "text": "Yes", "ip": "192.0.2.7"}},
    )
    bob = api.post("/api/v1/contacts", {"email": "bob@example.com"}).json
    text = api.get("/api/v1/contacts/export").body.decode("utf-8-sig")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(text))}
    assert (rows["ann@example.com"]["consentStatus"], rows["ann@example.com"]["consentSource"]) == (
        "GRANTED",
        "api",
    )
    assert (rows["ann@example.com"]["consentText"], rows["ann@example.com"]["consentIp"]) == (
        "Yes",
        "192.0.2.7",
    )
    assert (rows["bob@example.com"]["consentStatus"], rows["bob@example.com"]["consentAt"]) == (
        "NONE",
        bob["createdAt"],
    )


def test_erasure_keeps_the_consents_proof_without_personal_data(api) -> None:
    ann = api.post(
        "/api/v1/contacts",
        {"email": "ann@example.com", "consent": {"status": "GRANTED", "text": "Yes", "ip": "192.0.2.7"}},
    ).json
    erased = api.post(f"/api/v1/contacts/{ann['id']}/anonymize")
    assert erased.status == 200, erased.json
    consent = api.get(f"/api/v1/contacts/{ann['id']}").json["consent"]
    assert consent == {"status": "GRANTED", "at": ann["consent"]["at"], "source": "api"}


def test_an_import_records_its_id_and_never_undoes_a_withdrawal(api, pump) -> None:
    # GIVEN a contact that withdrew its consent
    api.post("/api/v1/contacts", {"email": "ann@example.com", "consent": {"status": "WITHDRAWN"}})
    # WHEN a file names it and a new person
    csv_file = b"email,firstName\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n"
    view = import_body(api, pump, csv_file, updateExisting="true")
    # THEN the new one records the import, and the withdrawal stays
    assert (view["created"], view["updated"]) == (1, 1), view
    bob = contact_by_email(api, "bob@example.com")
    assert (bob["consent"]["status"], bob["consent"]["source"]) == ("NONE", f"import:{view['id']}")
    ann = contact_by_email(api, "ann@example.com")
    assert (ann["firstName"], ann["status"], ann["consent"]["status"]) == ("Ann", "UNSUBSCRIBED", "WITHDRAWN")
