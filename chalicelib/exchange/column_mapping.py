"""Which CSV column feeds which contact field, and what a row's cells make of a contact.

Headers are matched once the case, accents, spaces and punctuation are gone ("E-mail",
"Adresse e-mail", "COURRIEL" all mean email), in English and French. A header no standard
name matches is tried against the workspace's custom fields, by key then by label; what is
still unmatched is reported as ignored. An explicit `mapping` ({"csv header": "field"})
overrides all of it; its field is a standard field, a custom field's key (or
"customFields.<key>"), or "ignore".

Several columns may feed one field (Phone and Mobile): the first non-empty cell wins; tags
of every tags column are merged. `fullName` ("Name", "Nom complet") is split into first and
last name when the row has neither.

Custom field cells are text; `cell_value` turns them into the field's type where the text
is unambiguous (numbers with a comma or a point as decimal mark, oui/non/yes/no/true/false,
dates as YYYY-MM-DD or DD/MM/YYYY, select options whatever their case). What cannot be read
is passed on as it is, so the contact rules reject the row with the field's own message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.contacts.identity import fold

STANDARD_FIELDS = (
    "email",
    "phone",
    "firstName",
    "lastName",
    "fullName",
    "company",
    "title",
    "tags",
    "status",
    "pipelineStage",
)
IGNORE = "ignore"
CUSTOM_PREFIX = "customFields."

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "mail",
        "email address",
        "e-mail address",
        "mail address",
        "courriel",
        "adresse e-mail",
        "adresse email",
        "adresse mail",
        "adresse courriel",
        "adresse électronique",
        "email professionnel",
        "work email",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "téléphone",
        "numéro de téléphone",
        "tel",
        "tél",
        "mobile",
        "mobile phone",
        "mobile number",
        "cell",
        "cell phone",
        "portable",
        "téléphone portable",
        "téléphone mobile",
        "gsm",
        "work phone",
    ),
    "firstName": ("first name", "firstname", "first", "given name", "prénom", "prenom"),
    "lastName": ("last name", "lastname", "last", "surname", "family name", "nom", "nom de famille"),
    "fullName": ("name", "full name", "contact name", "nom complet", "nom et prénom", "prénom et nom"),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "account name",
        "entreprise",
        "société",
        "raison sociale",
        "structure",
    ),
    "title": (
        "title",
        "job title",
        "job",
        "position",
        "role",
        "poste",
        "fonction",
        "intitulé de poste",
        "métier",
    ),
    "tags": ("tags", "tag", "labels", "label", "étiquettes", "étiquette", "mots clés", "mots-clés"),
    "status": ("status", "statut", "contact status"),
    "pipelineStage": ("pipeline stage", "stage", "étape", "étape du pipeline", "pipeline"),
}


def normalise(header: str) -> str:
    """ "Adresse E-mail " -> "adresseemail": case, accents, spaces and punctuation gone."""
    return re.sub(r"[\W_]+", "", fold(header))


_STANDARD = {normalise(name): target for target, names in _SYNONYMS.items() for name in names}


def standard_headers() -> frozenset[str]:
    """Every normalised header the importer reads as a standard field."""
    return frozenset(_STANDARD)


@dataclass(frozen=True)
class CustomField:
    """What mapping needs of a custom field definition."""

    key: str
    label: str
    type: str
    options: tuple[str, ...] = ()


@dataclass
class ColumnPlan:
    """The decision for every column of a header (by index), and the report of it."""

    header: list[str]
    targets: dict[int, str] = field(default_factory=dict)  # column -> field ("customFields.x" for custom)
    ignored: list[str] = field(default_factory=list)
    unmatched_mapping: list[str] = field(default_factory=list)  # mapping keys no column has

    def columns_for(self, target: str) -> list[int]:
        return [index for index, mapped in self.targets.items() if mapped == target]

    @property
    def has_identity(self) -> bool:
        return any(t in ("email", "phone") for t in self.targets.values())

    def report(self) -> dict[str, Any]:
        """What the API shows: {"mapped": {header: field}, "ignored": [...], "unmatchedMapping": [...]}."""
        return {
            "mapped": {_label(self.header, i): target for i, target in sorted(self.targets.items())},
            "ignored": list(self.ignored),
            "unmatchedMapping": list(self.unmatched_mapping),
        }


def _label(header: Sequence[str], index: int) -> str:
    name = header[index] if index < len(header) else ""
    return name or f"column {index + 1}"


def check_mapping(mapping: Mapping[str, str | None], custom_keys: set[str]) -> list[dict[str, str]]:
    """Problems of an explicit mapping, as validation details (empty: it is fine)."""
    details = []
    for header, target in mapping.items():
        if target is None or target == IGNORE or target in STANDARD_FIELDS:
            continue
        key = target.removeprefix(CUSTOM_PREFIX)
        if key not in custom_keys:
            details.append(
                {
                    "field": f"mapping.{header}",
                    "message": f"unknown field {target!r}: use one of {', '.join(STANDARD_FIELDS)}, "
                    "a custom field key, or 'ignore'",
                }
            )
    return details


def plan_columns(
    header: Sequence[str],
    custom_fields: Sequence[CustomField],
    mapping: Mapping[str, str | None] | None = None,
) -> ColumnPlan:
    """Decide every column of `header` (see the module docstring for the order of rules)."""
    plan = ColumnPlan(list(header))
    explicit = dict(mapping or {})
    by_exact = {name: target for name, target in explicit.items()}
    by_normal = {normalise(name): target for name, target in explicit.items()}
    used_keys: set[str] = set()
    custom_by_key = {normalise(f.key): f.key for f in custom_fields}
    custom_by_label = {normalise(f.label): f.key for f in custom_fields}
    custom_keys = {f.key for f in custom_fields}

    for index, name in enumerate(header):
        normal = normalise(name)
        if name in by_exact or (normal and normal in by_normal):
            target = by_exact[name] if name in by_exact else by_normal[normal]
            used_keys.update(k for k in explicit if k == name or normalise(k) == normal)
            if target is None or target == IGNORE:
                plan.ignored.append(_label(header, index))
                continue
            key = target.removeprefix(CUSTOM_PREFIX)
            plan.targets[index] = target if target in STANDARD_FIELDS else CUSTOM_PREFIX + key
            if target not in STANDARD_FIELDS and key not in custom_keys:
                del plan.targets[index]  # checked at creation; a field deleted since is ignored
                plan.ignored.append(_label(header, index))
            continue
        if not normal:
            continue  # an empty header: reported below if the column holds data
        if name.strip().startswith(CUSTOM_PREFIX) and name.strip().removeprefix(CUSTOM_PREFIX) in custom_keys:
            plan.targets[index] = name.strip()  # the export's own header for an ambiguous label
        elif normal in _STANDARD:
            plan.targets[index] = _STANDARD[normal]
        elif normal in custom_by_key:
            plan.targets[index] = CUSTOM_PREFIX + custom_by_key[normal]
        elif normal in custom_by_label:
            plan.targets[index] = CUSTOM_PREFIX + custom_by_label[normal]
        else:
            plan.ignored.append(_label(header, index))
    plan.unmatched_mapping = [name for name in explicit if name not in used_keys]
    return plan


def row_to_contact(
    cells: Sequence[str], plan: ColumnPlan, custom_fields: Mapping[str, CustomField]
) -> dict[str, Any]:
    """The API contact body (camelCase) that a row's cells say; empty cells say nothing."""
    values: dict[str, Any] = {}
    tags: list[str] = []
    custom: dict[str, Any] = {}
    for index, target in sorted(plan.targets.items()):
        cell = unescape(cells[index].strip()) if index < len(cells) else ""
        if not cell:
            continue
        if target == "tags":
            tags.extend(tag for tag in (part.strip() for part in re.split(r"[,;|]", cell)) if tag)
        elif target.startswith(CUSTOM_PREFIX):
            key = target.removeprefix(CUSTOM_PREFIX)
            if key not in custom and key in custom_fields:
                custom[key] = cell_value(cell, custom_fields[key])
        elif target in ("status", "pipelineStage"):
            values.setdefault(target, fold(cell).upper().replace(" ", "_"))
        else:
            values.setdefault(target, cell)
    full = values.pop("fullName", None)
    if full and not values.get("firstName") and not values.get("lastName"):
        first, _, last = full.partition(" ")
        values["firstName"] = first
        if last.strip():
            values["lastName"] = last.strip()
    if tags:
        values["tags"] = list(dict.fromkeys(tags))
    if custom:
        values["customFields"] = custom
    return values


def unescape(cell: str) -> str:
    """A cell as it was before an export made it spreadsheet-safe ("'+336..." -> "+336..."),
    so an exported file imports back unchanged."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r'":
        return cell[1:]
    return cell


_TRUE = {"true", "yes", "y", "oui", "o", "vrai", "1", "x"}
_FALSE = {"false", "no", "n", "non", "faux", "0"}


def cell_value(text: str, definition: CustomField) -> Any:
    """The cell as the custom field's type, or the text unchanged when it cannot be read."""
    kind = definition.type
    if kind == "number":
        return _number(text)
    if kind == "boolean":
        folded = fold(text)
        return True if folded in _TRUE else False if folded in _FALSE else text
    if kind == "date":
        return _date(text)
    if kind == "select":
        options = {fold(option): option for option in definition.options}
        return options.get(fold(text), text)
    return text


def _number(text: str) -> Any:
    compact = re.sub(r"[\s\u00a0\u202f']", "", text)
    if "," in compact and "." in compact:
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        compact = compact.replace(thousands, "").replace(decimal, ".")
    elif compact.count(",") == 1:
        compact = compact.replace(",", ".")  # French decimal comma
    elif compact.count(",") > 1:
        compact = compact.replace(",", "")
    try:
        number = float(compact)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text
    return (
        int(number) if number.is_integer() and "." not in compact and "e" not in compact.lower() else number
    )


def _date(text: str) -> Any:
    value = text.strip()
    iso = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$", value)
    european = re.match(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$", value)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3])).isoformat()
        if european:
            return date(int(european[3]), int(european[2]), int(european[1])).isoformat()
    except ValueError:
        return text
    return text
