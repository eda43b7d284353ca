"""GET /api/v1/contacts: filters, q, cursors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api


def make(api: Api, **body: Any) -> dict[str, Any]:
    reply = api.post("/api/v1/contacts", body)
    assert reply.status == 201, reply.json
    return reply.json


def ids_of(reply: Any) -> list[str]:
    assert reply.status == 200, reply.json
    return [item["id"] for item in reply.json["items"]]


def all_pages(api: Api, query: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        reply = api.get(f"/api/v1/contacts?{query}&limit={limit}{suffix}")
        pages.append(ids_of(reply))
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return pages


@pytest.fixture
def people(api: Api) -> dict[str, dict[str, Any]]:
    return {
        "elodie": make(
            api, email="elodie.martin@example.com", firstName="Élodie", lastName="Martin", tags=["vip"]
        ),
        "jean": make(api, email="jd@corp.example", firstName="Jean", lastName="Dupont", pipelineStage="WON"),
        "eloise": make(
            api, email="eloise@example.com", firstName="Eloïse", status="UNSUBSCRIBED", tags=["vip"]
        ),
        "marc": make(api, phone="+33612345678", firstName="Marc", lastName="Élie", tags=["vip", "fr"]),
        "zoe": make(api, email="zoe@example.com", pipelineStage="WON", tags=["fr"]),
    }


# One workspace for all the cases of a table: each is one GET, the setup is what costs.
Q_CASES = {
    "elo": {"elodie", "eloise"},  # first names, without accents
    "ÉLO": {"elodie", "eloise"},  # case and accents folded on both sides
    "jean du": {"jean"},  # "first last"
    "dup": {"jean"},  # last name
    "jd@": {"jean"},  # email
    "mart": {"elodie"},
    "eli": {"marc"},  # "Élie" as last name
    "elodie.martin@": {"elodie"},
    "zz": set(),
}


def test_q_is_a_prefix_of_email_or_name_ignoring_case_and_accents(api, people) -> None:
    for q, expected in Q_CASES.items():
        found = ids_of(api.get(f"/api/v1/contacts?q={q}"))
        assert sorted(found) == sorted(people[name]["id"] for name in expected), q


def test_a_contact_matching_through_email_and_name_is_listed_once_on_every_page(api) -> None:
    for i in range(4):
        make(api, email=f"anna{i}@example.com", firstName="Anna", lastName="Annan")
    for limit in (1, 2, 3, 50):
        pages = all_pages(api, "q=ann", limit)
        flat = [cid for page in pages for cid in page]
        assert len(flat) == len(set(flat)) == 4, (limit, pages)


FILTER_CASES = {
    "": {"elodie", "jean", "eloise", "marc", "zoe"},
    "status=UNSUBSCRIBED": {"eloise"},
    "status=ACTIVE": {"elodie", "jean", "marc", "zoe"},
    "tag=vip": {"elodie", "eloise", "marc"},
    "tag=vip&status=ACTIVE": {"elodie", "marc"},
    "pipelineStage=WON": {"jean", "zoe"},
    "pipelineStage=WON&tag=fr": {"zoe"},
    "pipelineStage=LEAD&status=ACTIVE&tag=vip": {"elodie", "marc"},
    "q=el&tag=vip": {"elodie", "eloise", "marc"},
    "q=el&tag=vip&status=ACTIVE": {"elodie", "marc"},
    "q=el&pipelineStage=WON": set(),
    "tag=nope": set(),
}


def test_filters_combine(api, people) -> None:
    for query, expected in FILTER_CASES.items():
        found = ids_of(api.get(f"/api/v1/contacts?{query}"))
        assert sorted(found) == sorted(people[name]["id"] for name in expected), query


def test_lists_follow_changes(api, people) -> None:
    # GIVEN
    elodie = people["elodie"]
    # WHEN
    api.patch(f"/api/v1/contacts/{elodie['id']}", {"firstName": "Lou", "tags": ["fr"], "status": "BOUNCED"})
    # THEN
    assert elodie["id"] not in ids_of(api.get("/api/v1/contacts?q=elodie m"))
    assert elodie["id"] in ids_of(api.get("/api/v1/contacts?q=lou mar"))
    assert elodie["id"] in ids_of(api.get("/api/v1/contacts?q=elodie.martin"))  # the email still matches
    assert elodie["id"] not in ids_of(api.get("/api/v1/contacts?tag=vip"))
    assert elodie["id"] in ids_of(api.get("/api/v1/contacts?tag=fr&status=BOUNCED"))
    listed = api.get("/api/v1/contacts?tag=fr").json["items"]
    assert next(item for item in listed if item["id"] == elodie["id"])["firstName"] == "Lou"


def test_pages_cover_every_contact_once_newest_first(api) -> None:
    made = [make(api, email=f"p{i}@example.com", firstName="Page", tags=["t"])["id"] for i in range(7)]
    for query in ("", "tag=t", "status=ACTIVE", "q=page", "pipelineStage=LEAD", "tag=t&status=ACTIVE"):
        pages = all_pages(api, query, 3)
        flat = [cid for page in pages for cid in page]
        assert sorted(flat) == sorted(made), query
        assert len(flat) == len(set(flat))
        assert all(len(page) <= 3 for page in pages)
    assert [cid for page in all_pages(api, "", 3) for cid in page] == made[::-1]


def test_a_tampered_or_foreign_cursor_is_422_and_changes_nothing(api, new_workspace) -> None:
    for i in range(3):
        make(api, email=f"c{i}@example.com")
    cursor = api.get("/api/v1/contacts?limit=1").json["nextCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for query in (f"cursor={tampered}", f"cursor={cursor}&status=ACTIVE", "cursor=garbage"):
        reply = api.get(f"/api/v1/contacts?limit=1&{query}")
        assert reply.status == 422, query
        assert reply.json["error"]["details"][0]["field"] == "cursor"
    other = new_workspace(name="Other")
    assert other.get(f"/api/v1/contacts?limit=1&cursor={cursor}").status == 422
    assert len(ids_of(api.get(f"/api/v1/contacts?limit=1&cursor={cursor}"))) == 1


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "status=HAPPY", "pipelineStage=DONE", "q=", "nope=1"]
)
def test_bad_list_queries_are_422(api, query: str) -> None:
    reply = api.get(f"/api/v1/contacts?{query}")
    assert reply.status == 422
    assert reply.error_code == "validation_error"


def test_group_filter_lists_the_group_members_with_the_other_filters(api, people) -> None:
    from chalicelib.models.groups import Membership
    from chalicelib.models.keys import contact_partition

    ws = api.get("/api/v1/workspace").json["id"]
    group_id = "01ARZ3NDEKTSV4RRFFQ69G5FA1"
    for name in ("elodie", "eloise", "jean"):
        contact = people[name]
        Membership(
            *Membership.key(ws, group_id, contact["id"]),
            workspaceId=ws,
            groupId=group_id,
            groupType="STATIC",
            contactId=contact["id"],
            joinedAt="2026-01-01T00:00:00.000Z",
            status=contact["status"],
            gsi1pk=contact_partition(ws, contact["id"]),
            gsi1sk=f"GROUP#{group_id}",
            gsi2pk=Membership.status_partition(ws, group_id, contact["status"]),
            gsi2sk=f"MEMBER#{contact['id']}",
        ).save()
    cases = {
        "": {"elodie", "eloise", "jean"},
        "&tag=vip": {"elodie", "eloise"},
        "&q=elo": {"elodie", "eloise"},
        "&status=ACTIVE": {"elodie", "jean"},
        "&status=ACTIVE&tag=vip": {"elodie"},
        "&pipelineStage=WON": {"jean"},
    }
    for suffix, expected in cases.items():
        found = ids_of(api.get(f"/api/v1/contacts?groupId={group_id}{suffix}"))
        assert sorted(found) == sorted(people[name]["id"] for name in expected), suffix
    pages = all_pages(api, f"groupId={group_id}", 2)
    assert sorted(cid for page in pages for cid in page) == sorted(
        people[n]["id"] for n in ("elodie", "eloise", "jean")
    )
    assert ids_of(api.get("/api/v1/contacts?groupId=01ARZ3NDEKTSV4RRFFQ69G5FA9")) == []
