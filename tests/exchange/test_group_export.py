"""A group's members as CSV: every member, parsed back, safe against formula injection."""

from __future__ import annotations

import csv
import io

from tests.support.contacts import make_contacts
from tests.support.groups import add, new_group, seed_members


def _parse(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # UTF-8 BOM: spreadsheets read accents right
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_a_2000_member_group_exports_every_member(api) -> None:
    from chalicelib.platform.ids import new_id

    group = new_group(api, "Big list")
    # The export reads the memberships only (their contact snapshots): seeding those alone
    # keeps this test fast on moto.
    contacts = [
        {"id": new_id(), "email": f"bulk{i}@example.com", "firstName": f"First{i}", "status": "ACTIVE"}
        for i in range(2000)
    ]
    seed_members(api, group, contacts)
    reply = api.get(f"/api/v1/groups/{group}/export")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert 'filename="Big-list.csv"' in reply.headers["Content-Disposition"]
    rows = _parse(reply.text)
    assert len(rows) == 2000
    assert sorted(row["id"] for row in rows) == sorted(c["id"] for c in contacts)
    by_email = {row["email"]: row for row in rows}
    assert by_email["bulk1234@example.com"]["firstName"] == "First1234"
    assert by_email["bulk1234@example.com"]["status"] == "ACTIVE"
    assert all(row["joinedAt"] for row in rows)


def test_cells_that_a_spreadsheet_would_run_are_neutralised(api) -> None:
    group = new_group(api, "Risky")
    make_contacts(api, 1, prefix="evil", firstName='=HYPERLINK("http://x")', lastName="@SUM(A1)")
    make_contacts(
        api,
        1,
        prefix="plus",
        firstName="-2+3",
        lastName="Zoë",
        company="+Plus Corp",
        phone="+33 6 12 34 56 78",
    )
    members = api.get("/api/v1/contacts?limit=10").json["items"]
    add(api, group, [m["id"] for m in members])
    rows = {row["email"]: row for row in _parse(api.get(f"/api/v1/groups/{group}/export").text)}
    evil, plus = rows["evil0@example.com"], rows["plus0@example.com"]
    assert evil["firstName"] == '\'=HYPERLINK("http://x")'
    assert evil["lastName"] == "'@SUM(A1)"
    assert plus["firstName"] == "'-2+3"
    assert plus["lastName"] == "Zoë"
    assert plus["company"] == "'+Plus Corp"
    assert plus["phone"] == "'+33612345678"


def test_an_empty_group_exports_the_header_only(api) -> None:
    group = new_group(api, "Empty")
    reply = api.get(f"/api/v1/groups/{group}/export")
    assert reply.status == 200
    assert _parse(reply.text) == []
    assert reply.text == "\ufeffid,email,phone,firstName,lastName,company,title,status,joinedAt\r\n"


def test_a_group_too_large_to_answer_inline_is_exported_by_a_job(api, pump, monkeypatch) -> None:
    """Past INLINE_MEMBERS members (or MAX_BYTES of CSV when the counter lags), the export
    runs as the contacts export of the group: 202, then a download URL."""
    import requests as http

    from chalicelib.exchange import group_export

    group = new_group(api, "Everyone")
    members = make_contacts(api, 4)
    add(api, group, members)
    pump.drain()
    others = make_contacts(api, 2, prefix="other")  # not in the group: not in its file
    assert api.get(f"/api/v1/groups/{group}/export").status == 200

    for knob, value in (("INLINE_MEMBERS", 3), ("MAX_BYTES", 10)):
        with monkeypatch.context() as patched:
            patched.setattr(group_export, knob, value)
            started = api.get(f"/api/v1/groups/{group}/export")
        assert started.status == 202, started.json
        assert started.headers["Location"] == started.json["statusUrl"]
        assert all(call.ok for call in pump.drain())
        done = api.get(started.json["statusUrl"]).json
        assert (done["status"], done["rows"]) == ("COMPLETED", 4)
        text = http.get(done["downloadUrl"], timeout=10).content.decode("utf-8")
        assert sorted(row["id"] for row in _parse(text)) == sorted(members)
        assert not set(others) & {row["id"] for row in _parse(text)}
