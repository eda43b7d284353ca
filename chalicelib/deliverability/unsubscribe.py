"""Unsubscribing from the link every email carries (List-Unsubscribe, RFC 8058).

`GET /u/{token}` only shows a page with a confirm button: link scanners and previews follow
GETs, so a GET never unsubscribes. `POST /u/{token}` (the button, or a mailbox provider's
one-click POST with `List-Unsubscribe=One-Click`) unsubscribes with no further question.

Unsubscribing counts once per email (timeline item + the campaign's `unsubscribed` counter,
chalicelib.deliverability.engagement), then sets the contact UNSUBSCRIBED through chalicelib.contacts.service; the
campaign engine's reaction to that change stops every enrollment of the contact. The status
is set even when the event was already counted, so a retry after a crash completes the job.
"""

from __future__ import annotations

import html

from chalicelib.contacts import activity
from chalicelib.contacts import status as contact_status
from chalicelib.deliverability.engagement import Email, Outcome, count_once
from chalicelib.deliverability.tracking import email_of, read_link
from chalicelib.platform import link_tokens
from chalicelib.platform.errors import NotFound

LINK = "unsubscribe link"
MAILTO = "unsubscribe email"
COMPLAINT = "complaint"


def check(token: str) -> None:
    """NotFound unless the token is a valid unsubscribe token (no DynamoDB request)."""
    read_link(token, link_tokens.UNSUBSCRIBE)


def unsubscribe(token: str, reason: str = LINK) -> None:
    """NotFound for a bad token or one whose email does not exist; else idempotent."""
    link = read_link(token, link_tokens.UNSUBSCRIBE)
    email = email_of(link.target)
    if record(email, reason) is Outcome.UNKNOWN_EMAIL:
        raise NotFound("link not found")
    set_unsubscribed(email.workspace_id, email.contact_id, reason)


def record(email: Email, reason: str) -> Outcome:
    """The email's one unsubscribe on the timeline and in `unsubscribed`, however it came
    (link, mailto, complaint) and however often: counted once per email."""
    sk = activity.per_email_sk("unsub", email.campaign_id, email.run, email.step_id)
    event = activity.item(
        email.workspace_id,
        email.contact_id,
        activity.UNSUBSCRIBED,
        sk,
        campaignId=email.campaign_id,
        groupId=email.group_id,
        stepId=email.step_id,
        run=email.run,
        reason=reason,
    )
    return count_once(email, event=event, counters=["unsubscribed"])


def set_unsubscribed(workspace_id: str, contact_id: str, reason: str) -> None:
    contact_status.raise_to(workspace_id, contact_id, "UNSUBSCRIBED", reason)


# ---- pages ------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}
button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def confirm_page(token: str) -> str:
    # The form posts what a one-click POST sends (RFC 8058), to this same URL.
    body = (
        "<p>Do you want to stop receiving these emails?</p>"
        f'<form method="post" action="{html.escape(token)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<button type=submit>Unsubscribe</button></form>"
    )
    return _PAGE.format(title="Unsubscribe", body=body)


def done_page() -> str:
    return _PAGE.format(title="You are unsubscribed", body="<p>You will not receive these emails again.</p>")


def not_found_page() -> str:
    return _PAGE.format(title="Link not valid", body="<p>This link is not valid or has expired.</p>")
