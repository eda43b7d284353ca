"""Keeping what is valid of an input (imports, lead forms, the API's create and sync): a
refused secondary value (a bad phone beside a valid email, a custom field of the wrong
type...) is left out of the contact and returned as a warning {"field", "value", "reason"},
as long as a usable identity remains; without one the input fails as a plain parse does.
Custom fields are checked against their definitions later, where those are read
(`fields.check_salvaging`)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from typing import Any

from chalicelib.contacts.input import ContactInput, left_out, parse
from chalicelib.contacts.service import merged_tags, require_identity
from chalicelib.models.contacts import IDENTITY_FIELDS
from chalicelib.platform.errors import ValidationFailed
from chalicelib.schemas.contacts import ContactCreate

# What a client's create or sync (POST /contacts, /contacts/sync) may have left out, with a
# warning, rather than the contact refused: a bad phone beside a valid email, a name too long,
# a custom field of the wrong type... The email, status, consent, tags, groups and unknown
# fields still refuse it (422): leaving those out would change who is emailed or where the
# contact goes, or hide a client's typo.
SECONDARY = ("phone", "firstName", "lastName", "company", "title", "customFields", "pipelineStage", "source")


def parse_salvaging(
    data: Any, region_of: Any, extra_tags: Sequence[str] = (), only: Collection[str] | None = None
) -> tuple[ContactInput, tuple[dict[str, str], ...]]:
    """`parse` for imports, lead forms and the API's create and sync: a value it refuses (a
    bad phone beside a valid email, a name too long, an unknown status, a bad custom
    field...) is left out and returned as a warning {"field", "value", "reason"}, as long as
    a usable identity (a valid email or a valid phone) remains. Without one, the input fails
    as `parse` fails (ValidationFailed naming every bad field); so does a refused field
    outside `only`."""
    body = copy.deepcopy(data)
    warnings: list[dict[str, str]] = []
    while True:
        try:
            given = parse(body, ContactCreate, region_of)
            require_identity(given.email, given.phone)
            merged_tags(given.tags, extra_tags)
            return given, tuple(warnings)
        except ValidationFailed as error:
            named = {str(detail.get("field") or "").partition(".")[0] for detail in error.details}
            if only is not None and not named <= set(only):
                raise
            if not isinstance(body, dict) or not _leave_out(body, error.details, warnings):
                raise


def _leave_out(
    body: dict[str, Any], details: Sequence[dict[str, Any]], warnings: list[dict[str, str]]
) -> bool:
    """Remove from `body` the values `details` name, noting each in `warnings`; False when
    nothing can be left out (an identity would be gone, or a detail names no value)."""
    named = [str(detail.get("field") or "") for detail in details]
    bad_identity = {name for name in named if name in IDENTITY_FIELDS}
    if not {name for name in IDENTITY_FIELDS if body.get(name)} - bad_identity:
        return False  # no usable identity would remain: the row fails with its reasons
    removed = False
    for name, detail in zip(named, details, strict=True):
        top, _, rest = name.partition(".")
        custom = body.get("customFields")
        key = rest.split(".")[0]
        if top == "customFields" and key and isinstance(custom, dict) and key in custom:
            value, name = custom.pop(key), f"customFields.{key}"
        elif top in body and top != "body" and not (top == "customFields" and rest):
            value, name = body.pop(top), top
        else:
            continue
        warnings.append(left_out(name, value, str(detail.get("message") or "refused")))
        removed = True
    return removed
