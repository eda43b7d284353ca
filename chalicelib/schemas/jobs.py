"""Job bodies: the progress of a background job."""

from __future__ import annotations

from typing import Any

from chalicelib.schemas.common import ApiModel


class JobView(ApiModel):
    id: str
    kind: str
    group_id: str | None
    status: str
    processed: int
    total: int
    errors: list[dict[str, Any]]
    error_count: int
    counts: dict[str, int] = {}  # what the job's pages counted (a bulk action's changed, unchanged...)
    created_at: str
    updated_at: str
    finished_at: str | None
