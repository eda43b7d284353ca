"""A group's members as CSV, UTF-8 with a BOM so spreadsheet programs read accents right.

The columns are what the member list shows (the contact snapshot on each membership), so a
page of 1,000 members is one Query and nothing else. A full export of the group's contacts
(tags, custom fields...) is the contacts export with `groupId`.

Spreadsheet formula injection: a cell that starts with = + - @ or a tab or carriage return
is prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it
(OWASP's advice; a phone number "+33..." therefore reads '+33...).

A Lambda answer is at most 6 MB: a group of more than INLINE_MEMBERS members, or whose CSV
would pass MAX_BYTES, is exported by the contacts' export job instead (chalicelib.exchange.contact_export
with its groupId: every contact column, built in S3, GET /exports/{id} for the download).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from chalicelib.exchange import contact_export
from chalicelib.groups import members
from chalicelib.groups import service as groups
from chalicelib.models.contacts import PERSONAL_FIELDS
from chalicelib.models.imports import Export
from chalicelib.platform.spreadsheet import spreadsheet_safe

COLUMNS = ("id", *PERSONAL_FIELDS, "status", "joinedAt")
PAGE = 1000
MAX_BYTES = 5_500_000
INLINE_MEMBERS = 20_000  # ~2 MB of CSV, 20 Queries: well inside API Gateway's 29 s


def safe_cell(value: Any) -> str:
    """The cell's text, neutralised if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    return spreadsheet_safe(value if isinstance(value, str) else str(value))


def rows(workspace_id: str, group_id: str) -> Iterator[list[str]]:
    """The header, then one row per member (in contact id order)."""
    yield list(COLUMNS)
    start_key = None
    while True:
        page = members.member_page(workspace_id, group_id, limit=PAGE, start_key=start_key)
        for member in page.items:
            view = members.member_view(member)
            yield [safe_cell(view[column]) for column in COLUMNS]
        if page.last_key is None:
            return
        start_key = page.last_key


def export(workspace_id: str, group_id: str) -> contact_export.Inline | Export:
    """The group's members as CSV (Inline), or the Export job of a large group; 404 for an
    unknown group."""
    group = groups.get(workspace_id, group_id)
    if int(group.totalContacts or 0) <= INLINE_MEMBERS:
        text = _inline(workspace_id, group_id)
        if text is not None:
            return contact_export.Inline(text, file_name(group.name))
    return contact_export.start(workspace_id, {"groupId": group_id})


def _inline(workspace_id: str, group_id: str) -> str | None:
    """The CSV, or None past MAX_BYTES (the group's counter lagged behind its members)."""

    parts = ["\ufeff"]
    size = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for count, row in enumerate(rows(workspace_id, group_id), start=1):
        writer.writerow(row)
        if count % PAGE == 0:
            size += _flush(buffer, parts)
            if size > MAX_BYTES:
                return None
    size += _flush(buffer, parts)
    return "".join(parts) if size <= MAX_BYTES else None


def _flush(buffer: Any, parts: list[str]) -> int:
    """Move the buffer's text to `parts`; returns its size in bytes."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    parts.append(text)
    return len(text.encode())


def file_name(group_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", group_name).strip("-")[:60] or "group"
    return f"{slug}.csv"
