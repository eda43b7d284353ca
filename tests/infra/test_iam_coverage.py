"""The functions' IAM policy (.chalice/policy-dev.json) grants every AWS call the app makes:
a flow through contacts, groups, a campaign that sends, an unsubscribe, an import, a large
export and a large error report, with every request the app's code makes recorded (botocore's
before-call) and turned into the IAM action AWS checks for it."""

from __future__ import annotations

import email
import email.policy
import re
import traceback
from typing import Any

from tests.support.api import Api
from tests.support.campaigns import (
    add_members,
    make_contacts,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
)
from tests.support.imports import corpus, import_body
from tests.support.infra import as_list, policy_statements

# Operations whose IAM action is not "<service>:<Operation>" (AWS's service authorization
# reference); sesv2's actions are in the "ses" namespace.
ACTION_OF = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
}
NAMESPACE = {"sesv2": "ses"}


def action(service: str, operation: str) -> str:
    return ACTION_OF.get((service, operation), f"{NAMESPACE.get(service, service)}:{operation}")


def test_the_policy_grants_every_call_the_app_makes(
    api: Api, aws: Any, pump: Any, monkeypatch, fake_clock
) -> None:
    import requests as http
    from botocore.hooks import HierarchicalEmitter

    from chalicelib.exchange import contact_export, import_report

    made: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        if any("/chalicelib/" in frame.filename for frame in traceback.extract_stack()):
            made.add((model.service_model.service_name, model.name))

    original = HierarchicalEmitter.emit_until_response

    def emit_until_response(self: Any, event_name: str, **kwargs: Any) -> Any:
        if event_name.startswith("before-call.") and "model" in kwargs:
            record(kwargs["model"])
        return original(self, event_name, **kwargs)

    # On the emitter class: every client sees it, those created (and cached) before too.
    monkeypatch.setattr(HierarchicalEmitter, "emit_until_response", emit_until_response)
    monkeypatch.setattr(contact_export, "INLINE_ROWS", 1)
    monkeypatch.setattr(import_report, "INLINE_REPORT_BYTES", 10)

    verify_sender(api)
    group = new_group(api, "Leads", "DYNAMIC")
    running_campaign(api, [group])
    people = make_contacts(api, 2)
    add_members(api, group, people)
    fake_clock.drain(pump, wait=2)
    sent = [
        i for i in api.get(f"/api/v1/contacts/{people[0]}/activity").json["items"] if i["type"] == "emailSent"
    ]
    assert sent, "the campaign sent nothing"
    view = import_body(api, pump, corpus("troubles.csv"), fileName="leads.csv")
    report = api.get(f"/api/v1/imports/{view['id']}/errors.csv")
    assert report.status == 303 and http.get(report.headers["Location"], timeout=10).status_code == 200
    started = api.get("/api/v1/contacts/export")
    assert started.status == 202
    pump.drain()
    assert api.get(started.json["statusUrl"]).json["status"] == "COMPLETED"
    mail = email.message_from_string(sent_emails()[0].raw, policy=email.policy.default)
    link = re.search(r"/u/([^>]+)>", str(mail["List-Unsubscribe"]))
    assert link, mail["List-Unsubscribe"]
    one_click = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""}
    path = f"/u/{link.group(1)}"
    assert api.post(path, raw=b"List-Unsubscribe=One-Click", headers=one_click).status == 200
    pump.drain()
    # A database sync: its password in Secrets Manager (created, read by a test, changed, deleted).
    connection = {"host": "127.0.0.1", "port": 9, "database": "crm", "user": "reader", "password": "x"}
    sync = api.post(
        "/api/v1/syncs",
        {"name": "CRM", "engine": "postgresql", "connection": connection, "query": "SELECT email FROM t",
         "mapping": {"email": "email"}},
    ).json["id"]  # fmt: skip
    assert api.post(f"/api/v1/syncs/{sync}/test").json["ok"] is False  # nothing listens on port 9
    api.patch(f"/api/v1/syncs/{sync}", {"connection": {"password": "y"}})
    assert api.delete(f"/api/v1/syncs/{sync}").status == 204

    granted = {a for statement in policy_statements() for a in as_list(statement["Action"])}
    needed = {action(service, operation) for service, operation in made}
    assert {"ses:SendEmail", "ses:GetEmailIdentity", "s3:PutObject", "dynamodb:TransactWriteItems"} <= needed
    assert {"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"} <= needed
    assert sorted(needed - granted) == []
