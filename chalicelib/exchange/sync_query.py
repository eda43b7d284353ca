"""Checking a sync's query before it is stored: one SELECT, nothing else.

This is the first of three locks (docs/sync.md): the run also wraps the query as a subquery
(`SELECT * FROM (<query>) AS cohort_sync ...`, where a second statement or a data-modifying
one is a syntax error) and reads in a READ ONLY transaction. The check reads the query as the
engine would: strings, quoted names and comments are set aside (a `;` or a keyword inside
them says nothing), then what is left must be one statement starting with SELECT (or WITH),
with no keyword that writes or locks, and no `INTO`.
"""

from __future__ import annotations

import re

MAX_QUERY_CHARS = 20_000

# What makes a statement that starts with SELECT or WITH write or lock (outside strings and
# comments): SELECT ... INTO, a WITH holding an INSERT/UPDATE/DELETE (PostgreSQL), FOR UPDATE,
# FOR SHARE, LOCK IN SHARE MODE. Functions that write are refused by the READ ONLY transaction.
_FORBIDDEN_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|INTO|LOCK|SHARE)\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"^\s*\(*\s*([A-Za-z]+)")


class QueryRefused(ValueError):
    """Not a single SELECT; the message says why, for the person who wrote it."""


def check(query: str, engine: str) -> str:
    """The query without a trailing `;`, or QueryRefused."""
    text = query.strip()
    if not text:
        raise QueryRefused("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_QUERY_CHARS} characters")
    code = _code_only(text, engine)
    body = code.rstrip().rstrip(";").rstrip()
    if ";" in body:
        raise QueryRefused("only one statement is allowed: remove the `;` and what follows it")
    first = _FIRST_WORD.match(body)
    if not first or first[1].upper() not in ("SELECT", "WITH"):
        raise QueryRefused("only a SELECT is allowed (the sync reads your database, it never writes to it)")
    forbidden = _FORBIDDEN_WORD.search(body)
    if forbidden:
        word = forbidden[1].upper()
        if word == "INTO":
            raise QueryRefused("SELECT ... INTO writes a table or a file: only a plain SELECT is allowed")
        raise QueryRefused(f"{word} is not allowed: the sync runs a plain SELECT, reading without locks")
    # Keep the text as written (strings and all); only the trailing `;` goes.
    trailing = len(code) - len(code.rstrip().rstrip(";").rstrip())
    return text[: len(text) - trailing] if trailing else text


def _code_only(text: str, engine: str) -> str:
    """The query with strings, quoted names and comments blanked (same length), so what is left
    is what the engine executes as keywords. Raises QueryRefused on an unterminated one, and on
    MySQL's executable comments (`/*! ... */` runs its content)."""
    mysql = engine == "mysql"
    out = list(text)
    i, n = 0, len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] not in "\n":
                out[k] = " "

    while i < n:
        ch = text[i]
        two = text[i : i + 2]
        if two == "/*":
            if mysql and text[i + 2 : i + 3] == "!":
                raise QueryRefused("MySQL executable comments (/*! ... */) are not allowed")
            end = text.find("*/", i + 2)
            if end < 0:
                raise QueryRefused("a /* comment is never closed")
            blank(i, end + 2)
            i = end + 2
        elif (two == "--" and (not mysql or i + 2 >= n or text[i + 2] in " \t\r\n")) or (ch == "#" and mysql):
            # MySQL's `--` is a comment only before a space (`1 --1` is 1 - -1); `#` is one
            # in MySQL only (an operator in PostgreSQL).
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif ch in "'\"" or (ch == "`" and mysql):
            # MySQL strings take backslash escapes; PostgreSQL's only in E'...' strings.
            escape = ch != "`" and (mysql or (ch == "'" and i > 0 and text[i - 1] in "eE"))
            end = _closing(text, i, ch, backslash=escape)
            blank(i, end)
            i = end
        elif ch == "$" and not mysql and (tag := re.match(r"\$[A-Za-z_]*\$", text[i:])):
            close = text.find(tag[0], i + len(tag[0]))
            if close < 0:
                raise QueryRefused("a $$ string is never closed")
            blank(i, close + len(tag[0]))
            i = close + len(tag[0])
        else:
            i += 1
    return "".join(out)


def _closing(text: str, start: int, quote: str, *, backslash: bool) -> int:
    """Where the quoted run starting at `start` ends (just after its closing quote)."""
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and text[i + 1] == quote:  # a doubled quote is the quote itself
                i += 2
                continue
            return i + 1
        i += 1
    raise QueryRefused(f"a {quote} quote is never closed")
