"""Merge tags in subjects and bodies: `{{firstName}}`, `{{company}}`, `{{firstName|there}}`
(the text after `|` stands in when the contact has no value), `{{customFields.plan}}`."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

FIELDS = frozenset({"firstName", "lastName", "company", "title", "email", "phone"})
CUSTOM_PREFIX = "customFields."

_TAG = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.-]*)\s*(?:\|([^{}]*))?\}\}")


def problems(template: str) -> list[str]:
    """What is wrong with a template's merge tags (unknown field, unclosed tag), for a 422."""
    found = [f"unknown merge field {{{{{name}}}}}" for name in _names(template) if not _known(name)]
    if "{{" in _TAG.sub("", template):
        found.append("a merge tag is not closed or not well formed; write {{field}} or {{field|default}}")
    return found


def render(template: str, contact: Mapping[str, Any], *, context: str = "text") -> str:
    """The template with each tag replaced by the contact's value (or the default).

    context "html" escapes the contact's values (they are user data inside markup);
    "header" drops line breaks so a value cannot add a header line.
    """

    def replace(match: re.Match[str]) -> str:
        value = _value(contact, match.group(1))
        if value is None or value == "":
            return (match.group(2) or "").strip()
        text = str(value)
        if context == "html":
            return html.escape(text)
        if context == "header":
            return " ".join(text.split())
        return text

    return _TAG.sub(replace, template)


def _names(template: str) -> list[str]:
    return [match.group(1) for match in _TAG.finditer(template)]


def _known(name: str) -> bool:
    return name in FIELDS or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))


def _value(contact: Mapping[str, Any], name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        custom = contact.get("customFields") or {}
        return custom.get(name[len(CUSTOM_PREFIX) :]) if isinstance(custom, Mapping) else None
    return contact.get(name)
