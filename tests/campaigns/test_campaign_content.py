"""What an email says: merge tags and their defaults, escaping, the MIME that goes to SES,
and where an enrollment stands in edited steps."""

from __future__ import annotations

import email
import email.policy

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.campaigns import steps as campaign_steps
from chalicelib.models.campaigns import StepMap
from chalicelib.platform import mailer
from chalicelib.schemas import templates

CONTACT = {"firstName": "Ada", "company": "Analytical <Engines>", "customFields": {"plan": "pro"}}


def test_tags_take_the_contact_value_or_the_default() -> None:
    assert templates.render("Hi {{firstName}}", CONTACT) == "Hi Ada"
    assert templates.render("Hi {{ firstName | there }}", {}) == "Hi there"
    assert templates.render("Hi {{firstName|there}}", {"firstName": ""}) == "Hi there"
    assert templates.render("At {{company}}.", {}) == "At ."
    assert templates.render("{{customFields.plan|free}} {{customFields.seats|1}}", CONTACT) == "pro 1"


def test_html_escapes_contact_values_and_headers_lose_line_breaks() -> None:
    assert (
        templates.render("<b>{{company}}</b>", CONTACT, context="html") == "<b>Analytical &lt;Engines&gt;</b>"
    )
    injected = {"firstName": "Ada\r\nBcc: everyone@example.com"}
    assert (
        templates.render("Hi {{firstName}}", injected, context="header") == "Hi Ada Bcc: everyone@example.com"
    )


def test_unknown_fields_and_broken_tags_are_reported() -> None:
    assert templates.problems("Hi {{firstName|there}} at {{company}}") == []
    assert templates.problems("{{nickname}}") == ["unknown merge field {{nickname}}"]
    assert len(templates.problems("Hi {{firstName")) == 1
    assert templates.problems("{{customFields.}}")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_the_message_is_7_bit_whatever_the_text(text: str) -> None:
    raw = mailer.build(
        mailer.Email(
            sender="news@example.com",
            to="ada@example.com",
            subject=f"Re: {text[:50]}",
            text=text or "x",
            html=f"<p>{text}</p>",
            headers={"List-Unsubscribe": "<https://example.com/u/abc>"},
        )
    )
    assert all(byte < 128 for byte in raw)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == "<https://example.com/u/abc>"
    body = parsed.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").rstrip("\n") == (text or "x").replace(
        "\r\n", "\n"
    ).replace("\r", "\n").rstrip("\n")


def steps(*kinds: str) -> list[StepMap]:
    return [
        StepMap(id=f"s{i}", type="email", subject="s", bodyText="b")
        if kind == "email"
        else StepMap(id=f"s{i}", type="wait", unit=kind, amount=2)
        for i, kind in enumerate(kinds)
    ]


def test_waits_before_the_next_email_add_up() -> None:
    plan = steps("email", "minutes", "hours", "email", "days")
    first = campaign_steps.next_email(plan, 0)
    assert first is not None and (first.index, first.wait) == (0, 0)
    second = campaign_steps.next_email(plan, 1)
    assert second is not None and (second.index, second.wait) == (3, 2 * 60 + 2 * 3600)
    assert campaign_steps.next_email(plan, 4) is None  # only a wait is left: done


def test_an_enrollment_finds_its_step_by_id_after_an_edit() -> None:
    before = steps("email", "minutes", "email")
    after = [StepMap(id="new", type="email", subject="s", bodyText="b"), *before]
    assert campaign_steps.position(after, "s2", 2) == 3  # moved by the insertion
    assert campaign_steps.position(after, "gone", 2) == 2  # removed: same place
    assert campaign_steps.position(after, campaign_steps.START, 0) == 0
