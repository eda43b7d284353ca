"""Lead-form test data: a form made through the API, and posts to it as a browser and as a
script send them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.support.api import Api, Reply
from tests.support.campaigns import SENDER, Sent, sent_emails, verify_sender

FORM_ENCODED = "application/x-www-form-urlencoded"


def make_form(api: Api, **fields: Any) -> dict[str, Any]:
    reply = api.post("/api/v1/forms", {"name": "Newsletter", **fields})
    assert reply.status == 201, reply.json
    return reply.json


def browser_post(api: Api, form_id: str, fields: dict[str, str] | list[tuple[str, str]], **kw: Any) -> Reply:
    """What a browser sends: form-encoded, no key."""
    public = Api(api.client)
    headers = {"Content-Type": FORM_ENCODED, **kw.pop("headers", {})}
    return public.post(f"/f/{form_id}", raw=urlencode(fields), headers=headers, **kw)


def json_post(api: Api, form_id: str, body: Any = None, **kw: Any) -> Reply:
    return Api(api.client).post(f"/f/{form_id}", body, **kw)


def contacts(api: Api) -> list[dict[str, Any]]:
    reply = api.get("/api/v1/contacts?limit=500")
    assert reply.status == 200, reply.json
    return reply.json["items"]


def contact_by_email(api: Api, email: str) -> dict[str, Any]:
    found = [c for c in contacts(api) if c["email"] == email]
    assert len(found) == 1, found
    return found[0]


def workspace_contact_count(api: Api) -> int:
    return api.get("/api/v1/workspace").json["contactCount"]


# ---- double opt-in ----------------------------------------------------------------------

CONSENT_TEXT = "I agree to receive the newsletter; I can unsubscribe at any time."
_LINK = re.compile(r"/c/([A-Za-z0-9_-]+)")


def double_opt_in_form(api: Api, **fields: Any) -> dict[str, Any]:
    """A double opt-in form whose sender is verified (moto verifies at once)."""
    verify_sender(api)
    return make_form(
        api,
        doubleOptIn=True,
        fromEmail=SENDER,
        consentText=CONSENT_TEXT,
        confirmSubject="Confirm your subscription",
        **fields,
    )


def confirmation_emails(to: str | None = None) -> list[Sent]:
    """The confirmation emails moto's SES kept (to `to` when given), oldest first."""
    return [m for m in sent_emails() if _LINK.search(m.text) and (to is None or m.to == to)]


def token_in(email: Sent) -> str:
    found = _LINK.search(email.text)
    assert found, email.text
    return found.group(1)


def confirm(api: Api, token: str) -> Reply:
    """What the page's button sends: an empty form post, no key."""
    return Api(api.client).post(f"/c/{token}", raw="", headers={"Content-Type": FORM_ENCODED})
