"""Helpers of the campaign tests (tests/campaigns/):
contacts, groups and campaigns through the API, and the emails moto's SES kept."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.api import Api

# Builders of other entities that campaign tests use, re-exported for modules that import
# them from here (one copy each: tests/support/contacts.py, groups.py, workspaces.py).
from tests.support.contacts import make_contacts as make_contacts
from tests.support.groups import add_members as add_members
from tests.support.groups import new_group as new_group
from tests.support.workspaces import workspace_of as workspace_of

SENDER = "noreply@cohort.local"  # the workspace's identity after `verify_sender` (moto verifies it at once)

TWO_EMAILS = [
    {
        "type": "email",
        "subject": "Hello {{firstName|there}}",
        "bodyText": "Hi {{firstName|there}} of {{company}}",
    },
    {"type": "wait", "seconds": 1},
    {"type": "email", "subject": "Second", "bodyText": "Still there, {{firstName}}?"},
]


def verify_sender(api: Api, identity: str = SENDER) -> dict[str, Any]:
    """Give the workspace a sender identity (an address, or a domain without @) through the
    API; moto verifies it at once. Again for the same workspace: its existing identity."""
    body = {"email": identity} if "@" in identity else {"domain": identity}
    reply = api.post("/api/v1/senders", body)
    if reply.status == 409 and "existingSenderId" in reply.json["error"]["details"][0]:
        return dict(api.get(f"/api/v1/senders/{reply.json['error']['details'][0]['existingSenderId']}").json)
    assert reply.status == 201, reply.json
    assert reply.json["status"] == "VERIFIED", reply.json
    return dict(reply.json)


def new_campaign(
    api: Api,
    include: Sequence[str],
    exclude: Sequence[str] = (),
    *,
    steps: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "name": fields.pop("name", "Welcome"),
        "fromEmail": SENDER,
        "steps": TWO_EMAILS if steps is None else steps,
        "includeGroupIds": list(include),
        "excludeGroupIds": list(exclude),
        **fields,
    }
    reply = api.post("/api/v1/campaigns", body)
    assert reply.status == 201, reply.json
    return dict(reply.json)


def launch(api: Api, campaign_id: str) -> None:
    reply = api.post(f"/api/v1/campaigns/{campaign_id}/launch")
    assert reply.status == 202, reply.json


def running_campaign(api: Api, include: Sequence[str], exclude: Sequence[str] = (), **fields: Any) -> str:
    campaign_id = str(new_campaign(api, include, exclude, **fields)["id"])
    launch(api, campaign_id)
    return campaign_id


def enrollments(api: Api, campaign_id: str, **params: str) -> list[dict[str, Any]]:
    """Every enrollment of the campaign, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        reply = api.get(
            f"/api/v1/campaigns/{campaign_id}/enrollments?" + "&".join(f"{k}={v}" for k, v in query.items())
        )
        assert reply.status == 200, reply.json
        found.extend(reply.json["items"])
        cursor = reply.json["nextCursor"]
        if not cursor:
            return found


@dataclass(frozen=True)
class Sent:
    sender: str
    to: str
    subject: str
    text: str
    html: str | None
    raw: str


def sent_emails() -> list[Sent]:
    """What moto's SES (in-process, the `aws` fixture) kept, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [
        parse(message.raw_data) for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    ]


def parse(raw: str) -> Sent:
    message = email.message_from_string(raw, policy=email.policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return Sent(
        sender=str(message["From"]),
        to=str(message["To"]),
        subject=str(message["Subject"]),
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else None,
        raw=raw,
    )


# ---- faults -----------------------------------------------------------------------------


class _Refused:
    status_code = 400
    headers: dict[str, str] = {}


@contextmanager
def fault(
    client: Any,
    operation: str,
    *,
    match: str = "",
    skip: int = 0,
    times: int | None = None,
    code: str = "ProvisionedThroughputExceededException",
) -> Iterator[dict[str, int]]:
    """Make `client` refuse `operation` requests whose body contains `match` with `code`, as
    AWS does once botocore's retries gave up: the first `skip` such requests pass, then
    `times` are refused (or all). Injected through botocore's own `before-call` event on the
    client: no patching."""
    state = {"seen": 0, "refused": 0}

    def refuse(params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body") or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if match not in text:
            return None
        state["seen"] += 1
        if state["seen"] <= skip or (times is not None and state["refused"] >= times):
            return None
        state["refused"] += 1
        error = {"Code": code, "Message": "injected"}
        return _Refused(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    service = client.meta.service_model.service_name
    event = f"before-call.{service}.{operation}"
    client.meta.events.register_first(event, refuse, unique_id="test-fault")
    try:
        yield state
    finally:
        client.meta.events.unregister(event, unique_id="test-fault")


def dynamodb_fault(operation: str, match: str, *, times: int | None = None, skip: int = 0) -> Any:
    """`fault` on the table's client (the one PynamoDB uses)."""
    from chalicelib.platform.db import connection

    return fault(connection().client, operation, match=match, times=times, skip=skip)


class ThrottlingSes:
    """An SES client that refuses to send to some recipients (TooManyRequestsException)
    and sends everything else through the real (moto) client."""

    def __init__(self, refuse: set[str], times: int | None = None) -> None:
        import boto3

        self.real = boto3.client("sesv2")
        self.refuse = refuse
        self.times = times
        self.refused = 0

    def send_email(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        to = kwargs["Destination"]["ToAddresses"][0]
        if to in self.refuse and (self.times is None or self.refused < self.times):
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."}},
                "SendEmail",
            )
        return self.real.send_email(**kwargs)
