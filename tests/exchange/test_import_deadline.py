"""An import whose file never lands does not stay PENDING for ever: two hours after it was
created (the upload URL's hour and an hour of grace) its deadline fails it, saying why, or
starts it when its file is there but S3's notice was lost. All on the injected clock."""

from __future__ import annotations

import boto3
import requests as http

from tests.support.api import Api
from tests.support.clock import FakeClock
from tests.support.imports import contacts_by_email
from tests.support.timers import let_time_pass

HOUR = 3600
FILE = b"Email,First name\nana@example.com,Ana\nbob@example.com,Bob\n"


def test_an_import_never_uploaded_fails_at_its_deadline(api: Api, pump, fake_clock: FakeClock) -> None:
    created = api.post("/api/v1/imports", {"fileName": "leads.csv"}).json

    let_time_pass(fake_clock, pump, 2 * HOUR - 120)
    before_deadline = api.get(f"/api/v1/imports/{created['id']}").json
    let_time_pass(fake_clock, pump, 180)
    after = api.get(f"/api/v1/imports/{created['id']}").json

    assert before_deadline["status"] == "PENDING"
    assert after["status"] == "FAILED"
    assert after["failureReason"].startswith("no file was uploaded while its upload URL was valid")


def test_a_file_whose_notice_was_lost_starts_at_the_deadline(api: Api, pump, fake_clock: FakeClock) -> None:
    from chalicelib.platform import config

    created = api.post("/api/v1/imports", {"fileName": "leads.csv"}).json
    assert http.put(created["uploadUrl"], data=FILE, timeout=10).status_code == 200
    sqs, url = boto3.client("sqs"), config.imports_queue_url()
    notices = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for notice in notices:  # S3's notice, lost
        sqs.delete_message(QueueUrl=url, ReceiptHandle=notice["ReceiptHandle"])
    assert len(notices) == 1

    let_time_pass(fake_clock, pump, 2 * HOUR + 60)
    view = api.get(f"/api/v1/imports/{created['id']}").json

    assert (view["status"], view["created"]) == ("COMPLETED", 2), view
    assert set(contacts_by_email(api)) == {"ana@example.com", "bob@example.com"}


def test_a_finished_import_is_left_as_it_was_by_its_deadline(api: Api, pump, fake_clock: FakeClock) -> None:
    created = api.post("/api/v1/imports", {"fileName": "leads.csv"}).json
    assert http.put(created["uploadUrl"], data=FILE, timeout=10).status_code == 200
    fake_clock.drain(pump, wait=5)
    done = api.get(f"/api/v1/imports/{created['id']}").json

    let_time_pass(fake_clock, pump, 2 * HOUR + 60)

    assert done["status"] == "COMPLETED"
    assert api.get(f"/api/v1/imports/{created['id']}").json == done
