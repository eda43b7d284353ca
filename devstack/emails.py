"""`make emails`: print every email the running stack's SES (moto) accepted.

moto keeps them in its state, readable by any process at /moto-api/data.json: simple sends
(SES v1 and v2) under ses → Message, raw MIME sends whole under ses → RawMessage, templated
sends under ses → TemplateMessage.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

from devstack import settings

# Headers of a raw message worth showing besides To and Subject.
_HEADERS = ("Reply-To", "Message-ID", "In-Reply-To", "List-Unsubscribe")


def fetch(moto_url: str | None = None) -> dict[str, list[dict[str, Any]]]:
    with urllib.request.urlopen(f"{moto_url or settings.moto_url()}/moto-api/data.json", timeout=5) as reply:
        return json.load(reply).get("ses", {})


def render(ses: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One text block per email: recipients, subject, body."""
    blocks = [_simple(m) for m in ses.get("Message", [])]
    blocks += [_raw(m) for m in ses.get("RawMessage", [])]
    blocks += [_templated(m) for m in ses.get("TemplateMessage", [])]
    return blocks


def _recipients(message: dict[str, Any]) -> str:
    return ", ".join(address for group in message.get("destinations", {}).values() for address in group)


def _simple(message: dict[str, Any]) -> str:
    to = _recipients(message)
    return (
        f"From: {message.get('source')}\nTo: {to}\nSubject: {message.get('subject')}\n\n{message.get('body')}"
    )


def _raw(message: dict[str, Any]) -> str:
    parsed = message_from_string(message["raw_data"], policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    to = parsed.get("To") or ", ".join(dict.fromkeys(message.get("destinations", [])))
    lines = [
        f"From: {parsed.get('From') or message.get('source')}",
        f"To: {to}",
        f"Subject: {parsed.get('Subject')}",
    ]
    lines += [f"{name}: {parsed[name]}" for name in _HEADERS if parsed[name]]
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return "\n".join(lines) + "\n\n" + str(body).rstrip()


def _templated(message: dict[str, Any]) -> str:
    head = f"From: {message.get('source')}\nTo: {_recipients(message)}\nTemplate: {message.get('template')}"
    return f"{head}\n\n{message.get('template_data')}"


def main() -> int:
    try:
        ses = fetch()
    except OSError as error:
        print(
            f"devstack: no stack at {settings.moto_url()} ({error}); start it with `make run`",
            file=sys.stderr,
        )
        return 1
    blocks = render(ses)
    for number, block in enumerate(blocks, start=1):
        print(f"----- email {number} of {len(blocks)} -----\n{block}\n")
    if not blocks:
        print("no emails sent yet")
    return 0
