"""Sending one email through SES (boto3 `sesv2`) as raw MIME.

Raw MIME so headers can be added (List-Unsubscribe, Message-ID, In-Reply-To: later issues
pass them in `headers`); every part is quoted-printable and every header RFC 2047-encoded,
so the message is 7-bit clean as SES asks, whatever the language of the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
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
    # cold start: heavy library, loaded on first use
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    return isinstance(error, ClientError | ConnectTimeoutError | EndpointConnectionError)


@dataclass(frozen=True)
class Identity:
    """An SES identity as Cohort shows it: VERIFIED, PENDING or FAILED, and its DKIM records."""

    status: str
    dkim_status: str | None
    dkim_records: list[dict[str, str]]


def create_identity(identity: str) -> None:
    """Ask SES to verify an address or a domain; one that already exists in the account (the
    local stack's seed, or one created before) is left as it is."""
    try:
        client().create_email_identity(EmailIdentity=identity)
    except client().exceptions.AlreadyExistsException:
        pass


def read_identity(identity: str) -> Identity | None:
    """SES's view of an identity; None when SES does not have it."""
    try:
        found = client().get_email_identity(EmailIdentity=identity)
    except client().exceptions.NotFoundException:
        return None
    # AWS fills VerifiedForSendingStatus and VerificationStatus; moto only the second.
    verification = found.get("VerificationStatus")
    if found.get("VerifiedForSendingStatus") or verification == "SUCCESS":
        status = "VERIFIED"
    elif verification == "FAILED":
        status = "FAILED"
    else:
        status = "PENDING"  # PENDING, NOT_STARTED, TEMPORARY_FAILURE
    dkim = found.get("DkimAttributes") or {}
    domain = identity.rpartition("@")[2]
    records = [
        {"name": f"{token}._domainkey.{domain}", "type": "CNAME", "value": f"{token}.dkim.amazonses.com"}
        for token in dkim.get("Tokens") or []
    ]
    return Identity(status, dkim.get("Status"), records)


def delete_identity(identity: str) -> None:
    try:
        client().delete_email_identity(EmailIdentity=identity)
    except client().exceptions.NotFoundException:
        pass


_override: list[Any] = []


def client() -> Any:
    """The sesv2 client: boto3's, or the one a test installed with `use_client`."""
    return _override[-1] if _override else _boto_client()


@lru_cache(maxsize=1)
def _boto_client() -> Any:
    # cold start: heavy library, loaded on first use
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
