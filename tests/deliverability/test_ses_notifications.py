"""SES notifications through SNS: bounces, complaints, deliveries and replies change the
contact and the counters once, whatever SNS redelivers; anything else is ignored."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.deliverability import tracking
from chalicelib.models.campaigns import CampaignGroupStats
from chalicelib.models.groups import GroupEngagement
from chalicelib.platform import ids, link_tokens
from chalicelib.platform.link_tokens import Target
from tests.support.db import table
from tests.support.events import LambdaContext, batch, make_sns_record


class Sent:
    """A contact and an email the step runner recorded and SES accepted."""

    def __init__(self, api, email: str = "jane@example.com") -> None:
        self.api = api
        self.ws = api.get("/api/v1/workspace").json["id"]
        self.contact_id = api.post("/api/v1/contacts", {"email": email}).json["id"]
        self.target = Target(self.ws, ids.new_id(), self.contact_id, 1, ids.new_id(), ids.new_id())
        self.message_id = f"{ids.new_id()}@cohort.local"
        self.ses_id = f"0100018c{ids.new_id().lower()}-000000"
        at = tracking.record_sent(self.target, f"<{self.message_id}>", "Hello")
        tracking.record_ses_id(self.target, f"<{self.message_id}>", self.ses_id, "Hello", at)

    def contact(self) -> dict:
        return self.api.get(f"/api/v1/contacts/{self.contact_id}").json

    def timeline(self) -> list[str]:
        return [
            item["type"]
            for item in self.api.get(f"/api/v1/contacts/{self.contact_id}/activity").json["items"]
        ]

    def counters(self) -> dict:
        t = self.target
        return raw_numbers(CampaignGroupStats.key(t.workspace_id, t.campaign_id, str(t.group_id)))

    def group_counters(self) -> dict:
        return raw_numbers(GroupEngagement.key(self.ws, str(self.target.group_id)))


def raw_numbers(key: tuple[str, str]) -> dict:
    """The number attributes of an item, as stored (whatever its model declares)."""
    item = boto3.client("dynamodb").get_item(
        TableName="cohort", Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}}, ConsistentRead=True
    )["Item"]
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


def mail(ses_id: str, **extra) -> dict:
    return {
        "timestamp": "2026-11-20T10:00:00.000Z",
        "source": "news@cohort.local",
        "messageId": ses_id,
        "destination": ["jane@example.com"],
        "headersTruncated": False,
        "headers": [],
        "commonHeaders": {},
        **extra,
    }


def bounce(ses_id: str, kind: str = "Permanent", feedback: str = "fb-1") -> dict:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "jane@example.com",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 no",
                }
            ],
            "timestamp": "2026-11-20T10:00:01.000Z",
            "feedbackId": feedback,
        },
        "mail": mail(ses_id),
    }


def reply(in_reply_to: str, *, message_id: str = "reply-1", headers: list | None = None) -> dict:
    return {
        "notificationType": "Received",
        "receipt": {"recipients": ["news@cohort.local"], "action": {"type": "SNS", "encoding": "UTF8"}},
        "mail": mail(
            message_id,
            source="jane@example.com",
            headers=[
                {"name": "From", "value": "Jane <jane@example.com>"},
                {"name": "Subject", "value": "Re: Hello"},
                {"name": "In-Reply-To", "value": in_reply_to},
                *(headers or []),
            ],
        ),
    }


def publish(aws, notification: dict | str) -> None:
    """What SES does: publish the notification to the provisioned topic."""
    topic = aws.refs["SesNotificationsTopic"]
    text = notification if isinstance(notification, str) else json.dumps(notification)
    boto3.client("sns").publish(TopicArn=topic, Message=text)


def deliver(aws, pump, notification: dict | str, times: int = 1) -> list:
    for _ in range(times):
        publish(aws, notification)
    calls = pump.drain()
    sns_calls = [call for call in calls if call.kind == "sns"]
    assert sns_calls and all(call.ok for call in calls), [c.line() for c in calls]
    return [call.result for call in sns_calls]


def test_a_permanent_bounce_marks_the_contact_bounced_once_however_often_delivered(api, aws, pump) -> None:
    sent = Sent(api)
    pump.drain()
    results = deliver(aws, pump, bounce(sent.ses_id), times=3)
    assert results == [{"recorded": 1}] * 3
    contact = sent.contact()
    assert contact["status"] == "BOUNCED"
    assert contact["statusReason"] == "hard bounce (5.1.1)"
    assert sent.timeline().count("bounced") == 1
    assert sent.counters()["bounced"] == 1


def test_a_transient_bounce_is_counted_and_not_fatal(api, aws, pump) -> None:
    # GIVEN
    sent = Sent(api)
    deliver(aws, pump, bounce(sent.ses_id, "Transient", "fb-a"))
    deliver(aws, pump, bounce(sent.ses_id, "Transient", "fb-a"))  # redelivered
    # WHEN
    deliver(aws, pump, bounce(sent.ses_id, "Undetermined", "fb-b"))
    # THEN
    assert sent.contact()["status"] == "ACTIVE"
    assert sent.counters()["softBounced"] == 2
    assert sent.counters().get("bounced", 0) == 0


def test_a_complaint_unsubscribes(api, aws, pump) -> None:
    # GIVEN
    sent = Sent(api)
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "jane@example.com"}],
            "complaintFeedbackType": "abuse",
            "feedbackId": "c-1",
        },
        "mail": mail(sent.ses_id),
    }
    deliver(aws, pump, complaint, times=2)
    # WHEN
    contact = sent.contact()
    # THEN
    assert (contact["status"], contact["statusReason"]) == ("UNSUBSCRIBED", "complaint")
    assert sent.counters()["complained"] == 1
    assert sent.counters()["unsubscribed"] == 1
    assert sent.timeline().count("unsubscribed") == 1


def test_an_unsubscribe_link_then_a_complaint_count_one_unsubscribe(api, aws, pump) -> None:
    from chalicelib.platform import link_tokens

    sent = Sent(api)
    token = link_tokens.mint(link_tokens.UNSUBSCRIBE, sent.target)
    one_click = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""}
    assert api.post(f"/u/{token}", raw=b"List-Unsubscribe=One-Click", headers=one_click).status == 200
    complaint = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "jane@example.com"}], "feedbackId": "c-2"},
        "mail": mail(sent.ses_id),
    }
    deliver(aws, pump, complaint)
    assert (sent.counters()["unsubscribed"], sent.counters()["complained"]) == (1, 1)
    assert sent.timeline().count("unsubscribed") == 1


def test_two_replies_in_one_thread_count_the_email_once(api, aws, pump) -> None:
    # GIVEN
    sent = Sent(api)
    deliver(aws, pump, reply(f"<{sent.message_id}>", message_id="r1"))
    later = {"name": "References", "value": f"<{sent.message_id}> <sales-answer@x.com>"}
    # WHEN
    deliver(aws, pump, reply("<sales-answer@x.com>", message_id="r2", headers=[later]))
    # THEN
    assert sent.counters()["replied"] == 1  # replyRate = replied / sent stays <= 100 %
    assert sent.timeline().count("replied") == 2  # each reply is on the timeline


def test_a_delivery_counts_delivered_once_for_the_campaign_and_the_group(api, aws, pump) -> None:
    sent = Sent(api)
    delivery = {
        "eventType": "Delivery",  # configuration-set events say eventType
        "delivery": {"recipients": ["jane@example.com"], "smtpResponse": "250 ok"},
        "mail": mail(sent.ses_id),
    }
    deliver(aws, pump, delivery, times=2)
    assert sent.counters()["delivered"] == 1
    assert sent.group_counters()["delivered"] == 1
    emailed = next(i for i in api.get(f"/api/v1/contacts/{sent.contact_id}/activity").json["items"])
    assert emailed["type"] == "emailSent"
    assert emailed["details"]["deliveredAt"]


@pytest.mark.parametrize("answered", ["ours", "ses", "references"])
def test_a_reply_marks_the_contact_replied(api, aws, pump, answered) -> None:
    sent = Sent(api)
    if answered == "ours":
        notification = reply(f"<{sent.message_id}>")
    elif answered == "ses":  # SES replaces the Message-ID with <its id@region.amazonses.com>
        notification = reply(f"<{sent.ses_id}@eu-west-1.amazonses.com>")
    else:
        refs = {"name": "References", "value": f"<{sent.message_id}> <other@x.com>"}
        notification = reply("<unknown@x.com>", headers=[refs])
    assert deliver(aws, pump, notification, times=2) == [{"recorded": 1}] * 2
    contact = sent.contact()
    assert (contact["status"], contact["statusReason"]) == ("REPLIED", "reply")
    assert sent.counters()["replied"] == 1
    assert sent.timeline().count("replied") == 1


def test_auto_replies_and_unrelated_mail_change_nothing(api, aws, pump) -> None:
    # GIVEN
    sent = Sent(api)
    # WHEN
    out_of_office = reply(
        f"<{sent.message_id}>", headers=[{"name": "Auto-Submitted", "value": "auto-replied"}]
    )
    # THEN
    assert deliver(aws, pump, out_of_office) == [{"ignored": 1}]
    assert deliver(aws, pump, reply("<someone-else@x.com>", message_id="r2")) == [{"unmatched": 1}]
    assert sent.contact()["status"] == "ACTIVE"
    assert "replied" not in sent.timeline()


def test_mail_to_the_unsubscribe_address_unsubscribes(api, aws, pump) -> None:
    sent = Sent(api)
    token = link_tokens.mint("u", sent.target)
    notification = reply("<x@x.com>", headers=[{"name": "Subject", "value": f"unsubscribe {token}"}])
    notification["mail"]["headers"] = [
        h for h in notification["mail"]["headers"] if h["value"] != "Re: Hello"
    ]
    assert deliver(aws, pump, notification) == [{"recorded": 1}]
    contact = sent.contact()
    assert (contact["status"], contact["statusReason"]) == ("UNSUBSCRIBED", "unsubscribe email")


def test_a_stronger_status_is_never_lowered_by_a_later_event(api, aws, pump) -> None:
    # GIVEN
    sent = Sent(api)
    api.patch(f"/api/v1/contacts/{sent.contact_id}", {"status": "UNSUBSCRIBED"})
    deliver(aws, pump, bounce(sent.ses_id))
    # WHEN
    deliver(aws, pump, reply(f"<{sent.message_id}>"))
    # THEN
    assert sent.contact()["status"] == "UNSUBSCRIBED"


def test_messages_not_from_the_topic_or_not_from_ses_are_ignored_and_logged(api, aws, caplog) -> None:
    from app import ses_notifications

    sent = Sent(api)
    before = table(aws)
    topic = aws.refs["SesNotificationsTopic"]
    records = [
        make_sns_record(bounce(sent.ses_id), topic_arn=topic.replace("cohort-ses", "someone-else")),
        make_sns_record("not json", topic_arn=topic),
        make_sns_record({"hello": "world"}, topic_arn=topic),
        make_sns_record({"notificationType": "Bounce", "mail": {"messageId": sent.ses_id}}, topic_arn=topic),
        make_sns_record(
            {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}, topic_arn=topic
        ),
        make_sns_record({**bounce(sent.ses_id), "mail": {"messageId": ""}}, topic_arn=topic),
    ]
    result = ses_notifications(batch(records), LambdaContext("cohort-local-ses_notifications"))
    assert result == {"ignored": len(records)}
    assert table(aws) == before
    assert sent.contact()["status"] == "ACTIVE"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["SNS message ignored: not from the configured SES topic"] + [
        "SNS message ignored: not a valid SES notification"
    ] * (len(records) - 1)


def test_a_notification_for_an_email_we_never_sent_changes_nothing(api, aws, pump) -> None:
    Sent(api)
    pump.drain()  # the sent email's own reactions (its engagement facts) are not the notification's
    before = table(aws)
    assert deliver(aws, pump, bounce("0100-unknown-id")) == [{"unmatched": 1}]
    assert table(aws) == before
