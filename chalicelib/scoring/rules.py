"""Scoring rules: created, read, changed, deleted (API.md "Scoring"), and read back for the
stream as `Rule`s (one Query of the workspace's rules a batch).

A `matches` rule's filter is checked by the segments' checker (a 422 at `when.matches...`);
it may not name `score` (its own points would make it match and stop matching in turn) nor
`groups` (as rule groups, not yet). Ids an event rule names must be the workspace's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from chalicelib.models.campaigns import Campaign
from chalicelib.models.forms import Form
from chalicelib.models.groups import Group
from chalicelib.models.scoring import ScoringRule
from chalicelib.platform import clock, ids
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound, ValidationFailed
from chalicelib.platform.paged_query import cursor_page
from chalicelib.platform.streams import Batch
from chalicelib.schemas.filters import FieldCondition, FilterNode
from chalicelib.schemas.scoring import RuleCreate, RulePatch, RuleWhen, problem_of
from chalicelib.segments import rules as filters

_MEMO = "scoring.rules"
_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)
_REFUSED_FIELDS = {
    "score": "a matches rule cannot use score",
    "groups": "a matches rule cannot name groups yet",
}


@dataclass(frozen=True)
class Rule:
    """A rule as the stream and the jobs use it."""

    id: str
    points: int
    when: dict[str, Any]
    repeat: str
    max_per_contact: int | None
    expires_days: int | None
    active: bool
    checked: filters.Checked | None  # a matches rule's filter

    @property
    def event(self) -> str | None:
        value = self.when.get("event")
        return str(value) if value else None

    @property
    def limit(self) -> int | None:
        """How many times it may award one contact (None: no limit)."""
        return 1 if self.repeat == "once" else self.max_per_contact


def _rule(item: ScoringRule) -> Rule:
    when = json.loads(item.when)
    checked = None
    if "matches" in when:
        checked = filters.check(item.workspaceId, _NODE.validate_python(when["matches"]), path="when.matches")
    return Rule(
        id=item.id,
        points=int(item.points),
        when=when,
        repeat=item.repeat,
        max_per_contact=int(item.maxPerContact) if item.maxPerContact is not None else None,
        expires_days=int(item.expiresDays) if item.expiresDays is not None else None,
        active=bool(item.active),
        checked=checked,
    )


def active_rules(workspace_id: str, batch: Batch | None = None) -> list[Rule]:
    """The workspace's active rules: one Query (a batch's reactions share it)."""
    memo: dict[str, list[Rule]] = batch.data.setdefault(_MEMO, {}) if batch is not None else {}
    if workspace_id not in memo:
        found = ScoringRule.query(ScoringRule.partition(workspace_id))
        memo[workspace_id] = [_rule(r) for r in found if isinstance(r, ScoringRule) and r.active]
    return memo[workspace_id]


def rule(workspace_id: str, rule_id: str) -> Rule:
    return _rule(_get(workspace_id, rule_id))


# ---- the API ------------------------------------------------------------------------------


def _when_json(workspace_id: str, when: RuleWhen) -> str:
    """The rule's condition as stored, once checked against the workspace (422 at its path)."""
    if when.matches is not None:
        checked = filters.check(workspace_id, when.matches, path="when.matches")
        refused = [
            {"field": "when.matches", "message": _REFUSED_FIELDS[c.field]}
            for c in filters.conditions(checked.node)
            if isinstance(c, FieldCondition) and c.field in _REFUSED_FIELDS
        ]
        if refused:
            raise ValidationFailed(f"when.matches: {refused[0]['message']}", refused)
    else:
        _check_ids(workspace_id, when)
    return json.dumps(when.model_dump(by_alias=True, mode="json", exclude_none=True))


def _check_ids(workspace_id: str, when: RuleWhen) -> None:
    named: list[tuple[str, type[Item], tuple[str, str]]] = []
    if when.campaign_id:
        named.append(("when.campaignId", Campaign, Campaign.key(workspace_id, when.campaign_id)))
    if when.group_id:
        named.append(("when.groupId", Group, Group.key(workspace_id, when.group_id)))
    if when.form_id:  # forms are keyed by id alone (their public pages): the workspace is checked
        named.append(("when.formId", Form, Form.key(when.form_id)))
    problems = []
    for path, model, key in named:
        try:
            found = model.get(*key)
        except DoesNotExist:
            found = None
        if found is None or getattr(found, "workspaceId", workspace_id) != workspace_id:
            problems.append({"field": path, "message": "not found in this workspace"})
    if problems:
        raise ValidationFailed(f"{problems[0]['field']}: {problems[0]['message']}", problems)


def view(item: ScoringRule) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "points": int(item.points),
        "when": json.loads(item.when),
        "repeat": item.repeat,
        "maxPerContact": int(item.maxPerContact) if item.maxPerContact is not None else None,
        "expiresAfter": {"days": int(item.expiresDays)} if item.expiresDays is not None else None,
        "active": bool(item.active),
        "createdAt": item.createdAt,
        "updatedAt": item.updatedAt,
    }


def create(workspace_id: str, body: RuleCreate) -> dict[str, Any]:
    when = _when_json(workspace_id, body.when)
    now = clock.now_iso()
    rule_id = ids.new_id()
    item = ScoringRule(
        *ScoringRule.key(workspace_id, rule_id),
        id=rule_id,
        workspaceId=workspace_id,
        name=body.name,
        points=body.points,
        when=when,
        repeat=body.repeat,
        maxPerContact=body.max_per_contact,
        expiresDays=body.expires_after.days if body.expires_after else None,
        active=body.active,
        createdAt=now,
        updatedAt=now,
    )
    item.save(condition=ScoringRule.pk.does_not_exist())
    return view(item)


def _get(workspace_id: str, rule_id: str) -> ScoringRule:
    try:
        return ScoringRule.get(*ScoringRule.key(workspace_id, rule_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("no such scoring rule") from None


def get(workspace_id: str, rule_id: str) -> dict[str, Any]:
    return view(_get(workspace_id, rule_id))


def page(workspace_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    items, next_cursor = cursor_page(
        ScoringRule,
        ScoringRule.partition(workspace_id),
        scope=f"scoring-rules:{workspace_id}",
        limit=limit,
        cursor=cursor,
    )
    return {"items": [view(found) for found in items], "nextCursor": next_cursor}


def update(workspace_id: str, rule_id: str, patch: RulePatch) -> dict[str, Any]:
    """Awards already given keep their points; a changed rule reaches the past by a recompute."""
    item = _get(workspace_id, rule_id)
    read_at = item.updatedAt
    given = patch.model_fields_set
    when = patch.when if patch.when is not None else RuleWhen.model_validate(json.loads(item.when))
    points = patch.points if patch.points is not None else int(item.points)
    repeat = patch.repeat or item.repeat
    limit = (
        patch.max_per_contact
        if "max_per_contact" in given
        else (int(item.maxPerContact) if item.maxPerContact is not None else None)
    )
    if "repeat" in given and patch.repeat == "once" and "max_per_contact" not in given:
        limit = None  # once is at most one: a limit set for everyTime no longer applies
    problem = problem_of(repeat, limit, when.matches is not None)
    if problem:
        raise ValidationFailed(f"{problem[0]}: {problem[1]}", [{"field": problem[0], "message": problem[1]}])
    if patch.when is not None:
        item.when = _when_json(workspace_id, patch.when)
    if patch.name is not None:
        item.name = patch.name
    item.points = points
    item.repeat = repeat
    item.maxPerContact = limit
    if "expires_after" in given:
        item.expiresDays = patch.expires_after.days if patch.expires_after else None
    if patch.active is not None:
        item.active = patch.active
    item.updatedAt = clock.now_iso()
    try:
        item.save(condition=ScoringRule.updatedAt == read_at)
    except PutError as error:
        if is_conditional_failure(error):
            raise Conflict("the rule changed meanwhile; read it again") from None
        raise
    return view(item)


def delete(workspace_id: str, rule_id: str) -> None:
    """New events no longer score by it (chalicelib.scoring.recompute.delete_rule calls this,
    then withdraws the awards it gave)."""
    try:
        ScoringRule(*ScoringRule.key(workspace_id, rule_id)).delete(condition=ScoringRule.pk.exists())
    except DeleteError as error:
        if is_conditional_failure(error):
            raise NotFound("no such scoring rule") from None
        raise
