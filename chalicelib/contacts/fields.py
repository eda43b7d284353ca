"""Custom fields: their definitions (one item per key) and the checking of contact values.

A contact's `customFields` may only hold keys defined with POST /api/v1/fields, each value of
the field's type: text (<= 1,000 characters), number, date (YYYY-MM-DD), boolean, select (one
of the options) or url (http/https). A null value removes the field from the contact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from chalicelib.contacts.input import left_out
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.keys import workspace
from chalicelib.platform import clock
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Conflict, ValidationFailed
from chalicelib.platform.paged_query import cursor_page

MAX_TEXT = 1000
MAX_URL = 2048
MIN_MAGNITUDE = 1e-100
MAX_NUMBER = 1e15  # DynamoDB numbers have 38 digits; beyond this, floats lose exactness anyway
MAX_VALUES_PER_CONTACT = 50


def define(
    workspace_id: str, key: str, label: str, field_type: str, options: list[str] | None
) -> FieldDefinition:
    """Create a definition; 409 when the key is already defined (a key never changes type)."""
    pk, sk = FieldDefinition.key(workspace_id, key)
    definition = FieldDefinition(
        pk, sk, key_name=key, label=label, fieldType=field_type, options=options, createdAt=clock.now_iso()
    )
    try:
        definition.save(condition=FieldDefinition.pk.does_not_exist())
    except Exception as error:
        if is_conditional_failure(error):
            raise Conflict(
                f"a custom field {key!r} already exists", [{"field": "key", "existingKey": key}]
            ) from None
        raise
    return definition


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[FieldDefinition], str | None]:
    return cursor_page(
        FieldDefinition,
        workspace(workspace_id),
        FieldDefinition.sk.startswith("FIELD#"),
        scope=f"fields:{workspace_id}",
        limit=limit,
        cursor=cursor,
    )


def view(definition: FieldDefinition) -> dict[str, Any]:
    return {
        "key": definition.key_name,
        "label": definition.label,
        "type": definition.fieldType,
        "options": list(definition.options) if definition.options is not None else None,
        "createdAt": definition.createdAt,
    }


def keys_for(workspace_id: str, field_keys: Iterable[str]) -> list[tuple[str, str]]:
    """The table keys of these definitions, to read them in a caller's BatchGetItem."""
    return [FieldDefinition.key(workspace_id, k) for k in sorted(set(field_keys))]


def check(values: Mapping[str, Any], definitions: Mapping[str, FieldDefinition]) -> dict[str, Any]:
    """The values, checked against their definitions (None kept: it means "remove").

    Raises ValidationFailed listing every bad key as `customFields.<key>`.
    """
    details: list[dict[str, Any]] = []
    if len(values) > MAX_VALUES_PER_CONTACT:
        details.append({"field": "customFields", "message": f"at most {MAX_VALUES_PER_CONTACT} fields"})
    checked: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            details.append(
                {
                    "field": f"customFields.{key}",
                    "message": "unknown custom field (define it with POST /api/v1/fields)",
                }
            )
            continue
        if value is None:
            checked[key] = None
            continue
        try:
            checked[key] = _check_value(value, definition)
        except ValueError as error:
            details.append({"field": f"customFields.{key}", "message": str(error)})
    if details:
        raise ValidationFailed(f"{details[0]['field']}: {details[0]['message']}", details)
    return checked


def check_salvaging(
    values: Mapping[str, Any], definitions: Mapping[str, FieldDefinition]
) -> tuple[dict[str, Any], tuple[dict[str, str], ...]]:
    """`check` that leaves out each refused custom field (a wrong type, an unknown select
    option, a malformed date, an undefined key) with a warning instead of failing."""
    remaining = dict(values)
    warnings: list[dict[str, str]] = []
    while True:
        try:
            return check(remaining, definitions), tuple(warnings)
        except ValidationFailed as error:
            dropped = False
            for detail in error.details:
                name = str(detail.get("field") or "")
                key = name.removeprefix("customFields.") if name.startswith("customFields.") else None
                keys = [key] if key in remaining else (list(remaining) if name == "customFields" else [])
                for each in keys:
                    reason = str(detail.get("message") or "refused")
                    warnings.append(left_out(f"customFields.{each}", remaining.pop(each), reason))
                    dropped = True
            if not dropped:
                raise


def _check_value(value: Any, definition: FieldDefinition) -> Any:
    kind = definition.fieldType
    if kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"must be text of at most {MAX_TEXT} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise ValueError(f"must be a finite number between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
        if value and abs(value) < MIN_MAGNITUDE:  # DynamoDB stores nothing closer to zero
            raise ValueError(f"must be 0 or at least {MIN_MAGNITUDE:.0e} away from it")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "date":
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError("must be a date YYYY-MM-DD")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None
        return value
    if kind == "select":
        options = list(definition.options or [])
        if value not in options:
            raise ValueError(f"must be one of {options}")
        return value
    if kind == "url":
        return _check_url(value)
    raise ValueError(f"has an unknown type {kind!r}")


def _check_url(value: Any) -> str:
    # cold start: heavy library, loaded on first use
    from pydantic import AnyHttpUrl, TypeAdapter
    from pydantic import ValidationError as PydanticError

    if not isinstance(value, str) or len(value) > MAX_URL:
        raise ValueError(f"must be an http(s) URL of at most {MAX_URL} characters")
    try:
        TypeAdapter(AnyHttpUrl).validate_python(value)
    except PydanticError:
        raise ValueError("must be an http(s) URL") from None
    return value
