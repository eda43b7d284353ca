"""Workspace bodies."""

from __future__ import annotations

from pydantic import Field, StrictBool

from chalicelib.models.plans import Plan
from chalicelib.schemas.common import ApiModel


class WorkspaceCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan.FREE
    default_region: str = Field(default="FR", pattern=r"^[A-Z]{2}$")


class WorkspaceCreated(ApiModel):
    id: str
    name: str
    plan: Plan
    api_key: str


class WorkspaceView(ApiModel):
    id: str
    name: str
    plan: Plan
    contact_limit: int | None
    contact_count: int
    default_region: str
    require_consent: StrictBool = Field(description="campaigns enroll only contacts whose consent is GRANTED")
    created_at: str


class WorkspacePatch(ApiModel):
    """PATCH /api/v1/workspace: the settings sent change."""

    require_consent: StrictBool = Field(description="campaigns enroll only contacts whose consent is GRANTED")


class Health(ApiModel):
    status: str
