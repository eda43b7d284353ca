"""Routes of /api/v1/forms and the public form pages /f/{formId} (see docs/api.md).

A post to /f/{formId} is a browser's when it is form-encoded (what an HTML form sends): it is
answered with pages (303 to the form's redirectUrl or a thank-you page; the form again with
the errors, 422; an error page otherwise). A JSON post is answered with JSON: 201 created or
200 updated, `{"result"}` only, and the API's error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import JSON, json_response, parse_body, parse_query, route, workspace_id
from chalicelib.platform.errors import ApiError, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.schemas.validation import validate

if TYPE_CHECKING:
    from chalicelib.models.forms import Form
    from chalicelib.schemas.forms import FormSubmission

bp = Blueprint(__name__)

FORM_ENCODED = "application/x-www-form-urlencoded"
MAX_POST_BYTES = 64 * 1024


# ---- the workspace's forms (API key) -------------------------------------------------------


@route(
    bp,
    "/api/v1/forms",
    "POST",
    summary="Create a lead form",
    body="forms.FormCreate",
    response="forms.FormView",
    status=201,
)
def create_form() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.forms import service as forms
    from chalicelib.schemas.forms import FormCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, FormCreate)
    return idempotency.respond(request, ws, "forms", lambda: (201, forms.view(forms.create(ws, body))))


@route(
    bp,
    "/api/v1/forms",
    "GET",
    summary="List the workspace's lead forms",
    query="forms.FormListQuery",
    response="forms.FormPage",
)
def list_forms() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import service as forms
    from chalicelib.schemas.forms import FormListQuery

    request = bp.current_request
    query = parse_query(request, FormListQuery)
    items, next_cursor = forms.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [forms.view(form) for form in items], "nextCursor": next_cursor})


@route(bp, "/api/v1/forms/{formId}", "GET", summary="A lead form", response="forms.FormView")
def get_form(formId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import service as forms

    return json_response(forms.view(forms.get(workspace_id(bp.current_request), formId)))


@route(
    bp,
    "/api/v1/forms/{formId}",
    "PATCH",
    summary="Change a lead form",
    body="forms.FormPatch",
    response="forms.FormView",
)
def patch_form(formId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import service as forms
    from chalicelib.schemas.forms import FormPatch

    request = bp.current_request
    body = parse_body(request, FormPatch)
    return json_response(forms.view(forms.update(workspace_id(request), formId, body)))


@route(bp, "/api/v1/forms/{formId}", "DELETE", summary="Delete a lead form", status=204)
def delete_form(formId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import service as forms

    forms.delete(workspace_id(bp.current_request), formId)
    return Response(body="", status_code=204)


# ---- the public form (no key) ------------------------------------------------------------------


@route(
    bp,
    "/f/{formId}",
    "GET",
    summary="The form's public page (HTML)",
    public=True,
    response_content_type="text/html",
)
def form_page(formId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import pages as form_pages
    from chalicelib.forms import service as forms

    try:
        form = forms.find(formId)
    except NotFound:
        return _not_found()
    return _html(form_pages.form_page(form.name, consent_text=form.consentText))


@route(
    bp,
    "/f/{formId}",
    "POST",
    summary="Submit the form: the same upsert as /contacts/sync, then the form's groups",
    body="forms.FormSubmission",
    response="forms.FormPosted",
    status=201,
    also=(200, 303),
    public=True,
    content_types=(FORM_ENCODED, JSON),
    errors=(402,),
)
def post_form(formId: str) -> Response:
    request = bp.current_request
    content_type = (request.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    if content_type == FORM_ENCODED:
        return _post_from_browser(request, formId)
    return _post_json(request, formId)


def _post_json(request: Request, form_id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import service as forms
    from chalicelib.schemas.forms import FormSubmission

    _check_size(request)
    form = forms.find(form_id)
    return _submit(request, form, parse_body(request, FormSubmission, MAX_POST_BYTES))


def _post_from_browser(request: Request, form_id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import pages as form_pages
    from chalicelib.forms import service as forms
    from chalicelib.schemas.forms import FormSubmission

    try:
        _check_size(request)
        form = forms.find(form_id)
    except NotFound:
        return _not_found()
    except ApiError as error:
        return _html(form_pages.message_page("Too much data", error.message), error.status)
    values: dict[str, str] = {}
    try:
        # chalice types raw_body str | bytes: always bytes
        values = forms.read_form_encoded(cast(bytes, request.raw_body))
        _submit(request, form, validate(FormSubmission, values))
    except ValidationFailed as error:
        errors: dict[str, str] = {}
        general: list[str] = []
        for detail in error.details:
            field, message = str(detail.get("field")), str(detail.get("message") or error.message)
            if field in form_pages.LABELS:
                errors.setdefault(field, message)
            else:
                general.append(f"{field}: {message}")
        shown = {name: value for name, value in values.items() if name in form_pages.LABELS}
        return _html(form_pages.form_page(form.name, shown, errors, general, form.consentText), 422)
    except ApiError as error:
        return _html(form_pages.message_page("Not sent", error.message), error.status)
    if form.redirectUrl:
        return Response(body="", status_code=303, headers={"Location": form.redirectUrl})
    return _html(form_pages.thank_you_page(form.name, confirm=bool(form.doubleOptIn)))


def _submit(request: Request, form: Form, submission: FormSubmission) -> Response:
    """Submit once per Idempotency-Key: 201 created, 200 updated (errors raise)."""
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.forms import service as forms

    def produce() -> tuple[int, dict[str, Any]]:
        result, warnings = forms.submit_reporting(form, submission, source_ip(request))
        answer: dict[str, Any] = {"result": result}
        if warnings:  # what was left out of the lead (a bad phone beside a good email)
            answer["warnings"] = warnings
        return (201 if result == "created" else 200), answer

    return idempotency.respond(request, form.workspaceId, f"form:{form.id}", produce)


def source_ip(request: Request) -> str | None:
    """The visitor's IP as API Gateway saw it (recorded with the consent), if it is one."""
    # cold start: a small standard module, used by public posts only
    import ipaddress

    raw = str(((request.context or {}).get("identity") or {}).get("sourceIp") or "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _check_size(request: Request) -> None:
    if len(request.raw_body or b"") > MAX_POST_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_POST_BYTES} bytes")


def _html(page: str, status: int = 200) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms.pages import HEADERS

    return Response(body=page, status_code=status, headers=dict(HEADERS))


def _not_found() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import pages as form_pages

    return _html(form_pages.message_page("Form not found", "There is no form at this address."), 404)


# ---- double opt-in confirmation links (no key: the signed token is the credential) ------------


@route(
    bp,
    "/c/{token}",
    "GET",
    summary="A confirmation link's page: a button that confirms (opening it confirms nothing)",
    public=True,
    content_types=("*/*",),
    response_content_type="text/html",
)
def confirmation_page(token: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import confirmation
    from chalicelib.forms import pages as form_pages

    try:
        status = confirmation.status_of(confirmation.check(token))
    except ApiError as error:
        return _link_error(error)
    if status == "ACTIVE":  # confirmed already: no button to press again
        return _html(form_pages.confirmed_page())
    if status != "UNCONFIRMED":
        return _not_confirmable()
    return _html(form_pages.confirm_page())


@route(
    bp,
    "/c/{token}",
    "POST",
    summary="Confirm a double opt-in: ACTIVE, consent GRANTED, then the form's groups",
    public=True,
    content_types=("*/*",),
    response_content_type="text/html",
)
def confirm_subscription(token: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import confirmation
    from chalicelib.forms import pages as form_pages

    request = bp.current_request
    try:
        contact = confirmation.confirm(token, source_ip(request))
    except ApiError as error:
        return _link_error(error)
    if contact.status != "ACTIVE":  # unsubscribed or blocked since: never lowered here
        return _not_confirmable()
    return _html(form_pages.confirmed_page())


def _not_confirmable() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import pages as form_pages

    message = "This address cannot be confirmed: it was unsubscribed or blocked."
    return _html(form_pages.message_page("Not confirmed", message), 409)


def _link_error(error: ApiError) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.forms import pages as form_pages

    title = "Link expired" if error.status == 410 else "Link not valid"
    return _html(form_pages.message_page(title, error.message), error.status)
