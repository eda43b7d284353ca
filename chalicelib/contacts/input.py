"""A contact body as the domain uses it: validated, email and phone normalised, every problem
reported at once as a 422 naming its field."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.contacts.identity import IdentityError, normalise_email, normalise_phone
from chalicelib.models.contacts import PROFILE_FIELDS
from chalicelib.platform.errors import ValidationFailed
from chalicelib.schemas.contacts import ContactFields
from chalicelib.schemas.validation import validate

# The fields a body may set on a contact, as stored (camelCase); identity is handled apart.
WRITABLE = (*PROFILE_FIELDS, "status", "pipelineStage", "source", "consent")


def left_out(field: str, value: Any, reason: str) -> dict[str, str]:
    """A value of the input kept out of the contact, and why (an answer's `warnings`, an
    import report's warning lines)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return {"field": field, "value": text[:200], "reason": reason}


@dataclass
class ContactInput:
    """What a body says. `given` holds only the fields the body named (None: named as null)."""

    email: str | None
    phone: str | None
    given: dict[str, Any]
    custom_fields: dict[str, Any] | None
    tags: list[str] | None
    group_ids: list[str] = field(default_factory=list)
    cleared: tuple[str, ...] = ()  # customFields / tags named as null: a PATCH empties them

    def names(self, name: str) -> bool:
        return name in self.given


def parse(data: Any, model: type[ContactFields], region_of: Callable[[], str]) -> ContactInput:
    """Validate `data` (a camelCase dict) with `model`; `region_of()` gives the region a phone
    without a country code is read in (called only for such a phone)."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "the contact must be a JSON object", [{"field": "body", "message": "not an object"}]
        )
    body = validate(model, data)
    dumped = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    details: list[dict[str, str]] = []
    email = phone = None
    if body.email is not None:
        try:
            email = normalise_email(body.email)
        except IdentityError as error:
            details.append({"field": "email", "message": str(error)})
    if body.phone is not None:
        try:
            raw = body.phone
            phone = normalise_phone(raw, "ZZ" if raw.lstrip().startswith("+") else region_of())
        except IdentityError as error:
            details.append({"field": "phone", "message": str(error)})
    if details:
        raise ValidationFailed(f"{details[0]['field']}: {details[0]['message']}", details)
    given = {name: dumped[name] for name in WRITABLE if name in dumped}
    if "email" in dumped:
        given["email"] = email
    if "phone" in dumped:
        given["phone"] = phone
    group_ids = [*(dumped.get("groupIds") or []), *([dumped["groupId"]] if dumped.get("groupId") else [])]
    return ContactInput(
        email=email,
        phone=phone,
        given=given,
        custom_fields=dumped.get("customFields"),
        tags=dumped.get("tags"),
        group_ids=list(dict.fromkeys(group_ids)),
        cleared=tuple(name for name in ("customFields", "tags") if name in dumped and dumped[name] is None),
    )
