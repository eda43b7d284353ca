"""What every campaign email carries: unsubscribe link and headers (RFC 8058), Message-ID,
open pixel (HTML only), and click-tracked http(s) links that lead back to the same URL."""

from __future__ import annotations

import email
import email.policy
import re
from urllib.parse import unquote, urlparse

from chalicelib.deliverability import email_links, tracking
from chalicelib.platform import ids, link_tokens, mailer
from chalicelib.platform.link_tokens import Target

BASE = "http://127.0.0.1:8000"
HTML = """<html><body><p>Hi! See <a class="btn" href="https://shop.example/p?a=1&amp;b=2">our offer</a>,
<a href='HTTP://EXAMPLE.COM/x'>this</a>, <a href=https://bare.example/y>that</a>,
<a href="mailto:sales@example.com">mail us</a>, <a href="#top">top</a>, <a href="tel:+331">call</a>.</p>
</body></html>"""
TEXT = (
    "Visit https://shop.example/p?a=1&b=2. Or (https://example.com/docs), mailto:x@y.z and ftp://old.example"
)


def target() -> Target:
    return Target(ids.new_id(), ids.new_id(), ids.new_id(), 1, ids.new_id(), ids.new_id())


def compose(html: str | None = HTML, text: str = TEXT) -> mailer.Email:
    return mailer.Email(sender="news@cohort.local", to="jane@example.com", subject="Hi", text=text, html=html)


def decorated(html: str | None = HTML, text: str = TEXT) -> tuple[email_links.Decorated, Target]:
    where = target()
    return email_links.decorate(compose(html, text), where), where


def clicks(body: str) -> list[str]:
    """The URLs the click links of a body lead to (read from their tokens)."""
    found = []
    for token in re.findall(r"/t/c/([A-Za-z0-9_-]+)", body):
        link = link_tokens.read(token, "c")
        assert link is not None
        found.append(link.url)
    return found


def test_http_links_of_both_bodies_are_tracked_and_others_left_alone(aws, monkeypatch) -> None:
    # GIVEN
    monkeypatch.setenv("COHORT_PUBLIC_BASE_URL", BASE)
    # WHEN
    out, _ = decorated()
    # THEN
    assert clicks(out.email.html or "") == [
        "https://shop.example/p?a=1&b=2",
        "HTTP://EXAMPLE.COM/x",
        "https://bare.example/y",
    ]
    assert 'href="mailto:sales@example.com"' in (out.email.html or "")
    assert 'href="#top"' in (out.email.html or "") and 'href="tel:+331"' in (out.email.html or "")
    assert 'class="btn" href="' + BASE + "/t/c/" in (out.email.html or "")
    assert clicks(out.email.text) == ["https://shop.example/p?a=1&b=2", "https://example.com/docs"]
    assert "(" + BASE + "/t/c/" in out.email.text and "mailto:x@y.z" in out.email.text
    assert "ftp://old.example" in out.email.text


def test_the_html_gets_a_pixel_and_an_unsubscribe_link_before_its_end(aws, monkeypatch) -> None:
    monkeypatch.setenv("COHORT_PUBLIC_BASE_URL", BASE)
    out, where = decorated()
    body = out.email.html or ""
    pixel = re.search(r'<img src="' + re.escape(BASE) + r'/t/o/([A-Za-z0-9_-]+)" width="1" height="1"', body)
    assert pixel and link_tokens.read(pixel.group(1), "o") == link_tokens.Link("o", where)
    assert body.rstrip().endswith("</body></html>")
    assert re.search(r'<a href="' + re.escape(BASE) + r'/u/[A-Za-z0-9_-]+">Unsubscribe</a>', body)
    text_only, _ = decorated(html=None)
    assert text_only.email.html is None
    assert "/t/o/" not in text_only.email.text
    assert re.search(r"Unsubscribe: " + re.escape(BASE) + r"/u/[A-Za-z0-9_-]+\n$", text_only.email.text)


def test_the_headers_offer_one_click_unsubscribe_and_our_message_id(aws, monkeypatch) -> None:
    monkeypatch.setenv("COHORT_PUBLIC_BASE_URL", BASE)
    out, where = decorated()
    parsed = email.message_from_bytes(mailer.build(out.email), policy=email.policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", str(parsed["List-Unsubscribe"]))
    assert https.startswith(BASE + "/u/")
    assert link_tokens.read(https.rsplit("/", 1)[1], "u") == link_tokens.Link("u", where)
    address = urlparse(mailto)
    assert (address.scheme, address.path) == ("mailto", "unsubscribe@cohort.local")
    assert unquote(address.query) == "subject=unsubscribe " + https.rsplit("/", 1)[1]
    assert parsed["Message-ID"] == out.message_id and out.message_id.endswith("@cohort.local>")
    monkeypatch.setenv("COHORT_UNSUBSCRIBE_MAILTO", "leave@in.cohort.example")
    again, _ = decorated()
    assert "<mailto:leave@in.cohort.example?subject=" in again.email.headers["List-Unsubscribe"]


def test_a_tracked_link_redirects_to_exactly_the_url_of_the_email(api) -> None:
    ws = api.get("/api/v1/workspace").json["id"]
    mine = Target(ws, ids.new_id(), ids.new_id(), 1, ids.new_id(), ids.new_id())
    out = email_links.decorate(compose(), mine)
    tracking.record_sent(mine, out.message_id, "Hi")
    tokens = re.findall(r"/t/c/([A-Za-z0-9_-]+)", out.email.html or "")
    locations = [api.get(f"/t/c/{token}").headers["Location"] for token in tokens]
    assert locations == ["https://shop.example/p?a=1&b=2", "HTTP://EXAMPLE.COM/x", "https://bare.example/y"]


def test_a_url_too_long_to_sign_stays_as_it_was(aws) -> None:
    # GIVEN
    long_url = "https://example.com/" + "a" * 3000
    # WHEN
    out, _ = decorated(html=f'<a href="{long_url}">x</a>', text=long_url)
    # THEN
    assert long_url in (out.email.html or "") and long_url in out.email.text
