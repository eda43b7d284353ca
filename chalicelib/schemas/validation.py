"""Checking a value against a schema: pydantic's errors turned into one 422 naming each field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.platform.errors import ValidationFailed

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound="BaseModel")


def validate(model: type[ModelT], data: Any) -> ModelT:
    from pydantic import ValidationError  # cold start: pydantic loads with the first body

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_failed(error) from None


def validation_failed(error: ValidationError) -> ValidationFailed:
    details = [
        {"field": path(item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    first = details[0]
    return ValidationFailed(f"{first['field']}: {first['message']}", details)


# A discriminated union's tags start with this (chalicelib.schemas.filters): not a field.
_TAG_MARK = "·"


def path(loc: tuple[int | str, ...]) -> str:
    """A field's path as the API names it: `steps.0.subject`, and inside a filter tree
    `filter.all[1].any[0].op` (the union's tags left out)."""
    text = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, str) and part.startswith(_TAG_MARK):
            continue
        if isinstance(part, int) and previous in ("all", "any"):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
        previous = part
    return text
