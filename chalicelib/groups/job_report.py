"""A job's error report: every contact a page could not act on, with why, as CSV.

The Job item keeps the first MAX_ERRORS errors (it is at most 400 KB); the report keeps them
all. Each page with errors writes its lines as a part in S3 under the job's id (a page run
again writes the same key, so a retried page is reported once); the finish joins the parts
behind the header (streamed, never whole in memory). A FAILED job's parts are joined when
its report is first asked for. GET /api/v1/jobs/{id}/errors.csv serves it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.platform import files as file_store
from chalicelib.platform.errors import Conflict
from chalicelib.platform.spreadsheet import spreadsheet_safe

if TYPE_CHECKING:
    from chalicelib.models.jobs import Job

COLUMNS = ("contactId", "email", "reason")
BOM = b"\xef\xbb\xbf"
INLINE_BYTES = 1024 * 1024
URL_SECONDS = 900


@dataclass(frozen=True)
class Report:
    """The report's bytes when small, else a URL to download it from."""

    body: bytes | None = None
    url: str | None = None


def write_part(job: Job, page: int, errors: Sequence[Mapping[str, Any]]) -> None:
    file_store.put(file_store.report_part_key(job.workspaceId, job.id, page), _lines(errors))


def join(job: Job) -> None:
    """The parts behind the header, as the job's report (nothing when no page had errors)."""
    parts = sorted(file_store.keys_under(_parts_prefix(job)))
    if not parts:
        return

    def chunks() -> Iterator[bytes]:
        yield header()
        for key in parts:
            yield from file_store.read_from(key, 0)

    file_store.write_stream(file_store.report_key(job.workspaceId, job.id), chunks())


def report(job: Job) -> Report:
    """The report of a finished job; 409 while it runs."""
    if job.status not in ("COMPLETED", "FAILED"):
        raise Conflict("the error report is ready once the job has finished", [{"field": "status"}])
    if not int(job.errorCount or 0):
        return Report(body=header())
    key = file_store.report_key(job.workspaceId, job.id)
    size = file_store.size_of(key)
    if size is None:
        join(job)  # a FAILED job never ran its finish
        size = file_store.size_of(key) or 0
    if size <= INLINE_BYTES:
        return Report(body=file_store.get(key) or header())
    return Report(url=file_store.download_url(key, URL_SECONDS, f"job-{job.id}-errors.csv"))


def header() -> bytes:
    return BOM + _line(COLUMNS)


def _parts_prefix(job: Job) -> str:
    return file_store.report_part_key(job.workspaceId, job.id, 0).rsplit("/", 1)[0] + "/"


def _lines(errors: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join(_line([str(error.get(name) or "") for name in COLUMNS]) for error in errors)


def _line(cells: Sequence[str]) -> bytes:
    safe = [spreadsheet_safe(cell) for cell in cells]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(safe)
    return buffer.getvalue().encode("utf-8")
