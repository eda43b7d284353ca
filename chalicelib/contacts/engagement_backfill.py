"""Rebuilding engagement facts from the timelines, for contacts whose events were recorded
before the facts were kept: a resumable job on the jobs queue, a page of a workspace's
contacts a message.

A page is one Query of the workspace's contacts (PAGE of them, keys only), one Query of each
one's timeline (the events' kind, time and campaign), then the facts' own writer
(chalicelib.contacts.engagement.record: one BatchGetItem, one conditional UpdateItem per
contact whose facts move). Times only move forward there, so the job may run beside the
stream, run twice or stop and start again: it never moves a fact back, and a second run
writes nothing. Started once per workspace by `start(workspace_id)`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.contacts import engagement
from chalicelib.models import keys
from chalicelib.models.activity import Activity
from chalicelib.models.contacts import Contact
from chalicelib.platform import config, queues
from chalicelib.platform.db import Item
from chalicelib.platform.logs import logger

KIND = "engagement.backfill"
PAGE = 100


def start(workspace_id: str) -> None:
    _send(workspace_id, None)


def _send(workspace_id: str, cursor: dict[str, Any] | None) -> None:
    message: dict[str, Any] = {"kind": KIND, "workspaceId": workspace_id}
    if cursor:
        message["cursor"] = cursor
    queues.send(config.jobs_queue_url(), [message])


def on_message(message: dict[str, Any], attempt: int = 1) -> None:
    """One page of contacts; a page run twice writes nothing more."""
    ws = str(message["workspaceId"])
    page = Item._get_connection().query(
        keys.workspace(ws),
        range_key_condition=Contact.sk.startswith("CONTACT#"),
        limit=PAGE,
        exclusive_start_key=message.get("cursor"),
        attributes_to_get=["pk", "sk"],
    )
    contact_ids = [str(raw["sk"]["S"])[len("CONTACT#") :] for raw in page.get("Items", [])]
    found = {cid: events for cid in contact_ids if (events := timeline_events(ws, cid))}
    written = engagement.record(ws, found)
    last = page.get("LastEvaluatedKey")
    if last:
        _send(ws, last)
    logger.info(
        "engagement backfill page",
        extra={"workspace_id": ws, "contacts": len(contact_ids), "written": written, "done": not last},
    )


def timeline_events(workspace_id: str, contact_id: str) -> list[engagement.Event]:
    """The contact's recorded events (every page of its timeline's partition)."""
    events = []
    for item in Activity.query(
        Activity.partition(workspace_id, contact_id),
        attributes_to_get=["pk", "sk", "type", "kind", "at", "campaignId"],
    ):
        event = engagement.EVENTS.get(str(item.kind))
        if event is not None and item.at:
            events.append(engagement.Event(event, item.campaignId, str(item.at)))
    return events
