"""Lead forms: their definitions (per workspace) and what a public post to one does.

A post is the same upsert as POST /contacts/sync (chalicelib.flows.contacts.sync, source
"form:<id>", the form's tags added), then the contact joins the form's groups through
chalicelib.groups.memberships, whose membership write is what enrolls it in the campaigns of a
dynamic group. The lead's consent records the form, its consentText and the visitor's IP; a
double opt-in form's new lead waits UNCONFIRMED for its confirmation instead
(chalicelib.forms.confirmation, docs/consent.md). Public functions:

- `create(workspace_id, body: FormCreate) -> Form` (404 for an unknown group)
- `get(workspace_id, form_id) -> Form` (404 also for another workspace's form)
- `find(form_id) -> Form` (public: by id alone, 404 when unknown)
- `list_page(workspace_id, limit, cursor) -> (list[Form], next_cursor)`
- `update(workspace_id, form_id, patch: FormPatch) -> Form`
- `delete(workspace_id, form_id) -> None`
- `view(form) -> dict` (the API JSON, with the public `url`)
- `read_form_encoded(raw: bytes) -> dict[str, str]` (a browser's body, 400/422 when unusable)
- `submit(form, submission: FormSubmission, ip) -> str` ("created" | "updated")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from chalicelib.contacts import service as contacts
from chalicelib.contacts.matching import KEPT_PHONE
from chalicelib.deliverability import senders
from chalicelib.flows import contacts as contact_flows
from chalicelib.forms import confirmation
from chalicelib.forms.joining import join_groups
from chalicelib.groups import service as groups
from chalicelib.models.forms import Form
from chalicelib.platform import clock, config, ids
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Conflict, InvalidRequest, NotFound, ValidationFailed, field_error
from chalicelib.platform.logs import logger
from chalicelib.platform.paged_query import cursor_page
from chalicelib.schemas.forms import DEFAULT_CONFIRM_SUBJECT, DEFAULT_CONFIRM_TEXT

if TYPE_CHECKING:
    from chalicelib.schemas.forms import FormCreate, FormPatch, FormSubmission

# A browser form sends a handful of fields; more than this is not a person filling it in.
MAX_FIELDS = 50


# ---- definitions --------------------------------------------------------------------------


def public_url(form_id: str) -> str:
    return f"{config.public_base_url()}/f/{form_id}"


def view(form: Form) -> dict[str, Any]:
    return {
        "id": form.id,
        "name": form.name,
        "groupIds": list(form.groupIds or []),
        "tags": list(form.tags or []),
        "redirectUrl": form.redirectUrl,
        "consentText": form.consentText,
        "doubleOptIn": bool(form.doubleOptIn),
        "fromEmail": form.fromEmail,
        "confirmSubject": form.confirmSubject or DEFAULT_CONFIRM_SUBJECT,
        "confirmBodyText": form.confirmBodyText or DEFAULT_CONFIRM_TEXT,
        "url": public_url(form.id),
        "createdAt": form.createdAt,
        "updatedAt": form.updatedAt,
    }


def find(form_id: str) -> Form:
    """The form with this id, whatever its workspace (the public page and posts). One GetItem."""
    if not ids.is_id(form_id):
        raise NotFound("form not found")
    try:
        return Form.get(*Form.key(form_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("form not found") from None


def get(workspace_id: str, form_id: str) -> Form:
    """The workspace's form; another workspace's form is as unknown as a missing one."""
    form = find(form_id)
    if form.workspaceId != workspace_id:
        raise NotFound("form not found")
    return form


def _require_groups(workspace_id: str, group_ids: list[str]) -> None:
    if group_ids:
        for group in groups.require_all(workspace_id, group_ids).values():  # 404: the unknown ones
            groups.require_manual(group)  # a rule group keeps its own members: 409


def _require_sender(workspace_id: str, from_email: str | None) -> None:
    """422 unless a verified sender identity of the workspace covers the confirmation's sender."""
    if from_email:
        senders.require_verified(workspace_id, from_email)


def create(workspace_id: str, body: FormCreate) -> Form:
    _require_groups(workspace_id, body.group_ids)
    _require_sender(workspace_id, body.from_email)
    now = clock.now_iso()
    form_id = ids.new_id()
    form = Form(
        *Form.key(form_id),
        id=form_id,
        workspaceId=workspace_id,
        name=body.name,
        groupIds=body.group_ids,
        tags=body.tags,
        redirectUrl=body.redirect_url,
        consentText=body.consent_text,
        doubleOptIn=body.double_opt_in or None,
        fromEmail=body.from_email,
        confirmSubject=body.confirm_subject,
        confirmBodyText=body.confirm_body_text,
        createdAt=now,
        updatedAt=now,
        gsi1pk=Form.list_partition(workspace_id),
        gsi1sk=Form.list_sort(form_id),
    )
    try:
        form.save(condition=Form.pk.does_not_exist())
    except PutError as error:
        if is_conditional_failure(error):  # a ULID collision: never in practice, never silent
            raise Conflict("the form could not be created; try again") from None
        raise
    return form


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[Form], str | None]:
    """A page of the workspace's forms, oldest first: one Query on gsi1."""
    return cursor_page(
        Form,
        Form.list_partition(workspace_id),
        Form.gsi1sk.startswith("FORM#"),
        index="gsi1",
        limit=limit,
        scope=f"{workspace_id}:forms",
        cursor=cursor,
    )


def update(workspace_id: str, form_id: str, patch: FormPatch) -> Form:
    """Change the fields sent; the lists given replace the stored ones."""
    form = get(workspace_id, form_id)
    sent = patch.model_fields_set
    if "group_ids" in sent and patch.group_ids is not None:
        _require_groups(workspace_id, patch.group_ids)
    actions: list[Any] = [Form.updatedAt.set(clock.now_iso())]
    if "name" in sent and patch.name is not None:
        actions.append(Form.name.set(patch.name))
    if "group_ids" in sent and patch.group_ids is not None:
        actions.append(Form.groupIds.set(patch.group_ids))
    if "tags" in sent and patch.tags is not None:
        actions.append(Form.tags.set(patch.tags))
    if "redirect_url" in sent:
        url = patch.redirect_url
        actions.append(Form.redirectUrl.set(url) if url else Form.redirectUrl.remove())
    double = bool(patch.double_opt_in) if "double_opt_in" in sent else bool(form.doubleOptIn)
    sender = patch.from_email if "from_email" in sent else form.fromEmail
    if double and not sender:
        raise field_error(
            "fromEmail", "fromEmail is required with doubleOptIn (the confirmation email's sender)"
        )
    if "from_email" in sent:
        _require_sender(workspace_id, patch.from_email)
    if "double_opt_in" in sent:
        actions.append(Form.doubleOptIn.set(True) if double else Form.doubleOptIn.remove())
    for name, attribute in (
        ("consent_text", Form.consentText),
        ("from_email", Form.fromEmail),
        ("confirm_subject", Form.confirmSubject),
        ("confirm_body_text", Form.confirmBodyText),
    ):
        if name in sent:
            value = getattr(patch, name)
            actions.append(attribute.set(value) if value else attribute.remove())
    try:
        form.update(actions, condition=Form.workspaceId == workspace_id)
    except UpdateError as error:
        if is_conditional_failure(error):  # deleted meanwhile
            raise NotFound("form not found") from None
        raise
    return form


def delete(workspace_id: str, form_id: str) -> None:
    """Delete the form (its page answers 404 from now on); one conditional DeleteItem."""
    if not ids.is_id(form_id):
        raise NotFound("form not found")
    try:
        Form(*Form.key(form_id)).delete(condition=Form.workspaceId == workspace_id)
    except DeleteError as error:
        if is_conditional_failure(error):  # missing, or another workspace's
            raise NotFound("form not found") from None
        raise


# ---- posts ---------------------------------------------------------------------------------


def read_form_encoded(raw: bytes) -> dict[str, str]:
    """The fields of an application/x-www-form-urlencoded body. A field given twice is a 422
    (which value to keep would be a guess); a body that does not decode is a 400."""
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeDecodeError:
        raise InvalidRequest("the form body is not UTF-8") from None
    except ValueError:
        raise InvalidRequest(f"the form body has more than {MAX_FIELDS} fields") from None
    fields: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in pairs:
        if name in fields:
            repeated.append(name)
        fields[name] = value
    if repeated:
        details = [{"field": name, "message": "given more than once"} for name in dict.fromkeys(repeated)]
        raise ValidationFailed(f"{details[0]['field']}: given more than once", details)
    return fields


def submit(form: Form, submission: FormSubmission, ip: str | None = None) -> str:
    """Upsert the contact the submission describes and put it in the form's groups;
    "created" or "updated". A filled honeypot stores nothing and says "created", like any
    first post. Raises 422 (fields, as /contacts/sync names them), 402 (plan limit), 409 with
    no detail (the person cannot be stored, e.g. erased: an anonymous poster learns nothing
    about stored contacts)."""
    return submit_reporting(form, submission, ip)[0]


def submit_reporting(
    form: Form, submission: FormSubmission, ip: str | None = None
) -> tuple[str, list[dict[str, str]]]:
    """`submit`, and the visitor's values left out of the lead (a bad phone beside a good
    email still makes the lead): [{"field", "value", "reason"}]. Only the visitor's own bad
    values are told, never what stored contacts hold (a phone another contact has is left
    out silently, as the matching rules say).

    The lead's consent is recorded: the form, its consentText, the visitor's `ip`. On a
    double opt-in form, a lead that is new (or still UNCONFIRMED) is stored UNCONFIRMED with
    a PENDING consent and gets the confirmation email instead of joining the groups (it joins
    them once it confirms, chalicelib.forms.confirmation); any other contact is not asked
    again and is treated as on any form."""
    if submission.website:
        logger.info("form honeypot filled; nothing stored", extra={"form_id": form.id})
        return "created", []
    given = submission.model_dump(by_alias=True, exclude={"website"})
    # Blank fields are fields left empty: they never erase what the contact has.
    data: dict[str, Any] = {name: value for name, value in given.items() if value}
    double = bool(form.doubleOptIn) and _asks_confirmation(form, data.get("email"))
    consent: dict[str, Any] = {"status": "PENDING" if double else "GRANTED", "source": f"form:{form.id}"}
    if form.consentText:
        consent["text"] = form.consentText
    if ip:
        consent["ip"] = ip
    # A post never lowers a status (sync): UNCONFIRMED only takes on a new contact, and ACTIVE
    # (a single opt-in form's post) confirms an UNCONFIRMED one and changes no other.
    data.update(status="UNCONFIRMED" if double else "ACTIVE", consent=consent)
    try:
        synced = contact_flows.sync(
            form.workspaceId,
            data,
            source=f"form:{form.id}",
            extra_tags=list(form.tags or []),
            leave_out=("phone",),
        )
    except Conflict:
        raise Conflict("this submission could not be recorded") from None
    except NotFound:  # the workspace is gone
        raise NotFound("form not found") from None
    if double and synced.contact.status == "UNCONFIRMED":
        confirmation.send(form, synced.contact)
    else:
        join_groups(form, synced.contact)
    warnings = [dict(w) for w in synced.warnings if w["reason"] != KEPT_PHONE]
    if synced.unarchived:  # the visitor's own address, as a 200 "updated" already tells
        warnings.append({"field": "contact", "value": "archived", "reason": "archived contact unarchived"})
    return synced.result, warnings


def _asks_confirmation(form: Form, email: str | None) -> bool:
    """Whether this post of a double opt-in form asks for a confirmation: a new address, or
    one still UNCONFIRMED. The confirmation goes by email, so an email is required (422)."""
    if not email:
        raise field_error("email", "this form confirms by email: give your email address")
    found = contacts.find_by_email(form.workspaceId, email)
    return found is None or found["status"] == "UNCONFIRMED"
