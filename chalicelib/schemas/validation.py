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
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    first = details[0]
    return ValidationFailed(f"{first['field']}: {first['message']}", details)
