"""Builders for scoring tests: rules, a contact's score, events delivered by hand."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api


def new_rule(api: Api, when: dict[str, Any], points: int = 10, **fields: Any) -> str:
    reply = api.post(
        "/api/v1/scoring/rules", {"name": f"rule {when}", "points": points, "when": when, **fields}
    )
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def score_of(api: Api, contact_id: str) -> int:
    """The score as the contact's own view shows it, checked against the score route."""
    shown = api.get(f"/api/v1/contacts/{contact_id}").json["score"]
    detail = api.get(f"/api/v1/contacts/{contact_id}/score").json
    assert detail["score"] == shown
    return int(shown)


def new_contact(api: Api, email: str, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": email, **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def tag(api: Api, contact_id: str, *tags: str) -> None:
    """Add tags (keeping the contact's others): each added tag is one tagAdded event."""
    have = api.get(f"/api/v1/contacts/{contact_id}").json["tags"]
    reply = api.patch(f"/api/v1/contacts/{contact_id}", {"tags": [*have, *tags]})
    assert reply.status == 200, reply.json


def untag(api: Api, contact_id: str) -> None:
    assert api.patch(f"/api/v1/contacts/{contact_id}", {"tags": []}).status == 200


def opened(workspace_id: str, contact_id: str, campaign_id: str, step: str = "s1") -> Any:
    """An `opened` event of one email, recorded as tracking records it (an Activity item)."""
    from chalicelib.contacts import activity

    return activity.item(
        workspace_id,
        contact_id,
        activity.OPENED,
        activity.per_email_sk(activity.OPENED, campaign_id, 1, step),
        campaignId=campaign_id,
        stepId=step,
    )


def redeliver(found: Any) -> dict[str, Any]:
    """The stream's INSERT record of an item, delivered again to the stream handler."""
    from boto3.dynamodb.types import TypeDeserializer

    from app import table_changes
    from tests.support.events import LambdaContext, batch, make_stream_record

    plain = TypeDeserializer().deserialize
    image = {name: plain(value) for name, value in found.serialize().items()}
    keys = {"pk": image["pk"], "sk": image["sk"]}
    event = batch([make_stream_record("INSERT", keys, new=image)])
    return dict(table_changes(event, LambdaContext("cohort-local-table_changes")))
