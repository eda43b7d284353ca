"""Lead forms: their definitions through the API, and public posts to /f/{formId}."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.api import Api, Reply
from tests.support.campaigns import enrollments, running_campaign, sent_emails, verify_sender
from tests.support.forms import (
    FORM_ENCODED,
    browser_post,
    contact_by_email,
    contacts,
    json_post,
    make_form,
    workspace_contact_count,
)
from tests.support.groups import new_group

# ---- the workspace's forms ----------------------------------------------------------------


def test_a_created_form_is_read_listed_changed_and_deleted(api) -> None:
    group_id = new_group(api, "Leads")
    created = make_form(api, groupIds=[group_id], tags=["web", "web"], redirectUrl="https://acme.test/thanks")
    assert created["name"] == "Newsletter"
    assert created["groupIds"] == [group_id]
    assert created["tags"] == ["web"]
    assert created["redirectUrl"] == "https://acme.test/thanks"
    assert created["url"].endswith(f"/f/{created['id']}")
    assert created["createdAt"].endswith("Z")

    assert api.get(f"/api/v1/forms/{created['id']}").json == created

    patched = api.patch(
        f"/api/v1/forms/{created['id']}", {"name": "Webinar", "redirectUrl": None, "tags": []}
    )
    assert patched.status == 200, patched.json
    assert (patched.json["name"], patched.json["redirectUrl"], patched.json["tags"]) == ("Webinar", None, [])
    assert patched.json["groupIds"] == [group_id]
    assert api.get(f"/api/v1/forms/{created['id']}").json == patched.json

    assert api.delete(f"/api/v1/forms/{created['id']}").status == 204
    assert api.get(f"/api/v1/forms/{created['id']}").status == 404
    assert Api(api.client).get(f"/f/{created['id']}").status == 404
    assert api.delete(f"/api/v1/forms/{created['id']}").status == 404


def test_forms_are_listed_by_cursor(api) -> None:
    ids = [make_form(api, name=f"Form {n}")["id"] for n in range(3)]
    first = api.get("/api/v1/forms?limit=2")
    assert first.status == 200
    assert [f["id"] for f in first.json["items"]] == ids[:2]
    assert first.json["nextCursor"]
    second = api.get(f"/api/v1/forms?limit=2&cursor={first.json['nextCursor']}")
    assert [f["id"] for f in second.json["items"]] == ids[2:]
    assert second.json["nextCursor"] is None
    tampered = api.get(f"/api/v1/forms?limit=2&cursor={first.json['nextCursor'][:-2]}xx")
    assert (tampered.status, tampered.error_code) == (422, "validation_error")


def test_a_form_naming_an_unknown_group_is_404_and_not_created(api, new_workspace) -> None:
    other_group = new_group(new_workspace(name="Other"), "Theirs")
    for group_ids in (["01JAAAAAAAAAAAAAAAAAAAAAAA"], [other_group], ["not-an-id"]):
        reply = api.post("/api/v1/forms", {"name": "F", "groupIds": group_ids})
        assert (reply.status, reply.error_code) == (404, "not_found"), group_ids
    mine = make_form(api)
    patched = api.patch(f"/api/v1/forms/{mine['id']}", {"groupIds": [other_group]})
    assert (patched.status, patched.error_code) == (404, "not_found")
    assert [f["id"] for f in api.get("/api/v1/forms").json["items"]] == [mine["id"]]
    assert api.get(f"/api/v1/forms/{mine['id']}").json["groupIds"] == []


def test_a_redirect_that_is_not_http_is_422(api) -> None:
    for url in (
        "ftp://acme.test/x",
        "javascript:alert(1)",
        "/thanks",
        "acme.test",
        "https://",
        "https://a b.test/",
    ):
        reply = api.post("/api/v1/forms", {"name": "F", "redirectUrl": url})
        assert (reply.status, reply.error_code) == (422, "validation_error"), url
        assert [d["field"] for d in reply.json["error"]["details"]] == ["redirectUrl"]
    assert api.get("/api/v1/forms").json["items"] == []


def test_bad_form_bodies_are_4xx_and_create_nothing(api) -> None:
    cases = [
        (None, "{not json", 400),
        ({"groupIds": []}, None, 422),
        ({"name": "F", "color": "red"}, None, 422),
        ({"name": "x" * 201}, None, 422),
        ({"name": "F", "tags": ["t"] * 10_000}, None, 422),
        ({"name": "F", "tags": [f"t{n}" for n in range(21)]}, None, 422),
    ]
    for body, raw, status in cases:
        reply = api.post("/api/v1/forms", body, raw=raw)
        assert reply.status == status, (body, reply.json)
        assert reply.json["error"]["details"] or status == 400
    assert api.patch(f"/api/v1/forms/{make_form(api)['id']}", {}).status == 422
    assert len(api.get("/api/v1/forms").json["items"]) == 1


def test_another_workspaces_form_is_404(api, new_workspace) -> None:
    theirs = make_form(new_workspace(name="Other"))
    assert api.get(f"/api/v1/forms/{theirs['id']}").status == 404
    assert api.patch(f"/api/v1/forms/{theirs['id']}", {"name": "Mine"}).status == 404
    assert api.delete(f"/api/v1/forms/{theirs['id']}").status == 404
    assert api.get("/api/v1/forms").json["items"] == []


def test_form_creation_honours_idempotency_key(api) -> None:
    # GIVEN
    headers = {"Idempotency-Key": "form-1"}
    first = api.post("/api/v1/forms", {"name": "F"}, headers=headers)
    again = api.post("/api/v1/forms", {"name": "F"}, headers=headers)
    # WHEN
    other = api.post("/api/v1/forms", {"name": "G"}, headers=headers)
    # THEN
    assert first.status == again.status == 201
    assert again.json == first.json
    assert (other.status, other.error_code) == (409, "conflict")
    assert len(api.get("/api/v1/forms").json["items"]) == 1


# ---- the public page ------------------------------------------------------------------------


def test_the_public_page_is_an_accessible_html_form(api) -> None:
    form = make_form(api, name="Ask <b>us</b> & more")
    reply = Api(api.client).get(f"/f/{form['id']}")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    page = reply.text
    assert "<script" not in page.lower()
    assert "Ask &lt;b&gt;us&lt;/b&gt; &amp; more" in page
    assert '<html lang="en">' in page
    assert '<form method="post" accept-charset="UTF-8" novalidate' in page
    for name, autocomplete in (
        ("email", "email"),
        ("phone", "tel"),
        ("firstName", "given-name"),
        ("lastName", "family-name"),
        ("company", "organization"),
        ("title", "organization-title"),
    ):
        assert f'<label for="f-{name}">' in page
        assert f'id="f-{name}" name="{name}"' in page
        assert f'autocomplete="{autocomplete}"' in page
    assert 'name="website" type="text" tabindex="-1" autocomplete="off"' in page
    assert "script-src" not in reply.headers["Content-Security-Policy"]  # default-src 'none' covers it
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]


def test_an_unknown_form_page_is_404_html(client) -> None:
    for form_id in ("01JAAAAAAAAAAAAAAAAAAAAAAA", "nope", "%3Cscript%3E"):
        reply = Api(client).get(f"/f/{form_id}")
        assert reply.status == 404
        assert reply.headers["Content-Type"].startswith("text/html")
        assert "Form not found" in reply.text


# ---- public posts -----------------------------------------------------------------------------


def test_a_browser_post_stores_the_contact_with_the_forms_tags_and_groups(api, pump) -> None:
    leads, dynamic = new_group(api, "Leads"), new_group(api, "Web", "DYNAMIC")
    verify_sender(api)
    welcome = running_campaign(
        api, [dynamic], steps=[{"type": "email", "subject": "Hi {{firstName}}", "bodyText": "."}]
    )
    pump.drain()
    form = make_form(api, groupIds=[leads, dynamic], tags=["webinar"])
    reply = browser_post(
        api,
        form["id"],
        {
            "email": "Ann@Example.com",
            "phone": "06 12 34 56 78",
            "firstName": "Ann",
            "lastName": "Lee",
            "company": "Acme",
            "title": "CTO",
            "website": "",
        },
    )
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Thank you" in reply.text
    contact = contact_by_email(api, "ann@example.com")
    assert contact["phone"] == "+33612345678"
    assert (contact["firstName"], contact["lastName"], contact["company"], contact["title"]) == (
        "Ann",
        "Lee",
        "Acme",
        "CTO",
    )
    assert contact["tags"] == ["webinar"]
    assert contact["source"] == f"form:{form['id']}"
    groups = api.get(f"/api/v1/contacts/{contact['id']}/groups").json["items"]
    assert sorted(g["id"] for g in groups) == sorted([leads, dynamic])
    assert all(call.ok for call in pump.drain())
    assert api.get(f"/api/v1/groups/{leads}").json["memberCount"] == 1
    assert api.get(f"/api/v1/groups/{dynamic}").json["memberCount"] == 1
    # Joining the dynamic group enrolled the new lead in the group's running campaign.
    [enrollment] = enrollments(api, welcome)
    assert (enrollment["contactId"], enrollment["source"]) == (contact["id"], "dynamicGroup")
    assert [(m.to, m.subject) for m in sent_emails()] == [("ann@example.com", "Hi Ann")]


def test_a_browser_is_sent_to_the_redirect_url(api) -> None:
    # GIVEN
    form = make_form(api, redirectUrl="https://acme.test/thanks?from=form")
    # WHEN
    reply = browser_post(api, form["id"], {"email": "ann@example.com"})
    # THEN
    assert reply.status == 303
    assert reply.headers["Location"] == "https://acme.test/thanks?from=form"
    assert contact_by_email(api, "ann@example.com")


def test_a_json_post_answers_201_then_200_and_reveals_nothing_stored(api) -> None:
    form = make_form(api, tags=["web"])
    api.post("/api/v1/contacts", {"email": "bob@example.com", "firstName": "Bob", "company": "Secret"})
    created = json_post(api, form["id"], {"email": "ann@example.com", "firstName": "Ann"})
    assert (created.status, created.json) == (201, {"result": "created"})
    updated = json_post(api, form["id"], {"email": "bob@example.com"})
    assert (updated.status, updated.json) == (200, {"result": "updated"})
    assert "Secret" not in updated.text and "Bob" not in updated.text
    bob = contact_by_email(api, "bob@example.com")
    assert (bob["firstName"], bob["company"], bob["tags"]) == ("Bob", "Secret", ["web"])


def test_blank_fields_of_a_post_keep_what_the_contact_has(api) -> None:
    form = make_form(api)
    api.post("/api/v1/contacts", {"email": "ann@example.com", "firstName": "Ann", "company": "Acme"})
    reply = browser_post(
        api, form["id"], {"email": "ann@example.com", "firstName": "Annie", "company": "", "phone": ""}
    )
    assert reply.status == 200
    ann = contact_by_email(api, "ann@example.com")
    assert (ann["firstName"], ann["company"], ann["phone"]) == ("Annie", "Acme", None)


def test_a_post_never_lowers_a_status(api) -> None:
    form = make_form(api)
    ann = api.post("/api/v1/contacts", {"email": "ann@example.com"}).json
    api.patch(f"/api/v1/contacts/{ann['id']}", {"status": "UNSUBSCRIBED"})
    assert browser_post(api, form["id"], {"email": "ann@example.com", "firstName": "Ann"}).status == 200
    after = contact_by_email(api, "ann@example.com")
    assert (after["status"], after["firstName"]) == ("UNSUBSCRIBED", "Ann")


@pytest.mark.parametrize("post", [browser_post, json_post], ids=["browser", "json"])
def test_a_filled_honeypot_answers_as_success_and_stores_nothing(api, post: Callable[..., Reply]) -> None:
    # GIVEN
    group_id = new_group(api, "Leads")
    form = make_form(api, groupIds=[group_id], tags=["web"])
    real = post(api, form["id"], {"email": "ann@example.com", "website": ""})
    # WHEN
    bot = post(api, form["id"], {"email": "bot@example.com", "website": "http://spam.test"})
    # THEN
    assert (bot.status, bot.body) == (real.status, real.body)
    assert [c["email"] for c in contacts(api)] == ["ann@example.com"]
    assert workspace_contact_count(api) == 1


def test_a_body_over_64_kb_is_413_and_stores_nothing(api) -> None:
    form = make_form(api)
    big = "x" * (64 * 1024)
    as_json = json_post(api, form["id"], raw=json.dumps({"email": "ann@example.com", "company": big}))
    assert (as_json.status, as_json.error_code) == (413, "payload_too_large")
    as_form = browser_post(api, form["id"], {"email": "ann@example.com", "company": big})
    assert as_form.status == 413
    assert as_form.headers["Content-Type"].startswith("text/html")
    assert contacts(api) == []


def test_a_post_to_an_unknown_form_is_404(client) -> None:
    api = Api(client)
    for form_id in ("01JAAAAAAAAAAAAAAAAAAAAAAA", "nope"):
        as_json = json_post(api, form_id, {"email": "ann@example.com"})
        assert (as_json.status, as_json.error_code) == (404, "not_found")
        as_form = browser_post(api, form_id, {"email": "ann@example.com"})
        assert as_form.status == 404
        assert "Form not found" in as_form.text


def test_a_refused_browser_post_shows_the_form_again_with_errors_and_values(api) -> None:
    form = make_form(api)
    reply = browser_post(
        api,
        form["id"],
        {"email": "ann-at-example.com", "firstName": '<img src=x onerror="1">', "phone": "call me"},
    )
    assert reply.status == 422
    page = reply.text
    assert 'aria-invalid="true" aria-describedby="f-email-error"' in page
    assert 'aria-describedby="f-phone-error"' in page
    assert 'id="f-email-error"' in page and "no @" in page
    assert 'value="ann-at-example.com"' in page
    assert 'value="&lt;img src=x onerror=&quot;1&quot;&gt;"' in page
    assert "<img" not in page
    assert 'role="alert"' in page
    assert contacts(api) == []


def test_a_browser_post_without_email_or_phone_asks_for_one(api) -> None:
    # GIVEN
    form = make_form(api)
    # WHEN
    reply = browser_post(api, form["id"], {"email": "", "phone": "", "firstName": "Ann"})
    # THEN
    assert reply.status == 422
    assert 'id="f-email-error"' in reply.text and 'id="f-phone-error"' in reply.text
    assert 'value="Ann"' in reply.text
    assert contacts(api) == []


def test_a_refused_json_post_names_the_field_and_stores_nothing(api) -> None:
    form = make_form(api)
    for body, field in (
        ({"email": "ann-at-example.com"}, "email"),
        ({"phone": "call me maybe"}, "phone"),
        ({"email": "ann@example.com", "firstName": "x" * 300}, "firstName"),
        ({"email": "ann@example.com", "tags": ["vip"]}, "tags"),
        ({"email": "ann@example.com", "status": "ACTIVE"}, "status"),
        ({"email": "ann@example.com", "groupIds": []}, "groupIds"),
        ({"email": 42}, "email"),
        ({"firstName": "Ann"}, "email"),
    ):
        reply = json_post(api, form["id"], body)
        assert (reply.status, reply.error_code) == (422, "validation_error"), body
        assert field in [d["field"] for d in reply.json["error"]["details"]], body
    assert contacts(api) == []


def test_unusable_json_bodies_are_400(api) -> None:
    form = make_form(api)
    for raw in ("{not json", "[1]", ""):
        reply = json_post(api, form["id"], raw=raw)
        assert (reply.status, reply.error_code) == (400, "invalid_request"), raw
    assert contacts(api) == []


def test_a_browser_post_with_unknown_or_repeated_fields_is_refused(api) -> None:
    form = make_form(api)
    unknown = browser_post(api, form["id"], {"email": "ann@example.com", "tags": "vip"})
    assert unknown.status == 422
    assert "tags" in unknown.text
    repeated = browser_post(api, form["id"], [("email", "ann@example.com"), ("email", "bob@example.com")])
    assert repeated.status == 422
    assert "given more than once" in repeated.text
    not_utf8 = Api(api.client).post(
        f"/f/{form['id']}", raw=b"email=%FF%FE", headers={"Content-Type": FORM_ENCODED}
    )
    assert not_utf8.status == 400
    assert contacts(api) == []


def test_a_group_deleted_after_the_form_was_made_is_skipped(api) -> None:
    kept, gone = new_group(api, "Kept"), new_group(api, "Gone")
    form = make_form(api, groupIds=[gone, kept])
    assert api.delete(f"/api/v1/groups/{gone}").status in (200, 202, 204)
    assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    ann = contact_by_email(api, "ann@example.com")
    assert [g["id"] for g in api.get(f"/api/v1/contacts/{ann['id']}/groups").json["items"]] == [kept]


def test_a_post_honours_idempotency_key(api) -> None:
    form = make_form(api, tags=["web"])
    headers = {"Idempotency-Key": "post-1"}
    first = json_post(api, form["id"], {"email": "ann@example.com"}, headers=headers)
    ann = contact_by_email(api, "ann@example.com")
    api.patch(f"/api/v1/contacts/{ann['id']}", {"tags": []})
    again = json_post(api, form["id"], {"email": "ann@example.com"}, headers=headers)
    assert (again.status, again.json) == (first.status, first.json) == (201, {"result": "created"})
    assert contact_by_email(api, "ann@example.com")["tags"] == []  # the repeat did nothing
    other = json_post(api, form["id"], {"email": "bob@example.com"}, headers=headers)
    assert (other.status, other.error_code) == (409, "conflict")
    assert [c["email"] for c in contacts(api)] == ["ann@example.com"]


def test_a_person_erased_under_gdpr_is_not_stored_again_and_nothing_leaks(api) -> None:
    form = make_form(api)
    ann = api.post("/api/v1/contacts", {"email": "ann@example.com"}).json
    assert api.post(f"/api/v1/contacts/{ann['id']}/anonymize").status == 200
    as_json = json_post(api, form["id"], {"email": "ann@example.com"})
    assert (as_json.status, as_json.error_code) == (409, "conflict")
    assert as_json.json["error"]["details"] == []
    assert "forgotten" not in as_json.text
    as_form = browser_post(api, form["id"], {"email": "ann@example.com"})
    assert as_form.status == 409
    assert all(c["email"] != "ann@example.com" for c in contacts(api))


# ---- the matching rules, through the form -------------------------------------------------------

P1, P2 = "+33612345678", "+33698765432"
NEW, ANN = "new@example.com", "ann@example.com"

# (existing contacts, what the form posts, the contact expected to change: an index into the
# existing ones or "new", and the email and phone it must have afterwards)
MATCHING = {
    "email only, unknown": ([], {"email": NEW}, "new", (NEW, None)),
    "email only, known": ([{"email": ANN}], {"email": ANN}, 0, (ANN, None)),
    "phone only, unknown": ([], {"phone": P1}, "new", (None, P1)),
    "phone only, a phone-only contact has it": ([{"phone": P1}], {"phone": P1}, 0, (None, P1)),
    "phone only, only a contact with email has it": (
        [{"email": ANN, "phone": P1}],
        {"phone": P1},
        "new",
        (None, P1),
    ),
    "new email + new phone": ([], {"email": NEW, "phone": P1}, "new", (NEW, P1)),
    "new email + phone of a contact with email": (
        [{"email": ANN, "phone": P1}],
        {"email": NEW, "phone": P1},
        "new",
        (NEW, P1),
    ),
    "new email + phone of a phone-only contact": ([{"phone": P1}], {"email": NEW, "phone": P1}, 0, (NEW, P1)),
    "known email + new phone": ([{"email": ANN, "phone": P1}], {"email": ANN, "phone": P2}, 0, (ANN, P2)),
    "known email + known phone": (
        [{"email": ANN, "phone": P1}, {"phone": P2}],
        {"email": ANN, "phone": P2},
        0,
        (ANN, P1),
    ),
}


@pytest.mark.parametrize("case", MATCHING, ids=list(MATCHING))
def test_the_matching_rules_apply_to_form_encoded_posts(api, case: str) -> None:
    existing, posted, target, (email, phone) = MATCHING[case]
    form = make_form(api, tags=["from-form"])
    stored = []
    for body in existing:
        reply = api.post("/api/v1/contacts", {**body, "firstName": "Before"})
        assert reply.status == 201, reply.json
        stored.append(reply.json)

    reply = browser_post(api, form["id"], {**posted, "firstName": "Posted"})
    assert reply.status == 200, reply.text

    after = {c["id"]: c for c in contacts(api)}
    if target == "new":
        assert len(after) == len(existing) + 1
        changed = next(c for cid, c in after.items() if cid not in {s["id"] for s in stored})
        assert changed["source"] == f"form:{form['id']}"
    else:
        assert len(after) == len(existing)
        changed = after[stored[target]["id"]]
    assert (changed["email"], changed["phone"]) == (email, phone)
    assert changed["firstName"] == "Posted"
    assert changed["tags"] == ["from-form"]
    for before in stored:
        if before["id"] != changed["id"]:
            assert after[before["id"]] == before  # nobody else was touched


def test_request_budget_of_a_post(api, requests) -> None:
    group_id = new_group(api, "Leads")
    plain, grouped = make_form(api), make_form(api, groupIds=[group_id])
    requests.reset()
    assert browser_post(api, plain["id"], {"email": "ann@example.com"}).status == 200
    # The form (GetItem), then the sync's one read and one transactional write, and the post
    # recorded as an event (PutItem: what scoring's formSubmitted rules read).
    assert requests.snapshot() == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "dynamodb.PutItem": 1,
    }
    requests.reset()
    assert browser_post(api, grouped["id"], {"email": "bob@example.com"}).status == 200
    # Plus the form's groups (one BatchGetItem), and the memberships' check and write (one
    # each, whatever the number of groups).
    assert requests.snapshot() == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 3,
        "dynamodb.TransactWriteItems": 1,
        # the post's event, and the membership, conditional (tests/groups/test_membership_races.py)
        "dynamodb.PutItem": 2,
    }


def test_a_full_free_plan_refuses_new_leads_but_updates_known_ones(new_workspace) -> None:
    from chalicelib.models.workspaces import Workspace

    api = new_workspace("FREE")
    assert api.post("/api/v1/contacts", {"email": "ann@example.com"}).status == 201
    # The plan's 300 contacts, counted as the contact writes count them (creating 299 more
    # through the API would make this test slow, not better).
    workspace = Workspace.get(*Workspace.key(api.get("/api/v1/workspace").json["id"]))
    workspace.update([Workspace.contactCount.set(300)])
    form = make_form(api, tags=["web"])
    as_json = json_post(api, form["id"], {"email": "one-too-many@example.com"})
    assert (as_json.status, as_json.error_code) == (402, "plan_limit_reached")
    as_form = browser_post(api, form["id"], {"email": "one-too-many@example.com"})
    assert as_form.status == 402
    assert as_form.headers["Content-Type"].startswith("text/html")
    assert [c["email"] for c in contacts(api)] == ["ann@example.com"]
    assert browser_post(api, form["id"], {"email": "ann@example.com"}).status == 200
    assert contact_by_email(api, "ann@example.com")["tags"] == ["web"]
