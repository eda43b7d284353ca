"""Deliverability end to end on the local stack (`python -m devstack` in a subprocess): the
emails SES (moto) kept, their List-Unsubscribe headers and links, opens and clicks in the
campaign overview and the group stats, and SES notifications published to the SNS topic as
SES would (bounce, reply)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest

from tests.support import stack as stack_support
from tests.support.stack import Stack, ses_raw, stack

__all__ = ["stack"]  # the fixture, re-exported

SENDER = "noreply@cohort.local"  # verified by the stack at start; the workspace adds it
FOLLOW_UP_SECONDS = 15  # the wait before a sequence's second email
HTML = (
    '<html><body><p>Hi {{firstName}}, see <a href="https://example.com/offer?id=1">the offer</a>'
    ' or <a href="https://example.com/docs">the docs</a>.</p></body></html>'
)


class Client(stack_support.Client):
    """The stack's HTTP API and its moto, as a developer's scripts would reach them."""

    def __init__(self, stack: Stack, key: str | None = None) -> None:
        super().__init__(stack, key, timeout=15)
        aws = {
            "endpoint_url": f"http://127.0.0.1:{stack.moto_port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.sns = boto3.client("sns", **aws)
        self.moto = aws["endpoint_url"]

    def emails(self) -> list[dict[str, Any]]:
        return ses_raw(self.stack)

    def wait_for_emails(self, count: int, seconds: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = self.emails()
            if len(found) >= count:
                return found
            time.sleep(0.3)
        raise AssertionError(
            f"{count} emails expected, SES has {len(self.emails())}:\n" + self.stack_output()
        )

    def wait_until(self, check: Any, seconds: float = 20) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError("condition not met in time:\n" + self.stack_output())

    def stack_output(self) -> str:
        return "\n".join(self.stack.output[-60:])

    def publish(self, notification: dict[str, Any]) -> None:
        """What SES does with a notification: publish it to the topic of infra/resources.json."""
        topic = next(
            t["TopicArn"]
            for t in self.sns.list_topics()["Topics"]
            if t["TopicArn"].endswith(":cohort-ses-notifications")
        )
        self.sns.publish(TopicArn=topic, Message=json.dumps(notification))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def hit(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    """A mail client or a browser: no API key, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        return opener.open(request, timeout=15)
    except urllib.error.HTTPError as answer:  # 302 and 404 land here
        return answer


def raw_to(emails: list[dict[str, Any]], address: str) -> list[tuple[str, email.message.EmailMessage]]:
    """(SES MessageId, parsed message) of the emails sent to `address`, oldest first."""
    found = []
    for kept in emails:
        message = email.message_from_string(kept["raw_data"], policy=email.policy.default)
        if str(message["To"]) == address:
            found.append((kept["id"], message))
    return found


def bounce(ses_id: str, address: str) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "status": "5.1.1", "diagnosticCode": "550 5.1.1"}
            ],
            "feedbackId": "e2e-bounce",
        },
        "mail": {"messageId": ses_id, "source": SENDER, "destination": [address]},
    }


def reply(message_id: str, address: str) -> dict[str, Any]:
    return {
        "notificationType": "Received",
        "receipt": {"recipients": [SENDER], "action": {"type": "SNS", "encoding": "UTF8"}},
        "mail": {
            "messageId": "e2e-reply-1",
            "source": address,
            "destination": [SENDER],
            "headers": [
                {"name": "From", "value": address},
                {"name": "Subject", "value": "Re: Hello"},
                {"name": "In-Reply-To", "value": message_id},
                {"name": "References", "value": message_id},
            ],
        },
    }


@pytest.mark.e2e
def test_deliverability_on_the_local_stack(stack: Stack) -> None:
    stack.wait_healthy()
    token = stack.wait_line(r"X-Admin-Token: (\S+)", 5).group(1)
    admin = Client(stack)
    created = admin.call(
        "POST", "/api/v1/workspaces", {"name": "Acme", "plan": "PRO"}, {"X-Admin-Token": token}
    )
    api = Client(stack, created["apiKey"])

    people = {
        name: api.call(
            "POST", "/api/v1/contacts", {"email": f"{name}@example.com", "firstName": name.title()}
        )["id"]
        for name in ("jane", "bob", "carol")
    }
    leads = api.call("POST", "/api/v1/groups", {"name": "Leads"})["id"]
    vips = api.call("POST", "/api/v1/groups", {"name": "VIPs"})["id"]
    api.call("POST", f"/api/v1/groups/{leads}/members", {"contactIds": list(people.values())})
    api.call("POST", f"/api/v1/groups/{vips}/members", {"contactIds": [people["jane"]]})
    sequence = [
        {"type": "email", "subject": "Hello {{firstName}}", "bodyText": "Hi!", "bodyHtml": HTML},
        {"type": "wait", "seconds": FOLLOW_UP_SECONDS},
        {"type": "email", "subject": "Following up", "bodyText": "Any thoughts?"},
    ]
    slow = [
        {"type": "email", "subject": "VIP news", "bodyText": "Hello"},
        {"type": "wait", "days": 2},
        {"type": "email", "subject": "VIP news 2", "bodyText": "Hello again"},
    ]
    welcome = api.call(
        "POST",
        "/api/v1/campaigns",
        {"name": "Welcome", "fromEmail": SENDER, "steps": sequence, "includeGroupIds": [leads]},
    )["id"]
    vip = api.call(
        "POST",
        "/api/v1/campaigns",
        {"name": "VIP", "fromEmail": SENDER, "steps": slow, "includeGroupIds": [vips]},
    )["id"]
    api.call("POST", "/api/v1/senders", {"email": SENDER})  # the workspace's identity
    for campaign in (welcome, vip):
        api.call("POST", f"/api/v1/campaigns/{campaign}/launch")
    launched = time.monotonic()

    emails = api.wait_for_emails(4)

    # A reply marks the contact REPLIED (sent first: the follow-up is due in FOLLOW_UP_SECONDS).
    (_, carol_mail), *_ = raw_to(emails, "carol@example.com")
    api.publish(reply(str(carol_mail["Message-ID"]), "carol@example.com"))
    api.wait_until(lambda: api.call("GET", f"/api/v1/contacts/{people['carol']}")["status"] == "REPLIED")

    # An email is sent, with both List-Unsubscribe headers (RFC 8058) and our Message-ID.
    (_, jane_mail), *_ = [m for m in raw_to(emails, "jane@example.com") if "Hello" in str(m[1]["Subject"])]
    header = str(jane_mail["List-Unsubscribe"])
    https, mailto = re.findall(r"<([^>]+)>", header)
    assert https.startswith(stack.url("/u/")) and mailto.startswith("mailto:")
    assert jane_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert jane_mail["Message-ID"]
    html = jane_mail.get_body(("html",)).get_content()
    pixel = re.search(r'<img src="([^"]+/t/o/[^"]+)"', html)
    clicks = re.findall(r'href="([^"]+/t/c/[^"]+)"', html)
    assert pixel and len(clicks) == 2

    # One open and two clicks count as one open and one click.
    assert hit(pixel.group(1), headers={"Accept": "image/*,*/*"}).status == 200
    locations = [hit(url).headers["Location"] for url in (clicks[0], clicks[1])]
    assert locations == ["https://example.com/offer?id=1", "https://example.com/docs"]
    overview = api.wait_until(
        lambda: (o := api.call("GET", f"/api/v1/campaigns/{welcome}/overview"))["totals"]["clicked"] and o
    )
    assert (overview["totals"]["opened"], overview["totals"]["clicked"]) == (1, 1)
    row = next(g for g in overview["groups"] if g["groupId"] == leads)
    assert (row["opened"], row["clicked"]) == (1, 1) and row["sent"] >= 3
    assert row["openRate"] == round(1 / row["sent"], 4)
    stats = api.call("GET", f"/api/v1/groups/{leads}/stats")
    assert stats["lastCampaignSentAt"] and 0 < stats["averageEngagementRate"] <= 1 / 3

    # POSTing the one-click URL stops the contact's other enrollment.
    assert (
        hit(
            https,
            "POST",
            b"List-Unsubscribe=One-Click",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ).status
        == 200
    )

    def vip_enrollment_stopped() -> bool:
        items = api.call("GET", f"/api/v1/campaigns/{vip}/enrollments")["items"]
        return items[0]["status"] == "STOPPED"

    api.wait_until(vip_enrollment_stopped)
    assert api.call("GET", f"/api/v1/contacts/{people['jane']}")["status"] == "UNSUBSCRIBED"

    # A bounce notification marks the contact BOUNCED.
    (bob_ses_id, _), *_ = raw_to(emails, "bob@example.com")
    api.publish(bounce(bob_ses_id, "bob@example.com"))
    api.wait_until(lambda: api.call("GET", f"/api/v1/contacts/{people['bob']}")["status"] == "BOUNCED")

    # ... and the reply's next step is never sent.
    time.sleep(max(0.0, FOLLOW_UP_SECONDS + 4 - (time.monotonic() - launched)))
    follow_ups = [m for m in raw_to(api.emails(), "carol@example.com") if m[1]["Subject"] == "Following up"]
    assert follow_ups == []
    enrollment = next(
        e
        for e in api.call("GET", f"/api/v1/campaigns/{welcome}/enrollments")["items"]
        if e["contactId"] == people["carol"]
    )
    assert enrollment["status"] == "STOPPED"
    timeline = [i["type"] for i in api.call("GET", f"/api/v1/contacts/{people['carol']}/activity")["items"]]
    assert timeline[0] == "replied" and "emailSent" in timeline
