"""The confirmation link's token: what it says comes back whole; anything altered, cut,
signed with another key or minted for another purpose reads as nothing; expiry is 7 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.platform import confirm_tokens, link_tokens

WS, FORM, CONTACT = "01JAAAAAAAAAAAAAAAAAAAAAAA", "01JBBBBBBBBBBBBBBBBBBBBBBB", "01JCCCCCCCCCCCCCCCCCCCCCCC"
ISSUED = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_SECRET", "test-secret")


def test_a_token_reads_back_what_it_was_minted_with() -> None:
    token = confirm_tokens.mint(WS, FORM, CONTACT, ISSUED)
    found = confirm_tokens.read(token)
    assert found == confirm_tokens.Confirmation(WS, FORM, CONTACT, ISSUED)
    assert len(token) < 110 and token.isascii() and "=" not in token


def test_it_expires_after_seven_days() -> None:
    found = confirm_tokens.read(confirm_tokens.mint(WS, FORM, CONTACT, ISSUED))
    assert found is not None
    assert not found.expired(ISSUED + timedelta(days=7))
    assert found.expired(ISSUED + timedelta(days=7, seconds=1))


def test_another_key_or_another_kind_of_token_reads_as_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    token = confirm_tokens.mint(WS, FORM, CONTACT, ISSUED)
    monkeypatch.setenv("COHORT_SECRET", "another-secret")
    assert confirm_tokens.read(token) is None
    unsubscribe = link_tokens.mint(link_tokens.UNSUBSCRIBE, link_tokens.Target(WS, FORM, CONTACT, 1, CONTACT))
    assert confirm_tokens.read(unsubscribe) is None


@given(position=st.integers(min_value=0, max_value=200), char=st.sampled_from("AQgw09-_"))
def test_any_altered_character_reads_as_nothing(position: int, char: str) -> None:
    token = confirm_tokens.mint(WS, FORM, CONTACT, ISSUED)
    at = position % len(token)
    altered = token[:at] + char + token[at + 1 :]
    if altered != token:
        assert confirm_tokens.read(altered) is None
    assert confirm_tokens.read(token[:at]) is None


def test_the_last_characters_padding_bits_count() -> None:
    token = confirm_tokens.mint(WS, FORM, CONTACT, ISSUED)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    same_bits = [c for c in alphabet[last & ~3 : (last & ~3) + 4] if c != token[-1]]
    assert all(confirm_tokens.read(token[:-1] + c) is None for c in same_bits)
