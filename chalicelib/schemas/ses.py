"""The SES notifications that reach us through SNS: bounces, complaints, deliveries (identity
notifications, `notificationType`, or configuration-set events, `eventType`) and received
mail (a receipt rule's SNS action). Only the fields used are declared; others are ignored.
SES writes camelCase, as the API does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class SesModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Header(SesModel):
    name: str
    value: str


class Mail(SesModel):
    message_id: str = Field(min_length=1, max_length=500)
    timestamp: str | None = None
    source: str | None = None
    destination: list[str] = Field(default_factory=list)
    headers_truncated: bool = False
    headers: list[Header] = Field(default_factory=list)
    common_headers: dict[str, Any] = Field(default_factory=dict)


class Recipient(SesModel):
    email_address: str
    status: str | None = None
    action: str | None = None
    diagnostic_code: str | None = None


class Bounce(SesModel):
    bounce_type: str  # Permanent | Transient | Undetermined
    bounce_sub_type: str | None = None
    bounced_recipients: list[Recipient] = Field(min_length=1)
    feedback_id: str | None = None
    timestamp: str | None = None


class Complaint(SesModel):
    complained_recipients: list[Recipient] = Field(min_length=1)
    complaint_feedback_type: str | None = None
    feedback_id: str | None = None
    timestamp: str | None = None


class Delivery(SesModel):
    recipients: list[str] = Field(default_factory=list)
    timestamp: str | None = None
    smtp_response: str | None = None


class Verdict(SesModel):
    status: str


class Receipt(SesModel):
    recipients: list[str] = Field(default_factory=list)
    spam_verdict: Verdict | None = None
    virus_verdict: Verdict | None = None
    action: dict[str, Any] = Field(default_factory=dict)


SECTIONS = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery", "Received": "receipt"}


class Notification(SesModel):
    notification_type: str | None = None
    event_type: str | None = None
    mail: Mail
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    delivery: Delivery | None = None
    receipt: Receipt | None = None
    content: str | None = None

    @property
    def kind(self) -> str:
        return str(self.notification_type or self.event_type)

    @model_validator(mode="after")
    def _has_its_section(self) -> Notification:
        if not (self.notification_type or self.event_type):
            raise ValueError("neither notificationType nor eventType")
        section = SECTIONS.get(self.kind)
        if section is not None and getattr(self, section) is None:
            raise ValueError(f"a {self.kind} notification without its {section!r} part")
        return self
