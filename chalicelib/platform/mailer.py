"""Sending one email through SES (boto3 `sesv2`) as raw MIME.

Raw MIME so headers can be added (List-Unsubscribe, Message-ID, In-Reply-To: later issues
pass them in `headers`); every part is quoted-printable and every header RFC 2047-encoded,
so the message is 7-bit clean as SES asks, whatever the language of the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Email:
    sender: str
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def build(email: Email) -> bytes:
    """The RFC 5322 message, 7-bit clean."""
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    message = EmailMessage(policy=SMTP)
    message["From"] = email.sender
    message["To"] = email.to
    message["Subject"] = _one_line(email.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=email.sender.rpartition("@")[2] or None)
    message["MIME-Version"] = "1.0"
    for name, value in email.headers.items():
        if name in message:
            del message[name]
        message[name] = _one_line(value)
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


def _one_line(value: str) -> str:
    # A header value cannot hold a line break (of any kind Python knows): it would end it.
    return " ".join(value.splitlines())


def send(email: Email) -> str:
    """Send it; returns SES's MessageId. Raises botocore's ClientError on refusal."""
    raw = build(email)
    response = client().send_email(
        FromEmailAddress=email.sender,
        Destination={"ToAddresses": [email.to]},
        Content={"Raw": {"Data": raw}},
    )
    return str(response["MessageId"])


def surely_not_sent(error: BaseException) -> bool:
    """True when a failed `send` certainly sent nothing: SES answered with an error, or the
    request never reached it. A read timeout is not one of these (SES may have sent it)."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    return isinstance(error, ClientError | ConnectTimeoutError | EndpointConnectionError)


def is_verified_sender(address: str) -> bool:
    """True when SES may send from this address: it, or its domain, is a verified identity."""
    domain = address.rpartition("@")[2]
    for identity in (address, domain):
        try:
            found = client().get_email_identity(EmailIdentity=identity)
        except client().exceptions.NotFoundException:
            continue
        # VerificationStatus is what moto fills; AWS fills both.
        if found.get("VerifiedForSendingStatus") or found.get("VerificationStatus") == "SUCCESS":
            return True
    return False


_override: list[Any] = []


def client() -> Any:
    """The sesv2 client: boto3's, or the one a test installed with `use_client`."""
    return _override[-1] if _override else _boto_client()


@lru_cache(maxsize=1)
def _boto_client() -> Any:
    import boto3

    return boto3.client("sesv2")


@contextmanager
def use_client(fake: Any) -> Iterator[None]:
    """Send through `fake` (anything with sesv2's send_email) inside the block: how tests
    inject throttling or failures without patching."""
    _override.append(fake)
    try:
        yield
    finally:
        _override.remove(fake)
