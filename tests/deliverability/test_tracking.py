"""Open pixel and click links: counted once per email, never an open redirect, and a token
that was forged, cut, altered or minted for another workspace is a 404 that changes nothing."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.deliverability import tracking
from chalicelib.models.campaigns import CampaignGroupStats
from chalicelib.models.groups import GroupEngagement
from chalicelib.platform import ids, link_tokens
from chalicelib.platform.link_tokens import Target
from tests.support.db import table


def sent_email(ws: str, group_id: str | None = None) -> Target:
    """A recorded email (what the step runner records before sending)."""
    target = Target(ws, ids.new_id(), ids.new_id(), 1, ids.new_id(), group_id or ids.new_id())
    tracking.record_sent(target, f"<{ids.new_id()}@cohort.local>", "Hello")
    return target


def counters(target: Target) -> tuple[dict, dict]:
    assert target.group_id
    stats = CampaignGroupStats.get(
        *CampaignGroupStats.key(target.workspace_id, target.campaign_id, target.group_id)
    )
    group = GroupEngagement.get(*GroupEngagement.key(target.workspace_id, target.group_id))
    return stats.attribute_values, group.attribute_values


@pytest.fixture
def ws(api) -> str:
    return api.get("/api/v1/workspace").json["id"]


def test_the_pixel_is_a_gif_and_counts_one_open_however_often_it_loads(api, ws) -> None:
    target = sent_email(ws)
    token = link_tokens.mint(link_tokens.OPEN, target)
    # What mail clients and image proxies send: a browser's list, image/* only, no Accept.
    accepts = ["image/avif,image/webp,*/*", "image/*", None]
    replies = [api.get(f"/t/o/{token}", headers={"Authorization": "", "Accept": a}) for a in accepts]
    assert {r.status for r in replies} == {200}
    assert {r.body for r in replies} == {replies[0].body}
    assert replies[0].headers["Content-Type"] == "image/gif"
    assert replies[0].body.startswith(b"GIF89a")
    assert "no-store" in replies[0].headers["Cache-Control"]
    stats, group = counters(target)
    assert (stats["opened"], group["opened"]) == (1, 1)
    assert stats["groupId"] == target.group_id
    timeline = api.get(f"/api/v1/contacts/{target.contact_id}/activity").json["items"]
    assert [item["type"] for item in timeline].count("opened") == 1


def test_a_click_redirects_to_the_signed_url_and_counts_once_per_email(api, ws) -> None:
    target = sent_email(ws)
    first = link_tokens.mint(link_tokens.CLICK, target, "https://example.com/a?x=1&y=2")
    second = link_tokens.mint(link_tokens.CLICK, target, "https://example.com/b")
    accented = link_tokens.mint(link_tokens.CLICK, target, "https://example.com/café?q=été à&r=%20")
    answers = [api.get(f"/t/c/{token}") for token in (first, first, second, accented)]
    assert [a.status for a in answers] == [302, 302, 302, 302]
    assert [a.headers["Location"] for a in answers] == [
        "https://example.com/a?x=1&y=2",
        "https://example.com/a?x=1&y=2",
        "https://example.com/b",
        "https://example.com/caf%C3%A9?q=%C3%A9t%C3%A9%20%C3%A0&r=%20",  # headers are ASCII
    ]
    stats, group = counters(target)
    assert (stats["clicked"], group["clicked"]) == (1, 1)
    assert stats.get("opened", 0) == 0


def test_the_redirect_ignores_anything_the_request_adds(api, ws) -> None:
    token = link_tokens.mint(link_tokens.CLICK, sent_email(ws), "https://example.com/")
    reply = api.get(f"/t/c/{token}?url=https://evil.example/&next=https://evil.example/")
    assert reply.headers["Location"] == "https://example.com/"


def test_one_dynamodb_request_per_open_and_per_click_counters_included(api, ws, requests) -> None:
    target = sent_email(ws)
    for path in (
        f"/t/o/{link_tokens.mint('o', target)}",
        f"/t/c/{link_tokens.mint('c', target, 'https://x.io')}",
    ):
        requests.reset()
        assert api.get(path, headers={"Accept": "*/*"}).status in (200, 302)
        assert requests.total("dynamodb") <= 3
        assert requests.snapshot() == {"dynamodb.TransactWriteItems": 1}


def altered(token: str) -> list[str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    flipped = [
        bytes([*raw[:i], raw[i] ^ 1, *raw[i + 1 :]]) for i in (0, 1, 5, 40, len(raw) - 20, len(raw) - 1)
    ]
    encoded = [base64.urlsafe_b64encode(b).decode().rstrip("=") for b in flipped]
    return [*encoded, token[:-1], token[:20], token + "A", "", "x", "%00", "A" * 200]


def test_forged_cut_or_altered_tokens_are_404_and_change_nothing(api, ws, aws) -> None:
    target = sent_email(ws)
    before = table(aws)
    for kind, route in (("o", "/t/o/"), ("c", "/t/c/")):
        token = link_tokens.mint(kind, target, "https://example.com/" if kind == "c" else None)
        for bad in altered(token):
            if not bad or bad == "%00":
                continue
            reply = api.get(route + bad)
            assert reply.status == 404, (kind, bad)
            assert reply.error_code == "not_found"
    # An open token is not a click token, nor the reverse.
    assert api.get("/t/c/" + link_tokens.mint("o", target)).status == 404
    assert api.get("/t/o/" + link_tokens.mint("c", target, "https://e.com")).status == 404
    assert table(aws) == before


def test_a_token_signed_for_another_workspace_or_a_gone_email_is_404(api, ws, new_workspace, aws) -> None:
    target = sent_email(ws)
    other = new_workspace(name="Other").get("/api/v1/workspace").json["id"]
    # Validly signed, but naming the other workspace with this one's campaign and contact.
    moved = Target(other, target.campaign_id, target.contact_id, 1, target.step_id, target.group_id)
    never_sent = Target(ws, target.campaign_id, target.contact_id, 1, ids.new_id(), target.group_id)
    before = table(aws)
    for wrong in (moved, never_sent):
        assert api.get("/t/o/" + link_tokens.mint("o", wrong)).status == 404
        assert api.get("/t/c/" + link_tokens.mint("c", wrong, "https://e.com")).status == 404
    assert table(aws) == before


def test_a_token_signed_with_another_secret_is_404(api, ws, monkeypatch) -> None:
    # GIVEN
    target = sent_email(ws)
    monkeypatch.setenv("COHORT_SECRET", "another-deployment-secret")
    token = link_tokens.mint("o", target)
    # WHEN
    monkeypatch.undo()
    # THEN
    assert api.get("/t/o/" + token).status == 404


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_no_change_of_a_token_reads_as_valid(aws, data) -> None:
    # GIVEN
    target = Target(ids.new_id(), ids.new_id(), ids.new_id(), 3, ids.new_id(), None)
    token = link_tokens.mint("c", target, "https://example.com/path")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    # WHEN
    changed = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    # THEN
    assert link_tokens.read(changed, "c") is None
    assert link_tokens.read(token, "c") == link_tokens.Link("c", target, "https://example.com/path")


def test_tokens_are_compact_and_url_safe(aws) -> None:
    target = Target(ids.new_id(), ids.new_id(), ids.new_id(), 1, ids.new_id(), ids.new_id())
    token = link_tokens.mint("u", target)
    assert len(token) <= 140
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    with pytest.raises(ValueError):
        link_tokens.mint("o", Target("not-an-id", ids.new_id(), ids.new_id(), 1, ids.new_id()))
