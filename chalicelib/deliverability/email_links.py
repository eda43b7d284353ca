"""What a campaign email carries for deliverability and engagement, added just before it is
sent: a Message-ID of our own (replies quote it), an unsubscribe link in the body and in the
`List-Unsubscribe` (https and mailto) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
headers (RFC 8058), an open pixel in HTML bodies, and every http(s) link of the text and HTML
bodies rewritten to the click endpoint. Each link's token is signed and carries its URL
(chalicelib.platform.link_tokens), so the click endpoint can only ever redirect to a URL that was in
the email. Other links (mailto:, tel:, anchors) are left alone.

Public: `decorate(email, target) -> Decorated`.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import quote

from chalicelib.platform import config, link_tokens
from chalicelib.platform.link_tokens import Target
from chalicelib.platform.mailer import Email

# Where the List-Unsubscribe mailto goes: a mailbox whose mail SES receives and publishes to
# the notifications topic (chalicelib.deliverability.ses_notifications unsubscribes on the token in the
# subject). Default: unsubscribe@<the sender's domain>.
MAILTO_VARIABLE = "COHORT_UNSUBSCRIBE_MAILTO"

_TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(?:(["'])(.*?)\2|([^\s"'>]+))""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

ClickFn = Callable[[str], str | None]


@dataclass(frozen=True)
class Decorated:
    email: Email
    message_id: str  # as in the header, <...>


def decorate(email: Email, target: Target) -> Decorated:
    from email.utils import make_msgid

    domain = email.sender.rpartition("@")[2] or "cohort.invalid"
    message_id = make_msgid(domain=domain)
    base = config.public_base_url()
    token = link_tokens.mint(link_tokens.UNSUBSCRIBE, target)
    unsubscribe_url = f"{base}/u/{token}"
    mailbox = os.environ.get(MAILTO_VARIABLE) or f"unsubscribe@{domain}"
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"

    def click(url: str) -> str | None:
        try:
            return f"{base}/t/c/{link_tokens.mint(link_tokens.CLICK, target, url)}"
        except ValueError:
            return None  # too long to sign into a link: left as it was, not tracked

    text = _rewrite_text(email.text, click) + f"\n\n--\nUnsubscribe: {unsubscribe_url}\n"
    body_html = None
    if email.html is not None:
        pixel = f"{base}/t/o/{link_tokens.mint(link_tokens.OPEN, target)}"
        footer = (
            '<p style="font-size:12px;color:#777">'
            f'<a href="{html.escape(unsubscribe_url)}">Unsubscribe</a></p>'
            f'<img src="{html.escape(pixel)}" width="1" height="1" alt="" style="display:block;border:0">'
        )
        body_html = _append_html(_rewrite_html(email.html, click), footer)
    headers = {
        **email.headers,
        "Message-ID": message_id,
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return Decorated(replace(email, text=text, html=body_html, headers=headers), message_id)


def _rewrite_text(text: str, click: ClickFn) -> str:
    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(_TRAILING)
        tracked = click(url)
        return (tracked + found[len(url) :]) if tracked else found

    return _TEXT_URL.sub(swap, text)


def _rewrite_html(markup: str, click: ClickFn) -> str:
    def swap(match: re.Match[str]) -> str:
        quote_char = match.group(2) or '"'
        raw = match.group(3) if match.group(3) is not None else match.group(4)
        url = html.unescape(raw).strip()
        if not re.match(r"https?://", url, re.IGNORECASE):
            return match.group(0)
        tracked = click(url)
        if tracked is None:
            return match.group(0)
        return f"{match.group(1)}{quote_char}{html.escape(tracked)}{quote_char}"

    return _HREF.sub(swap, markup)


def _append_html(markup: str, footer: str) -> str:
    ends = list(_BODY_END.finditer(markup))
    if not ends:
        return markup + footer
    at = ends[-1].start()
    return markup[:at] + footer + markup[at:]
