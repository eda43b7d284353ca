"""Email and phone normalisation and search folding: properties that hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.contacts.identity import (
    IdentityError,
    fold,
    normalise_email,
    normalise_phone,
    search_tokens,
)

LOCAL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", min_size=1, max_size=20
)
LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12
)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = draw(LOCAL.filter(lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s))
    return f"{local}@{draw(LABEL)}.{draw(st.sampled_from(['com', 'fr', 'io', 'COM']))}"


@settings(max_examples=200, deadline=None)
@given(addresses(), st.sampled_from([str.upper, str.lower, str.title, lambda s: f"  {s} "]))
def test_an_email_normalises_the_same_whatever_its_case_or_spacing(address: str, variant) -> None:
    normal = normalise_email(address)
    assert normal == normal.lower() == normalise_email(variant(address))
    assert normalise_email(normal) == normal  # idempotent


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="@"), max_size=40))
def test_text_without_at_is_never_an_email(text: str) -> None:
    with pytest.raises(IdentityError):
        normalise_email(text)


@pytest.mark.parametrize("bad", ["a@", "@b.com", "a@b", "a b@c.com", "a@@b.com", "x" * 250 + "@b.com"])
def test_malformed_emails_are_refused(bad: str) -> None:
    with pytest.raises(IdentityError):
        normalise_email(bad)


FR_MOBILE = st.integers(min_value=0, max_value=9_999_999).map(lambda n: f"61{n:07d}")  # an allocated range


@settings(max_examples=200, deadline=None)
@given(FR_MOBILE, st.sampled_from(["0{d}", "+33{d}", "+33 {s}", "0{s}", "(0){d}", "0033{d}", "0{dots}"]))
def test_a_number_written_any_usual_way_gives_one_e164(digits: str, template: str) -> None:
    # GIVEN
    spaced = " ".join([digits[0], *(digits[i : i + 2] for i in range(1, 9, 2))])
    # WHEN
    written = template.format(d=digits, s=spaced, dots=spaced.replace(" ", "."))
    # THEN
    assert normalise_phone(written, "FR") == f"+33{digits}"
    # a number with its country code reads the same in any region
    assert normalise_phone(f"+33{digits}", "US") == f"+33{digits}"


@pytest.mark.parametrize("bad", ["letters", "06 12 ab 56 78", "123", "+", "", "0" * 41, "+33 1"])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(IdentityError):
        normalise_phone(bad, "FR")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_folding_is_idempotent_and_caseless(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert fold(text.casefold()) == folded


# Upper and lower case are one letter in the scripts names are written in here (not in all of
# Unicode: Turkish dotless i upper-cases to I).
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="latin-1", categories=["L", "Zs"]), max_size=30))
def test_folding_ignores_case_and_accents(text: str) -> None:
    assert fold(text.upper()) == fold(text.lower()) == fold(text)


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Élodie", "elodie"), ("ÉLOÏSE", "eloise"), ("  Jean   Dupont ", "jean dupont"), ("Straße", "strasse")],
)
def test_folding_examples(text: str, folded: str) -> None:
    assert fold(text) == folded


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=15), st.text(min_size=1, max_size=15), addresses())
def test_every_prefix_of_a_name_or_email_finds_a_token(first: str, last: str, email: str) -> None:
    tokens = search_tokens(email, first, last)
    for value in (fold(email), fold(f"{first} {last}"), fold(last)):
        for end in range(1, len(value) + 1):
            prefix = value[:end]
            if prefix.strip():
                assert any(token.startswith(prefix) for token in tokens), (prefix, tokens)
