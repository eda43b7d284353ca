"""Sender identities (docs/api.md, Sender identities): addresses and domains per workspace
through SES v2, their status and DKIM records read from SES, launch and resume refused (422)
unless a VERIFIED identity of the workspace covers fromEmail, and one workspace never holding
or using another's identity."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.platform import mailer
from tests.support.api import Api
from tests.support.campaigns import add_members, make_contacts, new_campaign, new_group, verify_sender


class SesSays:
    """sesv2 as moto has it, except for what GetEmailIdentity answers: a status that moto
    never gives (it verifies at once) and DKIM tokens (moto gives none)."""

    def __init__(self, real: Any, status: str, tokens: tuple[str, ...] = ()) -> None:
        self.real, self.status, self.tokens = real, status, tokens

    def get_email_identity(self, **kwargs: Any) -> dict[str, Any]:
        found = dict(self.real.get_email_identity(**kwargs))
        found["VerificationStatus"] = self.status
        found["VerifiedForSendingStatus"] = self.status == "SUCCESS"
        found["DkimAttributes"] = {"Status": "PENDING", "Tokens": list(self.tokens)}
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextmanager
def ses_says(status: str, tokens: tuple[str, ...] = ()) -> Iterator[None]:
    with mailer.use_client(SesSays(mailer._boto_client(), status, tokens)):
        yield


def ses_has(identity: str) -> bool:
    return mailer.read_identity(identity) is not None


def launchable(api: Api, sender: str) -> str:
    from chalicelib.platform import ids

    unique = ids.new_id()
    group = new_group(api, f"Leads {unique}")
    add_members(api, group, make_contacts(api, 1, prefix=unique.lower()))
    return str(new_campaign(api, [group], fromEmail=sender)["id"])


def test_an_address_and_a_domain_are_created_listed_and_read_from_ses(api: Api) -> None:
    address = api.post("/api/v1/senders", {"email": "News@Acme.example"})
    assert address.status == 201, address.json
    assert {k: address.json[k] for k in ("identity", "type", "status", "dkimRecords")} == {
        "identity": "news@acme.example",
        "type": "email",
        "status": "VERIFIED",  # moto verifies at once
        "dkimRecords": [],
    }
    domain = api.post("/api/v1/senders", {"domain": "Mail.Acme.example."}).json
    assert (domain["identity"], domain["type"]) == ("mail.acme.example", "domain")
    assert ses_has("mail.acme.example") and ses_has("news@acme.example")
    listed = api.get("/api/v1/senders").json
    assert [s["identity"] for s in listed["items"]] == ["news@acme.example", "mail.acme.example"]
    page = api.get("/api/v1/senders?limit=1").json
    assert len(page["items"]) == 1 and page["nextCursor"]
    assert api.get(f"/api/v1/senders?cursor={page['nextCursor']}").json["items"][0]["id"] == domain["id"]
    assert api.get(f"/api/v1/senders/{domain['id']}").json == domain
    again = api.post("/api/v1/senders", {"domain": "mail.acme.example"})
    assert (again.status, again.error_code) == (409, "conflict")
    assert again.json["error"]["details"][0]["existingSenderId"] == domain["id"]


def test_status_and_dkim_records_come_from_ses(api: Api) -> None:
    created = api.post("/api/v1/senders", {"domain": "acme.example"}).json
    with ses_says("PENDING", ("tok1", "tok2")):
        shown = api.get(f"/api/v1/senders/{created['id']}").json
    assert shown["status"] == "PENDING" and shown["dkimStatus"] == "PENDING"
    assert shown["dkimRecords"] == [
        {"name": f"{t}._domainkey.acme.example", "type": "CNAME", "value": f"{t}.dkim.amazonses.com"}
        for t in ("tok1", "tok2")
    ]
    with ses_says("FAILED"):
        assert api.get(f"/api/v1/senders/{created['id']}").json["status"] == "FAILED"
    assert api.get(f"/api/v1/senders/{created['id']}").json["status"] == "VERIFIED"


def test_launch_and_resume_need_a_verified_identity_covering_from_email(api: Api, pump: Any) -> None:
    campaign = launchable(api, "hello@acme.example")
    reply = api.post(f"/api/v1/campaigns/{campaign}/launch")
    assert (reply.status, reply.error_code) == (422, "validation_error")
    detail = reply.json["error"]["details"][0]
    assert detail["field"] == "fromEmail" and detail["status"] is None
    assert "hello@acme.example" in detail["message"] and "no sender identity" in detail["message"]

    verify_sender(api, "acme.example")
    with ses_says("PENDING"):
        reply = api.post(f"/api/v1/campaigns/{campaign}/launch")
    assert reply.status == 422
    detail = reply.json["error"]["details"][0]
    assert (detail["identity"], detail["status"]) == ("acme.example", "PENDING")
    assert "hello@acme.example" in detail["message"] and "PENDING" in detail["message"]
    assert api.get(f"/api/v1/campaigns/{campaign}").json["status"] == "DRAFT"

    assert api.post(f"/api/v1/campaigns/{campaign}/launch").status == 202  # the domain covers it
    pump.drain()
    assert api.post(f"/api/v1/campaigns/{campaign}/pause").status == 200
    with ses_says("FAILED"):
        reply = api.post(f"/api/v1/campaigns/{campaign}/resume")
    assert (reply.status, reply.json["error"]["details"][0]["status"]) == (422, "FAILED")
    assert api.get(f"/api/v1/campaigns/{campaign}").json["status"] == "PAUSED"
    assert api.post(f"/api/v1/campaigns/{campaign}/resume").status == 200


def test_an_address_identity_covers_that_address_only(api: Api) -> None:
    verify_sender(api, "news@acme.example")
    other = launchable(api, "sales@acme.example")
    reply = api.post(f"/api/v1/campaigns/{other}/launch")
    assert reply.status == 422 and "sales@acme.example" in reply.json["error"]["message"]
    assert api.post(f"/api/v1/campaigns/{launchable(api, 'news@acme.example')}/launch").status == 202


def test_a_deleted_identity_no_longer_covers_and_is_free_again(api: Api, new_workspace: Any) -> None:
    sender = verify_sender(api, "acme.example")
    assert api.delete(f"/api/v1/senders/{sender['id']}").status == 204
    assert not ses_has("acme.example")
    assert api.get(f"/api/v1/senders/{sender['id']}").status == 404
    assert api.get("/api/v1/senders").json["items"] == []
    assert api.post(f"/api/v1/campaigns/{launchable(api, 'a@acme.example')}/launch").status == 422
    assert new_workspace(name="Next").post("/api/v1/senders", {"domain": "acme.example"}).status == 201


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not an address"},
        {"email": "someone@"},
        {"email": "@acme.example"},
        {"domain": "acme"},
        {"domain": "-acme.example"},
        {"domain": "acme example.com"},
        {"domain": "someone@acme.example"},
        {"email": "a@acme.example", "domain": "acme.example"},
        {},
        {"identity": "acme.example"},
    ],
)
def test_a_sender_that_is_not_an_address_or_a_domain_is_422_and_writes_nothing(
    api: Api, body: dict[str, Any]
) -> None:
    reply = api.post("/api/v1/senders", body)
    assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
    assert reply.json["error"]["details"]
    assert api.get("/api/v1/senders").json["items"] == []
    assert mailer.client().list_email_identities()["EmailIdentities"] == []


def test_one_workspace_never_holds_or_uses_anothers_identity(api: Api, new_workspace: Any) -> None:
    mine = verify_sender(api, "acme.example")
    verify_sender(api, "ceo@other.example")
    intruder = new_workspace(name="Intruder")
    for body in (
        {"domain": "acme.example"},
        {"email": "billing@acme.example"},  # under a domain another workspace holds
        {"email": "ceo@other.example"},
        {"domain": "other.example"},  # a domain under which another workspace holds an address
    ):
        reply = intruder.post("/api/v1/senders", body)
        assert (reply.status, reply.error_code) == (409, "conflict"), (body, reply.json)
        assert reply.json["error"]["details"], (body, reply.json)
        assert "existingSenderId" not in reply.json["error"]["details"][0]  # nothing of A's shown
    assert intruder.get("/api/v1/senders").json["items"] == []
    assert intruder.get(f"/api/v1/senders/{mine['id']}").status == 404
    assert intruder.delete(f"/api/v1/senders/{mine['id']}").status == 404
    reply = intruder.post(f"/api/v1/campaigns/{launchable(intruder, 'billing@acme.example')}/launch")
    assert reply.status == 422 and reply.json["error"]["details"][0]["status"] is None
    assert api.get(f"/api/v1/senders/{mine['id']}").json["status"] == "VERIFIED"
    assert ses_has("acme.example")
    cursor = api.get("/api/v1/senders?limit=1").json["nextCursor"]
    assert intruder.get(f"/api/v1/senders?cursor={cursor}").status == 422


def test_an_identity_verified_before_any_workspace_claims_it_is_verified_at_once(api: Api) -> None:
    """The local stack verifies COHORT_SES_VERIFIED in SES at start (devstack/stack.py): the
    first workspace that adds one of them sees it VERIFIED (the seed, not a shared list)."""
    import boto3

    boto3.client("ses").verify_domain_identity(Domain="cohort.local")
    campaign = launchable(api, "noreply@cohort.local")
    assert api.post(f"/api/v1/campaigns/{campaign}/launch").status == 422  # not the workspace's yet
    assert api.post("/api/v1/senders", {"domain": "cohort.local"}).json["status"] == "VERIFIED"
    assert api.post(f"/api/v1/campaigns/{campaign}/launch").status == 202


def test_an_idempotency_key_replays_the_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "sender-1"}
    first = api.post("/api/v1/senders", {"domain": "acme.example"}, headers=headers)
    again = api.post("/api/v1/senders", {"domain": "acme.example"}, headers=headers)
    assert (first.status, again.status) == (201, 201) and again.json["id"] == first.json["id"]
    other = api.post("/api/v1/senders", {"domain": "other.example"}, headers=headers)
    assert other.status == 409
    assert [s["identity"] for s in api.get("/api/v1/senders").json["items"]] == ["acme.example"]
