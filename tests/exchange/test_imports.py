"""Importing the files people actually have: every file of tests/fixtures/csv goes through the
API and the imports queue, and every row's outcome is checked."""

from __future__ import annotations

import json

from tests.support.imports import contacts_by_email, corpus, import_body, import_upload, outcomes


def test_excel_utf8_file_with_bom_and_crlf(api, pump) -> None:
    view = import_body(api, pump, corpus("utf8_bom_crlf.csv"))
    assert (view["status"], view["totalRows"], view["processedRows"], view["created"]) == (
        "COMPLETED",
        2,
        2,
        2,
    )
    assert view["encoding"] == "utf-8-sig" and view["delimiter"] == ","
    elodie = contacts_by_email(api)["elodie.durand@example.com"]
    # The BOM is not glued to the first header: "Email" mapped, accents intact.
    assert (elodie["firstName"], elodie["lastName"], elodie["company"]) == ("Élodie", "Durand", "Crème & Co")
    assert (elodie["title"], elodie["phone"], elodie["tags"]) == (
        "Directrice",
        "+33612345678",
        ["vip", "salon-2026"],
    )
    assert contacts_by_email(api)["jose.nunez@example.com"]["phone"] == "+34612345678"
    assert view["columns"]["mapped"] == {
        "Email": "email",
        "First name": "firstName",
        "Last name": "lastName",
        "Company": "company",
        "Job title": "title",
        "Mobile": "phone",
        "Tags": "tags",
    }


def test_windows_1252_file_with_semicolons_and_french_headers(api, pump) -> None:
    view = import_body(api, pump, corpus("cp1252_semicolon_fr.csv"))
    assert (view["status"], view["created"], view["failed"]) == ("COMPLETED", 2, 0)
    assert (view["encoding"], view["delimiter"]) == ("windows-1252", ";")
    contacts = contacts_by_email(api)
    francois = contacts["francois.leger@example.fr"]
    assert (francois["firstName"], francois["lastName"]) == ("François", "Léger")
    assert (francois["company"], francois["title"]) == ("Société Générale des Eaux", "Chargé d'affaires")
    assert francois["phone"] == "+33142685300"
    assert (
        contacts["chloe.benoit@example.fr"]["firstName"],
        contacts["chloe.benoit@example.fr"]["company"],
    ) == (
        "Chloë",
        "Ça Marche SARL",
    )


def test_excel_sep_line_trailing_empty_columns_and_blank_lines(api, pump) -> None:
    view = import_body(api, pump, corpus("excel_sep_line.csv"))
    # Two people; the line of empty cells and the empty line are not rows.
    assert (view["status"], view["totalRows"], view["created"], view["errorCount"]) == ("COMPLETED", 2, 2, 0)
    assert view["delimiter"] == ";"
    contacts = contacts_by_email(api)
    anne = contacts["anne.martin@example.com"]
    assert (anne["firstName"], anne["lastName"], anne["company"]) == ("Anne", "Martin", "Martin SA")
    assert (
        contacts["paul.morel@example.com"]["lastName"],
        contacts["paul.morel@example.com"]["company"],
    ) == (
        "Morel",
        None,
    )
    assert view["columns"]["mapped"] == {
        "Adresse e-mail": "email",
        "Nom complet": "fullName",
        "Entreprise": "company",
    }


def test_tab_separated_file_with_capital_headers(api, pump) -> None:
    view = import_body(api, pump, corpus("tab_delimited.csv"))
    assert (view["delimiter"], view["created"]) == ("\t", 2)
    lea = contacts_by_email(api)["lea.petit@example.com"]
    assert (lea["firstName"], lea["lastName"], lea["title"]) == ("Léa", "Petit", "CTO")


def test_quoted_values_keep_their_commas_quotes_and_line_breaks(api, pump) -> None:
    view = import_body(api, pump, corpus("quoted_newlines.csv"))
    assert (view["totalRows"], view["created"]) == (2, 2)
    contacts = contacts_by_email(api)
    marc = contacts["marc.blanc@example.com"]
    assert (marc["company"], marc["title"]) == ("Blanc, Fils & Cie", "Directeur\ncommercial")
    assert contacts["nina.faure@example.com"]["company"] == 'Le "Petit" Atelier'


def test_old_mac_line_ends(api, pump) -> None:
    view = import_body(api, pump, corpus("mac_cr.csv"))
    assert (view["totalRows"], view["created"]) == (2, 2)
    rose = contacts_by_email(api)["rose.noel@example.com"]
    assert (rose["firstName"], rose["lastName"]) == ("Rose", "Noël")


def test_custom_fields_by_label_and_key_and_ignored_columns_reported(api, pump) -> None:
    for field in (
        {"key": "budget", "label": "Budget annuel", "type": "number"},
        {"key": "signed_on", "label": "Date de signature", "type": "date"},
        {"key": "newsletter", "label": "Newsletter", "type": "boolean"},
        {"key": "industry", "label": "Secteur", "type": "select", "options": ["retail", "energy"]},
    ):
        assert api.post("/api/v1/fields", field).status == 201
    view = import_body(api, pump, corpus("custom_fields.csv"))
    assert (view["created"], view["failed"]) == (2, 0), view["errors"]
    contacts = contacts_by_email(api)
    assert contacts["claire.vidal@example.com"]["customFields"] == {
        "budget": 12500.5,
        "signed_on": "2026-03-15",
        "newsletter": True,
        "industry": "retail",
    }
    assert contacts["remi.caron@example.com"]["customFields"] == {
        "budget": 3000,
        "signed_on": "2026-01-31",
        "newsletter": False,
        "industry": "energy",
    }
    assert view["columns"]["mapped"]["Budget annuel"] == "customFields.budget"
    assert view["columns"]["mapped"]["industry"] == "customFields.industry"
    assert view["columns"]["ignored"] == ["Notes", "column 7 (no header)"]


def test_every_troubled_row_ends_with_a_result_and_a_reason(api, pump) -> None:
    assert api.post("/api/v1/exclusions", {"value": "blocked@example.com"}).status in (200, 201)
    assert api.post("/api/v1/exclusions", {"value": "@spam.example"}).status in (200, 201)
    erased = api.post("/api/v1/contacts", {"email": "erased.person@example.com"}).json
    assert api.post(f"/api/v1/contacts/{erased['id']}/anonymize").status == 200

    view = import_body(api, pump, corpus("troubles.csv"))
    assert view["status"] == "COMPLETED"
    assert view["totalRows"] == view["processedRows"] == 9
    assert view["created"] + view["updated"] + view["skipped"] + view["failed"] == 9
    assert (view["created"], view["updated"], view["skipped"], view["failed"]) == (2, 1, 3, 3)
    rows = outcomes(view)
    assert rows[2][0] == "updated" and "duplicate of row 1" in rows[2][1]
    assert rows[3][0] == "failed" and rows[3][1].startswith("email:")
    assert rows[4][0] == "failed" and "email or a phone" in rows[4][1]
    assert rows[5] == ("skipped", "this address is on the suppression list; never imported")
    assert rows[6] == ("skipped", "this address's domain is on the suppression list; never imported")
    assert rows[7][0] == "skipped" and "forgotten" in rows[7][1]
    assert rows[8][0] == "failed" and "5 values but the header has 4 columns" in rows[8][1]
    assert {1, 9}.isdisjoint(rows)
    assert [e["line"] for e in view["errors"]] == [3, 4, 5, 6, 7, 8, 9]

    contacts = contacts_by_email(api)
    merged = contacts["ok.one@example.com"]  # both rows in one contact
    assert (merged["firstName"], merged["lastName"], merged["phone"]) == ("Ok", "Merged", "+33611223344")
    for never in (
        "blocked@example.com",
        "someone@spam.example",
        "erased.person@example.com",
        "too.many@example.com",
    ):
        assert never not in contacts
    assert set(contacts) >= {"ok.one@example.com", "ok.two@example.com"}


def test_the_error_report_lists_every_reported_row_with_its_cells(api, pump) -> None:
    view = import_body(api, pump, corpus("troubles.csv"))
    report = api.get(f"/api/v1/imports/{view['id']}/errors.csv")
    assert report.status == 200
    assert report.headers["Content-Type"].startswith("text/csv")
    text = report.body.decode("utf-8")
    assert text.startswith("\ufeffrow,line,result,reason,value,email,first name,last name,phone\r\n")
    lines = text.splitlines()[1:]
    assert len(lines) == view["errorCount"] == 4  # no suppression list here: 2 of them get imported
    assert lines[1].startswith("3,4,failed,email:") and lines[1].endswith(",not-an-email,Bad,Email,")


def test_a_large_error_report_is_a_download_named_safely(api, pump, monkeypatch) -> None:
    import requests as http

    from chalicelib.exchange import import_report

    # GIVEN
    monkeypatch.setattr(import_report, "INLINE_REPORT_BYTES", 10)
    # WHEN
    view = import_body(api, pump, corpus("troubles.csv"), fileName='Salon "2026" été.csv')
    report = api.get(f"/api/v1/imports/{view['id']}/errors.csv")
    # THEN
    assert report.status == 303
    download = http.get(report.headers["Location"], timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="import-{view["id"]}-errors.csv"'
    assert len(download.content.decode("utf-8").splitlines()) == view["errorCount"] + 1


def test_a_quote_never_closed_fails_the_import_before_anything_is_written(api, pump) -> None:
    view = import_body(api, pump, corpus("unclosed_quote.csv"))
    assert view["status"] == "FAILED"
    assert "line 2" in view["failureReason"] and "never closed" in view["failureReason"]
    assert view["processedRows"] == 0
    assert contacts_by_email(api) == {}


def test_a_row_with_malformed_quotes_is_reported_with_its_text_and_the_rest_imported(api, pump) -> None:
    data = (
        b"Email,First name\r\n"
        b"a@example.com,Ann\r\n"
        b'b@example.com,"Bob"by\r\n'  # text after a closing quote
        b'"c@example.com" ,Cy\r\n'  # a space after one: what hand-edited files hold
        b"d@example.com,Di\r\n"
    )
    view = import_body(api, pump, data)
    assert (view["status"], view["totalRows"], view["processedRows"]) == ("COMPLETED", 4, 4)
    assert (view["created"], view["failed"]) == (2, 2)
    reported = outcomes(view)
    assert set(reported) == {2, 3}
    assert all(result == "failed" and "malformed quotes" in reason for result, reason in reported.values())
    values = {error["row"]: error["value"] for error in view["errors"]}
    assert values[2] == 'b@example.com,"Bob"by'
    assert set(contacts_by_email(api)) == {"a@example.com", "d@example.com"}


def test_a_workbook_is_refused_with_a_clear_reason(api, pump) -> None:
    view = import_body(api, pump, b"PK\x03\x04" + b"\x00" * 200)
    assert view["status"] == "FAILED"
    assert "Excel workbook" in view["failureReason"]


def test_a_file_without_email_or_phone_column_says_how_to_map_one(api, pump) -> None:
    view = import_body(api, pump, b"Nom,Ville\nDupont,Paris\n")
    assert view["status"] == "FAILED"
    assert "no column holds an email or a phone" in view["failureReason"]
    mapped = import_body(
        api, pump, b"Contact,Ville\njo@example.com,Paris\n", mapping=json.dumps({"Contact": "email"})
    )
    assert (mapped["status"], mapped["created"]) == ("COMPLETED", 1)
    assert mapped["columns"] == {"mapped": {"Contact": "email"}, "ignored": ["Ville"], "unmatchedMapping": []}


def test_explicit_mapping_overrides_the_automatic_one(api, pump) -> None:
    # GIVEN
    data = "Email,Mobile,Nom\nzoe@example.com,06 12 34 56 78,Zoé Lambert\n".encode()
    # WHEN
    view = import_upload(api, pump, data, mapping={"Mobile": "ignore", "Nom": "fullName", "Absent": "title"})
    # THEN
    assert view["created"] == 1
    zoe = contacts_by_email(api)["zoe@example.com"]
    assert (zoe["phone"], zoe["firstName"], zoe["lastName"]) == (None, "Zoé", "Lambert")
    assert view["columns"]["ignored"] == ["Mobile"]
    assert view["columns"]["unmatchedMapping"] == ["Absent"]


def test_the_upload_url_path_imports_a_windows_file(api, pump) -> None:
    view = import_upload(api, pump, corpus("cp1252_semicolon_fr.csv"), fileName="clients.csv", tags=["salon"])
    assert (view["status"], view["created"], view["fileName"], view["tags"]) == (
        "COMPLETED",
        2,
        "clients.csv",
        ["salon"],
    )
    assert contacts_by_email(api)["francois.leger@example.fr"]["tags"] == ["salon"]
