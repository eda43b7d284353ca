"""Bodies of /api/v1/fields: custom field definitions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from chalicelib.schemas.common import ApiModel, Page


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    SELECT = "select"
    URL = "url"


class FieldCreate(ApiModel):
    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$", description="letters, digits, _; 1-40")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    options: list[str] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _options_match_type(self) -> FieldCreate:
        if self.type is FieldType.SELECT:
            if not self.options:
                raise ValueError("options: a select field needs a list of options")
            if any(not option.strip() or len(option) > 100 for option in self.options):
                raise ValueError("options: each option is 1 to 100 characters")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options: options must be unique")
        elif self.options is not None:
            raise ValueError("options: only a select field has options")
        return self


class FieldView(ApiModel):
    key: str
    label: str
    type: FieldType
    options: list[str] | None = None
    created_at: str


class FieldPage(Page[FieldView]):
    pass
