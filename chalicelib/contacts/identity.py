"""A contact's identity: its email (syntax-checked, lowercased) and phone (E.164), the keyed
hashes that remember an erased person, and the search tokens of its name and email.

email_validator and phonenumbers are imported inside the functions: they are heavy, and the
API's cold start only pays for them on the first request that needs them.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from chalicelib.platform import config

MAX_EMAIL = 254
MAX_TOKEN = 200


class IdentityError(ValueError):
    """The value is not a usable email or phone; the message says why, for the API's details."""


def normalise_email(value: str) -> str:
    """The lowercased address; IdentityError when its syntax is wrong. No DNS lookups."""
    # cold start: heavy library, loaded on first use
    from email_validator import EmailNotValidError, validate_email

    text = value.strip()
    if "@" not in text:
        raise IdentityError("is not an email address (no @)")
    if len(text) > MAX_EMAIL:
        raise IdentityError(f"is longer than {MAX_EMAIL} characters")
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise IdentityError(str(error)) from None
    return checked.normalized.lower()


def normalise_phone(value: str, region: str) -> str:
    """The number in E.164; a number without a country code is read in `region` (ISO 3166
    alpha-2, the workspace's default). IdentityError when it is not a valid number."""
    # cold start: heavy library, loaded on first use
    import phonenumbers

    text = value.strip()
    if not text or len(text) > 40:
        raise IdentityError("is not a phone number")
    if any(ch.isalpha() for ch in text):
        raise IdentityError("is not a phone number (it contains letters)")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise IdentityError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        if text.startswith("+"):  # its own country code: no region was involved
            raise IdentityError("is not a valid phone number")
        raise IdentityError(f"is not a valid phone number (read in the workspace's default region, {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def erased_digest(workspace_id: str, kind: str, value: str) -> str:
    """The keyed hash kept of an erased person's email or phone (`kind` "email" | "phone").

    Keyed (HMAC with the deployment secret) so the stored hashes cannot be reversed by
    hashing a list of known addresses; scoped to the workspace like everything else.
    """
    message = f"{workspace_id}\0{kind}\0{value}".encode()
    return hmac.new(config.secret(), message, hashlib.sha256).hexdigest()


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: NFKD, marks dropped, casefolded,
    whitespace collapsed. fold("  Élodie  DUPONT") == "elodie dupont"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # casefold can produce new decomposable characters (e.g. from ligatures): fold once more.
    folded = unicodedata.normalize("NFKD", plain.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(folded.split())


def search_tokens(email: str | None, first_name: str | None, last_name: str | None) -> set[str]:
    """The prefixes `q` is matched against: the email, "first last" (so "jean du" finds Jean
    Dupont) and the last name alone. A token that is a prefix of another is dropped: any `q`
    it would match, the longer one matches too."""
    full = " ".join(part for part in (first_name, last_name) if part)
    candidates = {fold(value)[:MAX_TOKEN] for value in (email, full, last_name) if value}
    candidates.discard("")
    return {t for t in candidates if not any(o != t and o.startswith(t) for o in candidates)}
