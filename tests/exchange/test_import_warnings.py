"""A bad secondary value loses the value, not the row (issue #18, item 2).

A row fails only without a usable identity (no valid email and no valid phone) or past a hard
rule (plan limit, erased person, suppression list). A phone that does not parse beside a valid
email, a custom field of the wrong type, an unknown select option, a malformed date: the value
is left out of the row, the row is imported, and the report says so as a warning (row,
column, value, reason); the import counts `warnings` and the errors CSV lists them. The same
for lead forms: a visitor's bad phone beside a good email still makes the lead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.support.api import Api
from tests.support.imports import contacts_by_email, import_body

BAD_PHONE = "+33 7 00 00 00 01"  # phonenumbers: not a valid number
FIELDS = [
    {"key": "age", "label": "Age", "type": "number"},
    {"key": "plan", "label": "Plan", "type": "select", "options": ["basic", "pro"]},
    {"key": "signed_on", "label": "Signed on", "type": "date"},
]
FILE = (
    "Email,Téléphone,First name,Age,Plan,Signed on\n"
    f"ann@example.com,{BAD_PHONE},Ann,41,pro,2026-03-15\n"  # 1 the phone left out
    "bob@example.com,+33612345678,Bob,old,basic,\n"  # 2 age left out
    "cat@example.com,,Cat,,platinum,\n"  # 3 plan left out
    "dan@example.com,,Dan,,,2026-13-45\n"  # 4 the date left out
    "not-an-email,+33612345679,Eve,,,\n"  # 5 the email left out: a phone-only contact
    "also-not-an-email,06 00,Fay,,,\n"  # 6 no usable identity: failed
    ",,Gus,30,,\n"  # 7 no identity: failed
)


def imported(api: Api, pump: Any) -> dict[str, Any]:
    for field in FIELDS:
        assert api.post("/api/v1/fields", field).status == 201
    return import_body(api, pump, FILE.encode())


def test_a_bad_secondary_value_is_left_out_and_the_row_imported(api: Api, pump) -> None:
    view = imported(api, pump)
    assert view["status"] == "COMPLETED"
    assert (view["created"], view["updated"], view["skipped"], view["failed"]) == (5, 0, 0, 2)
    assert view["warnings"] == 5

    contacts = contacts_by_email(api)
    assert (contacts["ann@example.com"]["phone"], contacts["ann@example.com"]["customFields"]) == (
        None,
        {"age": 41, "plan": "pro", "signed_on": "2026-03-15"},
    )
    assert contacts["bob@example.com"]["customFields"] == {"plan": "basic"}
    assert contacts["bob@example.com"]["phone"] == "+33612345678"
    assert contacts["cat@example.com"]["customFields"] == {}
    assert contacts["dan@example.com"]["customFields"] == {}
    assert contacts["+33612345679"]["firstName"] == "Eve" and contacts["+33612345679"]["email"] is None
    assert not {"also-not-an-email", "Gus"} & {c["firstName"] for c in contacts.values()} - {"Eve"}

    warnings = [(e["row"], e["column"], e["value"]) for e in view["errors"] if e["result"] == "warning"]
    assert warnings == [
        (1, "Téléphone", BAD_PHONE),
        (2, "Age", "old"),
        (3, "Plan", "platinum"),
        (4, "Signed on", "2026-13-45"),
        (5, "Email", "not-an-email"),
    ]
    reasons = {e["row"]: e["reason"] for e in view["errors"] if e["result"] == "warning"}
    assert reasons[1].startswith('column "Téléphone": is not a valid phone number')
    assert "left out, the rest of the row was imported" in reasons[1]
    assert "must be a number" in reasons[2] and "must be one of" in reasons[3] and "YYYY-MM-DD" in reasons[4]
    failed = {e["row"]: e["reason"] for e in view["errors"] if e["result"] == "failed"}
    assert set(failed) == {6, 7}


def test_the_errors_csv_lists_the_warnings(api: Api, pump) -> None:
    view = imported(api, pump)
    report = api.get(f"/api/v1/imports/{view['id']}/errors.csv")
    assert report.status == 200
    lines = report.body.decode("utf-8").splitlines()
    assert lines[0] == "\ufeffrow,line,result,reason,value,Email,Téléphone,First name,Age,Plan,Signed on"
    assert len(lines) - 1 == view["errorCount"] == 7  # 5 warnings, 2 failed rows
    assert lines[1].startswith('1,2,warning,"column ""Téléphone"": is not a valid phone number')
    # Cells that start with + are written spreadsheet-safe (a leading quote), as exports are.
    assert lines[1].endswith(f",'{BAD_PHONE},ann@example.com,'{BAD_PHONE},Ann,41,pro,2026-03-15")
    assert [line.split(",")[2] for line in lines[1:]] == ["warning"] * 5 + ["failed"] * 2


def test_a_lead_with_a_bad_phone_beside_a_good_email_is_made_and_told(api: Api) -> None:
    from tests.support.forms import contact_by_email, json_post, make_form

    form = make_form(api)
    reply = json_post(api, form["id"], {"email": "ann@example.com", "phone": BAD_PHONE, "firstName": "Ann"})
    assert reply.status == 201, reply.json
    [warning] = reply.json["warnings"]
    assert (warning["field"], warning["value"]) == ("phone", BAD_PHONE)
    assert warning["reason"].startswith("is not a valid phone number")
    lead = contact_by_email(api, "ann@example.com")
    assert (lead["firstName"], lead["phone"]) == ("Ann", None)


def test_a_browser_post_with_a_bad_phone_makes_the_lead(api: Api) -> None:
    from tests.support.forms import FORM_ENCODED, contact_by_email, make_form

    form = make_form(api)
    public = Api(api.client)
    body = urlencode({"email": "bob@example.com", "phone": BAD_PHONE})
    reply = public.post(f"/f/{form['id']}", raw=body, headers={"Content-Type": FORM_ENCODED})
    assert reply.status == 200, reply.text
    assert contact_by_email(api, "bob@example.com")["phone"] is None


def test_a_form_post_whose_only_identity_is_bad_is_still_refused(api: Api) -> None:
    from tests.support.forms import json_post, make_form

    form = make_form(api)
    reply = json_post(api, form["id"], {"phone": BAD_PHONE})
    assert (reply.status, reply.error_code) == (422, "validation_error")
    reply = json_post(api, form["id"], {"email": "ann@example.com", "firstName": "x" * 300})
    assert (reply.status, reply.error_code) == (422, "validation_error")  # only the phone is left out
