"""An import's error report: every skipped and failed row (and merged duplicate) with its
reason and its cells. Each import step writes its rows' lines as a part in S3 (`lines`); the
last step joins the parts behind the header (`write`); `error_report` serves the result."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chalicelib.exchange import import_rows, imports
from chalicelib.exchange.contact_export import BOM
from chalicelib.models.imports import Import
from chalicelib.platform import files as file_store
from chalicelib.platform.errors import Conflict, NotFound
from chalicelib.platform.spreadsheet import spreadsheet_safe

REPORT_COLUMNS = ["row", "line", "result", "reason", "value"]
REPORT_URL_SECONDS = 900
INLINE_REPORT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Report:
    """The error report: its bytes when small, else a URL to download it from."""

    body: bytes | None = None
    url: str | None = None


def error_report(workspace_id: str, import_id: str) -> Report:
    """Every skipped and failed row (and merged duplicate) with its reason and its cells."""
    item = imports.get(workspace_id, import_id)
    if item.status not in ("COMPLETED", "FAILED"):
        raise Conflict("the error report is ready once the import has finished", [{"field": "status"}])
    key = file_store.report_key(workspace_id, import_id)
    size = file_store.size_of(key) if item.errorCount else None
    if size is None:
        if item.errorCount:
            raise NotFound("the error report has expired (reports are kept 30 days)")
        return Report(body=header(item))
    if size <= INLINE_REPORT_BYTES:
        return Report(body=file_store.get(key))
    # The same name as the inline report's: the client's file name may hold quotes or accents
    # that a Content-Disposition header cannot carry as they are.
    return Report(url=file_store.download_url(key, REPORT_URL_SECONDS, f"import-{item.id}-errors.csv"))


def write(item: Import) -> None:
    """Concatenate the steps' report parts behind a header (streamed, never whole in memory)."""
    if not int(item.errorCount):
        return
    prefix = file_store.report_part_key(item.workspaceId, item.id, 0).rsplit("/", 1)[0] + "/"

    def chunks() -> Iterator[bytes]:
        yield header(item)
        for key in sorted(file_store.keys_under(prefix)):
            yield from file_store.read_from(key, 0)

    file_store.write_stream(file_store.report_key(item.workspaceId, item.id), chunks())


def header(item: Import) -> bytes:
    return BOM + _csv_line([*REPORT_COLUMNS, *(item.header or [])])


def lines(results: Sequence[import_rows.RowResult]) -> bytes:
    """A line per reported row, and per value left out of a row (result "warning")."""
    return b"".join(
        _csv_line([str(e["row"]), str(e["line"]), e["result"], e["reason"] or "", e["value"] or "", *r.cells])
        for r in results
        for e in r.entries()
    )


def _csv_line(cells: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([spreadsheet_safe(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8")
