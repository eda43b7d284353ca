"""Jobs: paged through the jobs queue, resumable after a crash, never recording a page twice,
progress at GET /api/v1/jobs/{id}, tenancy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.events import dispatch
from chalicelib.groups import jobs
from chalicelib.models.groups import Membership
from chalicelib.models.jobs import Job
from chalicelib.platform import config, queues
from tests.support.contacts import make_contacts
from tests.support.groups import add, new_group
from tests.support.workspaces import workspace_of


@dataclass
class FlakyKind:
    """A job kind for these tests: records the pages it runs, crashes once on `crash_on`."""

    crash_on: int | None = None
    pages: list[list[str]] = field(default_factory=list)

    def __call__(self, job: Job, members: list[Membership]) -> jobs.PageResult:
        self.pages.append([m.contactId for m in members])
        if self.crash_on == len(self.pages) - 1:
            raise RuntimeError("the Lambda died half way")
        errors = [
            {"contactId": m.contactId, "reason": "odd"} for m in members if m.email.startswith("person1")
        ]
        return jobs.PageResult(processed=len(members), errors=errors, counts={"seen": len(members)})


FLAKY = FlakyKind()


@dataclass
class BrokenKind:
    """Fails every delivery of its second page while `broken`."""

    broken: bool = True

    def __call__(self, job: Job, members: list[Membership]) -> jobs.PageResult:
        if self.broken and job.page == 1:
            raise RuntimeError("a bug in this page")
        return jobs.PageResult(processed=len(members))


BROKEN = BrokenKind()


@dataclass
class BrokenFinish:
    """Pages fine; its finish fails while `broken`."""

    broken: bool = True
    pages: int = 0

    def page(self, job: Job, members: list[Membership]) -> jobs.PageResult:
        self.pages += 1
        return jobs.PageResult(processed=len(members))

    def finish(self, job: Job) -> None:
        if self.broken:
            raise RuntimeError("a bug in the finish")


BROKEN_FINISH = BrokenFinish()
TEST_KINDS = {
    "testFlaky": jobs.Kind(FLAKY, page_size=2),
    "testBroken": jobs.Kind(BROKEN, page_size=2),
    "testBrokenFinish": jobs.Kind(BROKEN_FINISH.page, page_size=2, finish=BROKEN_FINISH.finish),
}


@pytest.fixture(autouse=True)
def test_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' job kinds, beside the product's in the jobs Lambda's table."""
    for name, kind in TEST_KINDS.items():
        monkeypatch.setitem(dispatch.job_kinds(), name, kind)  # type: ignore[index]


def _group_of(api, count: int) -> tuple[str, list[str]]:
    group = new_group(api, "Paged")
    contacts = make_contacts(api, count)
    add(api, group, contacts)
    return group, contacts


def _send_page(job: Job, page: int) -> None:
    message = {"kind": jobs.MESSAGE_KIND, "workspaceId": job.workspaceId, "jobId": job.id, "page": page}
    queues.send(config.jobs_queue_url(), [message])


def test_a_job_runs_every_page_once_and_reports_progress(api, pump) -> None:
    # GIVEN
    FLAKY.crash_on, FLAKY.pages = None, []
    group, contacts = _group_of(api, 5)
    # WHEN
    job = jobs.start(workspace_of(api), "testFlaky", group, total=5)
    # THEN
    assert all(call.ok for call in pump.drain())
    assert [len(page) for page in FLAKY.pages] == [2, 2, 1]
    assert sorted(cid for page in FLAKY.pages for cid in page) == sorted(contacts)
    view = api.get(f"/api/v1/jobs/{job.id}").json
    assert (view["status"], view["processed"], view["total"], view["errorCount"]) == ("COMPLETED", 5, 5, 1)
    assert view["errors"] == [{"contactId": contacts[1], "reason": "odd"}]
    assert jobs.state(jobs.get(workspace_of(api), job.id)) == {"seen": 5}


def test_a_crashed_page_is_run_again_and_finished_pages_are_not(api, pump) -> None:
    # GIVEN
    FLAKY.crash_on, FLAKY.pages = 1, []
    group, _ = _group_of(api, 5)
    # WHEN
    job = jobs.start(workspace_of(api), "testFlaky", group, total=5)
    calls = pump.drain()
    # THEN
    assert any(not call.ok for call in calls)  # the crash failed its message; SQS gave it again
    assert FLAKY.pages[1] == FLAKY.pages[2]  # the crashed page, redone from its start
    assert [len(page) for page in FLAKY.pages] == [2, 2, 2, 1]
    view = api.get(f"/api/v1/jobs/{job.id}").json
    assert (view["status"], view["processed"]) == ("COMPLETED", 5)


def test_a_message_delivered_again_changes_nothing(api, pump) -> None:
    FLAKY.crash_on, FLAKY.pages = None, []
    group, _ = _group_of(api, 3)
    job = jobs.start(workspace_of(api), "testFlaky", group, total=3)
    pump.drain()
    done = api.get(f"/api/v1/jobs/{job.id}").json
    runs = len(FLAKY.pages)
    for page in (0, 1, 5):
        _send_page(job, page)
    assert all(call.ok for call in pump.drain())
    assert len(FLAKY.pages) == runs
    assert api.get(f"/api/v1/jobs/{job.id}").json == done


def test_two_deliveries_of_one_page_record_it_once(api, pump) -> None:
    FLAKY.crash_on, FLAKY.pages = None, []
    group, _ = _group_of(api, 3)
    job = jobs.start(workspace_of(api), "testFlaky", group, total=3)
    stale: Any = jobs.get(workspace_of(api), job.id)  # what a second, concurrent delivery read
    jobs.run(jobs.get(workspace_of(api), job.id), 0, dispatch.job_kinds())
    jobs.run(stale, 0, dispatch.job_kinds())  # runs the page, then loses the race to record it
    assert jobs.get(workspace_of(api), job.id).processed == 2
    pump.drain()
    assert api.get(f"/api/v1/jobs/{job.id}").json["processed"] == 3


def test_another_workspaces_job_is_404(api, new_workspace, pump) -> None:
    group = new_group(api, "Leads")
    job_id = api.post(f"/api/v1/groups/{group}/actions", {"action": "applyTags", "tags": ["x"]}).json["jobId"]
    assert api.get(f"/api/v1/jobs/{job_id}").status == 200
    other = new_workspace(name="Other")
    assert (other.get(f"/api/v1/jobs/{job_id}").status, other.get(f"/api/v1/jobs/{job_id}").error_code) == (
        404,
        "not_found",
    )
    assert api.get("/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV").status == 404
    assert api.get("/api/v1/jobs/nope").status == 404


def test_a_page_that_keeps_failing_fails_the_job_and_a_redrive_finishes_it(api, aws, pump) -> None:
    import boto3

    BROKEN.broken = True
    group, _ = _group_of(api, 5)
    job = jobs.start(workspace_of(api), "testBroken", group, total=5)
    calls = pump.drain()
    assert len([call for call in calls if call.failed]) == queues.LAST_ATTEMPT
    view = api.get(f"/api/v1/jobs/{job.id}").json
    assert (view["status"], view["processed"]) == ("FAILED", 2)
    assert view["finishedAt"]

    # The message waits in the dead-letter queue; once the bug is fixed, a redrive resumes.
    sqs = boto3.client("sqs")
    [dead] = sqs.receive_message(QueueUrl=aws.refs["JobsDeadLetterQueue"]).get("Messages", [])
    BROKEN.broken = False
    sqs.send_message(QueueUrl=aws.refs["JobsQueue"], MessageBody=dead["Body"])
    assert all(call.ok for call in pump.drain())
    view = api.get(f"/api/v1/jobs/{job.id}").json
    assert (view["status"], view["processed"]) == ("COMPLETED", 5)


def test_the_last_attempt_is_the_queues_max_receive_count() -> None:
    from infra.provision import load_template

    resources = load_template()["Resources"]
    for name in ("JobsQueue", "StepsQueue", "ImportsQueue"):
        assert resources[name]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == queues.LAST_ATTEMPT


def test_a_job_whose_finish_failed_is_finished_by_a_redrive_without_running_its_pages_again(
    api, aws, pump
) -> None:
    import boto3

    BROKEN_FINISH.broken, BROKEN_FINISH.pages = True, 0
    group, _ = _group_of(api, 5)
    job = jobs.start(workspace_of(api), "testBrokenFinish", group, total=5)
    pump.drain()
    assert api.get(f"/api/v1/jobs/{job.id}").json["status"] == "FAILED"
    assert BROKEN_FINISH.pages == 3

    sqs = boto3.client("sqs")
    [dead] = sqs.receive_message(QueueUrl=aws.refs["JobsDeadLetterQueue"]).get("Messages", [])
    BROKEN_FINISH.broken = False
    sqs.send_message(QueueUrl=aws.refs["JobsQueue"], MessageBody=dead["Body"])
    assert all(call.ok for call in pump.drain())
    view = api.get(f"/api/v1/jobs/{job.id}").json
    assert (view["status"], view["processed"]) == ("COMPLETED", 5)
    assert BROKEN_FINISH.pages == 3  # the pages were not run again
