"""Bodies of /api/v1/syncs (database syncs, docs/sync.md). The password is write-only: no
answer has a field that could carry it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.schemas.common import ApiModel, ListQuery, Page

MAX_MAPPING = 500
Engine = Literal["postgresql", "mysql"]
Schedule = Literal["hourly", "daily", "manual"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class SyncConnection(ApiModel):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    database: str = Field(min_length=1, max_length=128)
    user: str = Field(min_length=1, max_length=128)
    password: str = Field(
        min_length=1, max_length=1024, description="stored in AWS Secrets Manager, never shown"
    )
    sslmode: SslMode | None = None


class SyncConnectionPatch(ApiModel):
    """Only what is sent changes; the password is kept unless a new one is sent."""

    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = Field(default=None, min_length=1, max_length=128)
    user: str | None = Field(default=None, min_length=1, max_length=128)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    sslmode: SslMode | None = None


class SyncCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    engine: Engine
    connection: SyncConnection
    query: str = Field(min_length=1, max_length=20_000, description="one SELECT")
    mapping: dict[str, str] = Field(
        min_length=1,
        max_length=MAX_MAPPING,
        description='{"column": "field"}: email, phone, firstName, lastName, fullName, company, title, '
        'tags, status, pipelineStage, "customFields.<key>" or "ignore"; email or phone required',
    )
    cursor_column: str | None = Field(
        default=None, min_length=1, max_length=128, description="rows above the last run's highest only"
    )
    group_id: str | None = Field(default=None, max_length=26, description="every row's contact joins it")
    schedule: Schedule = "manual"
    update_existing: bool = Field(default=False, description="false: existing contacts only gain the group")


class SyncPatch(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    engine: Engine | None = None
    connection: SyncConnectionPatch | None = None
    query: str | None = Field(default=None, min_length=1, max_length=20_000)
    mapping: dict[str, str] | None = Field(default=None, min_length=1, max_length=MAX_MAPPING)
    cursor_column: str | None = Field(default=None, min_length=1, max_length=128, description="null: none")
    group_id: str | None = Field(default=None, max_length=26, description="null: none")
    schedule: Schedule | None = None
    update_existing: bool | None = None

    # Only the cursor column and the group can be removed; a null elsewhere would be a silent
    # no-op, so it is refused, naming the field.
    @field_validator("name", "engine", "connection", "query", "mapping", "schedule", "update_existing")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null: leave it out to keep it")
        return value


class SyncConnectionView(ApiModel):
    host: str
    port: int
    database: str
    user: str
    sslmode: str | None
    password_set: bool = Field(description="the password itself is never shown")


class SyncView(ApiModel):
    id: str
    name: str
    engine: str
    connection: SyncConnectionView
    query: str
    mapping: dict[str, str]
    cursor_column: str | None
    group_id: str | None
    schedule: str
    update_existing: bool
    last_cursor: str | None = Field(description="the highest cursorColumn value of the last completed run")
    last_run_id: str | None
    active_run_id: str | None
    next_run_at: str | None = Field(description="when the schedule starts the next run (null: manual)")
    created_at: str
    updated_at: str


class SyncPage(Page[SyncView]):
    pass


class SyncListQuery(ListQuery):
    pass


class SyncTestResult(ApiModel):
    ok: bool
    columns: list[str]
    sample: list[dict[str, Any]] = Field(description="up to 5 rows, column -> value as text (null: NULL)")
    error: str | None = None


class SyncRunStarted(ApiModel):
    run_id: str


class SyncRunView(ApiModel):
    id: str
    status: str = Field(description="RUNNING | COMPLETED | FAILED")
    processed_rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    warnings: int = Field(description="values left out of imported rows (errors.csv says which)")
    error_count: int
    failure_reason: str | None
    cursor_from: str | None = Field(description="rows above this cursor value were read")
    cursor_high: str | None = Field(description="the highest cursor value read")
    error_report_url: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class SyncRunPage(Page[SyncRunView]):
    pass
