"""Bodies of /api/v1/forms and of the public posts to /f/{formId} (docs/api.md, Lead forms)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, HttpUrl, StrictBool, TypeAdapter, field_validator, model_validator

from chalicelib.schemas.common import ApiModel, ListQuery, Page
from chalicelib.schemas.contacts import MAX_GROUPS, MAX_TAGS_PER_CONTACT, Tag

MAX_URL = 2048
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    """An absolute http(s) URL with a host, kept as written (pydantic's HttpUrl would
    rewrite it, e.g. add a trailing slash, and the owner expects their URL back)."""
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain spaces or control characters")
    _HTTP_URL.validate_python(value)
    return value


RedirectUrl = Annotated[str, Field(min_length=1, max_length=MAX_URL), AfterValidator(_http_url)]
GroupId = Annotated[str, Field(min_length=1, max_length=26)]


def _unique(values: list[str] | None) -> list[str] | None:
    return list(dict.fromkeys(values)) if values is not None else None


DEFAULT_CONFIRM_SUBJECT = "Please confirm your email address"
DEFAULT_CONFIRM_TEXT = (
    "Please confirm that you want to receive our emails by opening the link below and "
    "pressing its button. If you did not ask for this, ignore this email: nothing more will come."
)
ConsentText = Annotated[str, Field(min_length=1, max_length=2000)]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
BodyText = Annotated[str, Field(min_length=1, max_length=5000)]
FromEmail = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


class FormCreate(ApiModel):
    """POST /api/v1/forms. Every post of the form gets `tags` and joins `groupIds`; a browser
    is sent to `redirectUrl` afterwards (else to a thank-you page). `consentText` is shown
    above the button and recorded with each lead's consent. With `doubleOptIn`, a new lead is
    UNCONFIRMED and gets one email from `fromEmail` (a verified sender) with `confirmSubject`,
    `confirmBodyText` and its confirmation link; it joins the groups once it confirms."""

    name: str = Field(min_length=1, max_length=200)
    group_ids: list[GroupId] = Field(default_factory=list, max_length=MAX_GROUPS)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS_PER_CONTACT)
    redirect_url: RedirectUrl | None = None
    consent_text: ConsentText | None = None
    double_opt_in: StrictBool = False
    from_email: FromEmail | None = None
    confirm_subject: Subject | None = None
    confirm_body_text: BodyText | None = None

    _dedupe = field_validator("group_ids", "tags", mode="after")(_unique)

    @model_validator(mode="after")
    def _sender_for_double_opt_in(self) -> FormCreate:
        if self.double_opt_in and not self.from_email:
            raise ValueError("fromEmail is required with doubleOptIn (the confirmation email's sender)")
        return self


class FormPatch(ApiModel):
    """PATCH /api/v1/forms/{id}: the fields sent change (lists are replaced);
    `redirectUrl: null` removes the redirect."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    group_ids: list[GroupId] | None = Field(default=None, max_length=MAX_GROUPS)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS_PER_CONTACT)
    redirect_url: RedirectUrl | None = None
    consent_text: ConsentText | None = None
    double_opt_in: StrictBool | None = None
    from_email: FromEmail | None = None
    confirm_subject: Subject | None = None
    confirm_body_text: BodyText | None = None

    _dedupe = field_validator("group_ids", "tags", mode="after")(_unique)

    @model_validator(mode="after")
    def _something_to_change(self) -> FormPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of the form's fields")
        for name in ("name", "group_ids", "tags", "double_opt_in"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class FormView(ApiModel):
    id: str
    name: str
    group_ids: list[str]
    tags: list[str]
    redirect_url: str | None
    consent_text: str | None = None
    double_opt_in: bool = False
    from_email: str | None = None
    confirm_subject: str = Field(default=DEFAULT_CONFIRM_SUBJECT)
    confirm_body_text: str = Field(default=DEFAULT_CONFIRM_TEXT)
    url: str = Field(description="the public page of the form: <public base>/f/<id>")
    created_at: str
    updated_at: str


class FormPage(Page[FormView]):
    pass


class FormListQuery(ListQuery):
    pass


class FormSubmission(ApiModel):
    """POST /f/{formId}, form-encoded or JSON: the fields the public page shows, nothing else
    (a public poster cannot set tags, groups, status...). Empty values count as not given, so
    a blank field never erases what the contact already has. `website` is the honeypot: a
    person never sees it; filled in, the post is answered as a success and nothing is stored.
    Lengths and formats are checked by the contact upsert, with the same messages as the API.
    """

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    website: str | None = Field(default=None, description="honeypot: leave empty")


class FormPosted(ApiModel):
    """The JSON answer to a form post: 201 created or 200 updated, and nothing about the
    contact (an anonymous poster learns no stored data)."""

    result: str = Field(description="created | updated")
    warnings: list[dict[str, str]] = Field(
        default_factory=list, description="the visitor's values left out of the lead: field, value, reason"
    )
