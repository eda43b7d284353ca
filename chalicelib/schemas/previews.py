"""Bodies of a campaign's test send and step preview (docs/api.md, Campaigns)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from chalicelib.schemas.campaigns import _sender
from chalicelib.schemas.common import ApiModel

MAX_RECIPIENTS = 5

Address = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_sender)]


class TestSend(ApiModel):
    """POST /api/v1/campaigns/{id}/test: the email step `stepId` (default: the first email
    step) rendered for `contactId` (default: sample data), sent to `to` with [TEST] before its
    subject. Never an enrollment, never in the statistics."""

    __test__ = False  # not a pytest class

    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    contact_id: str | None = Field(default=None, min_length=1, max_length=64)
    step_id: str | None = Field(default=None, min_length=1, max_length=64)


class TestSent(ApiModel):
    to: str
    message_id: str = Field(description="SES's id of the email")


class TestSendResult(ApiModel):
    __test__ = False

    step_id: str
    contact_id: str | None
    subject: str
    sent: list[TestSent]


class PreviewQuery(ApiModel):
    contact_id: str | None = Field(default=None, min_length=1, max_length=64)


class Preview(ApiModel):
    step_id: str
    contact_id: str | None = Field(description="null: rendered with sample data")
    from_email: str
    to: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str] = Field(description="the headers added to the email (List-Unsubscribe...)")
