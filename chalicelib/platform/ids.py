"""ULIDs: sortable by creation time, so a Query on an id-sorted key lists oldest first."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = {c: i for i, c in enumerate(_ALPHABET)}
BYTES = 16  # a ULID is 128 bits


def new_id(at_ms: int | None = None) -> str:
    """A 26-character Crockford base32 ULID: 48 bits of milliseconds, 80 random bits."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    return _text((ms << 80) | int.from_bytes(os.urandom(10), "big"))


def is_id(value: str) -> bool:
    return len(value) == 26 and all(c in _ALPHABET for c in value)


def to_bytes(value: str) -> bytes:
    """The 16 bytes of a ULID (for packed tokens); ValueError for what is not a ULID."""
    if not is_id(value):
        raise ValueError(f"{value!r} is not a ULID")
    number = 0
    for char in value:
        number = number * 32 + _DIGITS[char]
    if number >= 1 << (8 * BYTES):
        raise ValueError(f"{value!r} is not a ULID")
    return number.to_bytes(BYTES, "big")


def from_bytes(raw: bytes) -> str:
    """The ULID that `to_bytes` packed; ValueError for a short read."""
    if len(raw) != BYTES:
        raise ValueError("short id")
    return _text(int.from_bytes(raw, "big"))


def _text(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
