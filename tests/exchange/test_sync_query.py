"""The sync's query check reads a query as the engine would: a `;` or a keyword inside a
string, a quoted name or a comment says nothing, what is outside them decides."""

from __future__ import annotations

import pytest

from chalicelib.exchange.sync_query import QueryRefused, check
from chalicelib.exchange.sync_sources import Source


@pytest.mark.parametrize(
    ("query", "engine"),
    [
        ("SELECT email, updated_at FROM customers;", "postgresql"),
        ("SELECT ';' AS sep, 'DELETE' AS word FROM t", "mysql"),
        ('SELECT "delete;me" FROM t', "postgresql"),
        ("SELECT `update` FROM t", "mysql"),
        ("SELECT $$; DROP TABLE t$$ AS x", "postgresql"),
        ("SELECT REPLACE(phone, ' ', '') AS phone FROM t -- trailing comment", "mysql"),
        ("WITH recent AS (SELECT * FROM t) SELECT * FROM recent", "postgresql"),
        ("SELECT 'it''s' AS a, E'\\';' AS b FROM t", "postgresql"),
        ("SELECT 'it\\'s; fine' AS a FROM t", "mysql"),
    ],
)
def test_a_single_select_is_accepted_whatever_its_strings_and_comments_hold(query: str, engine: str) -> None:
    kept = check(query, engine)
    assert query.startswith(kept) and not kept.endswith(";")


@pytest.mark.parametrize(
    ("query", "engine"),
    [
        ("SELECT 1 # comment in MySQL only\n; DELETE FROM t", "mysql"),
        ("SELECT 1 --1; DELETE FROM t", "mysql"),  # MySQL: 1 - -1, then a second statement
        ("SELECT * FROM t FOR UPDATE", "postgresql"),
        ("SELECT * FROM t LOCK IN SHARE MODE", "mysql"),
        ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "mysql"),
        ("SELECT 'unterminated FROM t", "postgresql"),
        ("SELECT 1 /* never closed", "mysql"),
        ("EXPLAIN SELECT 1", "postgresql"),
        ("", "postgresql"),
    ],
)
def test_anything_else_is_refused(query: str, engine: str) -> None:
    with pytest.raises(QueryRefused):
        check(query, engine)


def test_a_source_never_shows_its_password() -> None:
    # A traceback's locals or a log line with the source in it must not carry the password.
    source = Source("mysql", "db.example.com", 3306, "crm", "reader", "hunter2-secret")

    assert "hunter2-secret" not in repr(source) and "hunter2-secret" not in str(source)
