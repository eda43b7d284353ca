"""CSV cells a spreadsheet will not run as formulas (OWASP's CSV injection advice): the one
copy of the rule for every CSV Cohort writes (exports, import and job error reports)."""

from __future__ import annotations

# A value starting with a quote gets one too, so that the importer, which removes the quote
# of an escaped value, gives back "'=x" and "'abc" as they were (exchange.column_mapping.unescape).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(value: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
