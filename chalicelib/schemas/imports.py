"""Bodies of /api/v1/imports, /api/v1/contacts/export and /api/v1/exports."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.schemas.common import ApiModel, Page
from chalicelib.schemas.contacts import MAX_TAGS_PER_CONTACT, ContactStatus, PipelineStage, Tag

MAX_MAPPING = 500


class ImportOptions(ApiModel):
    """POST /imports as JSON: the answer carries an upload URL for the file."""

    group_id: str | None = Field(default=None, max_length=26, description="every row's contact joins it")
    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS_PER_CONTACT, description="added to every row's contact"
    )
    mapping: dict[str, str | None] | None = Field(
        default=None,
        max_length=MAX_MAPPING,
        description='{"csv header": "field"}: email, phone, firstName, lastName, fullName, company, '
        "title, tags, status, pipelineStage, a custom field key, or ignore",
    )
    update_existing: bool = Field(
        default=False, description="false: existing contacts only gain group and tags"
    )
    file_name: str | None = Field(default=None, max_length=255, description="shown in the import's status")


class ImportQuery(ApiModel):
    """POST /imports with a text/csv body: the options in the query string."""

    group_id: str | None = None
    tags: str | None = Field(default=None, description="comma-separated")
    mapping: str | None = Field(default=None, description="the mapping object as JSON")
    update_existing: bool = False
    file_name: str | None = None


class ImportCreated(ApiModel):
    id: str
    status: str
    upload_url: str | None = Field(default=None, description="PUT the file here (no other header needed)")
    upload_method: str | None = None
    upload_expires_at: str | None = None


class ImportRowError(ApiModel):
    row: int = Field(description="data row, from 1 (blank lines are not rows)")
    line: int = Field(description="the file's line where the row starts, from 1")
    result: str = Field(
        description="skipped | failed, updated for a duplicate merged into an earlier row, or warning "
        "for a value left out of a row that was imported"
    )
    value: str | None = None
    reason: str
    column: str | None = Field(default=None, description="the column of a warning's value")


class ImportColumns(ApiModel):
    mapped: dict[str, str]
    ignored: list[str]
    unmatched_mapping: list[str] = Field(default_factory=list)


class ImportView(ApiModel):
    id: str
    status: str = Field(description="PENDING | RUNNING | COMPLETED | FAILED")
    file_name: str | None
    group_id: str | None
    tags: list[str]
    update_existing: bool
    total_rows: int | None = Field(description="null until the file has been read through once")
    processed_rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    warnings: int = Field(default=0, description="values left out of rows that were imported")
    errors: list[ImportRowError] = Field(description="the first 100; all of them in the error report")
    error_count: int
    error_report_url: str | None
    columns: ImportColumns | None
    encoding: str | None
    delimiter: str | None
    failure_reason: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class ImportPage(Page[ImportView]):
    pass


class ExportQuery(ApiModel):
    """The contact list's filters."""

    status: ContactStatus | None = None
    tag: Tag | None = None
    group_id: str | None = Field(default=None, max_length=26)
    pipeline_stage: PipelineStage | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100)

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ExportView(ApiModel):
    id: str
    status: str = Field(description="RUNNING | COMPLETED | FAILED")
    rows: int
    download_url: str | None = Field(description="a presigned GET, valid 15 minutes from this answer")
    failure_reason: str | None
    created_at: str
    finished_at: str | None
