"""A filter on contacts as JSON (API.md "Segments"): a tree of `all`/`any`/`not` nodes whose
leaves are field conditions or engagement conditions. One discriminated union, the node's
kind read from its one key, so a wrong node is reported at its own path.

Only the shape is checked here; what a field is, which operators fit its type and which
values fit an operator are chalicelib.segments.rules' (they need the workspace's custom
field definitions).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictBool, Tag, model_validator

from chalicelib.schemas.common import ApiModel, Page
from chalicelib.schemas.contacts import MAX_TAGS_PER_CONTACT, ContactStatus, ContactView, PipelineStage
from chalicelib.schemas.contacts import Tag as TagValue

# The tags of the union; schemas.validation leaves them out of an error's path.
TAG_MARK = "·"
ENGAGEMENT_EVENTS = ("sent", "opened", "clicked", "replied", "bounced", "unsubscribed")


# A span back from now is at most 100 years: a date field's withinLast shares the bound, so
# now minus the span stays a date.
MAX_SPAN = {"days": 36500, "hours": 876000}


class Duration(ApiModel):
    """`{"days": n}` or `{"hours": n}`: a span back from now."""

    days: int | None = Field(default=None, ge=1, le=MAX_SPAN["days"])
    hours: int | None = Field(default=None, ge=1, le=MAX_SPAN["hours"])

    @model_validator(mode="after")
    def _one_unit(self) -> Duration:
        if (self.days is None) == (self.hours is None):
            raise ValueError("give exactly one of days or hours")
        return self

    def seconds(self) -> int:
        return (self.days or 0) * 86400 + (self.hours or 0) * 3600


class FieldCondition(ApiModel):
    field: str = Field(min_length=1, max_length=200)
    op: str = Field(min_length=1, max_length=40)
    value: Any = None


class EngagementCondition(ApiModel):
    event: Literal["sent", "opened", "clicked", "replied", "bounced", "unsubscribed"]
    campaign_id: str | None = Field(default=None, min_length=1, max_length=26)
    within_last: Duration | None = None
    negate: StrictBool = False  # 0 or "yes" is a 422, as the document says


class AllNode(ApiModel):
    all: list[FilterNode] = Field(min_length=1)


class AnyNode(ApiModel):
    any_: list[FilterNode] = Field(alias="any", min_length=1)


class NotNode(ApiModel):
    not_: FilterNode = Field(alias="not")


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not", "field", "event"):
            if key in value:
                return TAG_MARK + key
    elif isinstance(value, AllNode | AnyNode | NotNode | FieldCondition | EngagementCondition):
        return (
            TAG_MARK
            + {
                AllNode: "all",
                AnyNode: "any",
                NotNode: "not",
                FieldCondition: "field",
                EngagementCondition: "event",
            }[type(value)]
        )
    return None


FilterNode = Annotated[
    Annotated[AllNode, Tag(TAG_MARK + "all")]
    | Annotated[AnyNode, Tag(TAG_MARK + "any")]
    | Annotated[NotNode, Tag(TAG_MARK + "not")]
    | Annotated[FieldCondition, Tag(TAG_MARK + "field")]
    | Annotated[EngagementCondition, Tag(TAG_MARK + "event")],
    Discriminator(
        _kind,
        custom_error_type="node_kind",
        custom_error_message="a node is {all}, {any}, {not}, a field condition or an engagement condition",
    ),
]

for _model in (AllNode, AnyNode, NotNode):
    _model.model_rebuild()


class SearchBody(ApiModel):
    filter: FilterNode
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000)


class CountBody(ApiModel):
    filter: FilterNode


class ExportBody(ApiModel):
    filter: FilterNode


BulkAction = Literal[
    "addTags",
    "removeTags",
    "setFields",
    "setStatus",
    "setPipelineStage",
    "addToGroup",
    "removeFromGroup",
    "addToCampaign",
    "delete",
]


class BulkBody(ApiModel):
    """POST /contacts/bulk: one model for every action; what each needs is checked by
    chalicelib.flows.contact_bulk (422 naming the missing or wrong argument)."""

    filter: FilterNode
    action: BulkAction
    tags: list[TagValue] | None = Field(default=None, min_length=1, max_length=MAX_TAGS_PER_CONTACT)
    # setFields: a contact patch's profile fields and customFields (null clears a field)
    fields: dict[str, Any] | None = None
    status: ContactStatus | None = None
    pipeline_stage: PipelineStage | None = None
    group_id: str | None = Field(default=None, max_length=64)
    campaign_id: str | None = Field(default=None, max_length=64)
    confirm: bool | None = None


class SearchPage(Page[ContactView]):
    scanned: int | None = None  # items read through the filter to make this page


class CountAnswer(ApiModel):
    count: int
    exact: bool
