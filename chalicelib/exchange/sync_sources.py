"""Reading a customer's database: PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

Every read is one connection, one READ ONLY transaction with a statement timeout, and a
server-side cursor (a psycopg named cursor; PyMySQL's SSCursor) fetched FETCH_ROWS at a time,
so memory stays flat whatever the page size. The transaction is rolled back, never committed.

The query runs wrapped: `SELECT * FROM (<query>) AS cohort_sync [WHERE <cursor> > :from]
ORDER BY <cursor>, 1, 2, ... LIMIT :n OFFSET :skip`. Ordering by every column makes a page the
same rows each time it is read (identical rows are interchangeable), so a page that is read
again after a crash gives the same result. The drivers are imported here only, inside the
functions: the API's cold start and every other Lambda never load them.

Errors are `SourceError` with a message for the person (never the password: a driver message
that would echo it is scrubbed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ENGINES = ("postgresql", "mysql")
CONNECT_SECONDS = 5
# The Lambdas run 30 s at most (API Gateway answers in 29): the query gets a third of that,
# the connection 5 s, the page's import the rest.
STATEMENT_SECONDS = 10
FETCH_ROWS = 200  # rows per round trip of the server-side cursor
SAMPLE_ROWS = 5
ALIAS = "cohort_sync"


class SourceError(Exception):
    """The database could not be read; the message says why (host, password, query...)."""


@dataclass(frozen=True)
class Source:
    engine: str
    host: str
    port: int
    database: str
    user: str
    password: str
    sslmode: str | None = None
    statement_seconds: int = STATEMENT_SECONDS

    def __repr__(self) -> str:  # never the password, even in a traceback's locals
        return f"Source({self.engine}://{self.user}@{self.host}:{self.port}/{self.database})"


@dataclass(frozen=True)
class Page:
    """Where a page starts and how many rows it holds at most."""

    offset: int
    limit: int
    cursor_column: str | None = None
    cursor_from: str | None = None


def columns(source: Source, query: str) -> list[str]:
    """The query's column names (the query runs with LIMIT 0)."""
    with _session(source) as session:
        names, rows = session.run(f"SELECT * FROM (\n{query}\n) AS {ALIAS} LIMIT 0", ())
        for _ in rows:
            pass
        return names


def sample(source: Source, query: str, limit: int = SAMPLE_ROWS) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and the first `limit` rows, as the database returns them."""
    with _session(source) as session:
        names, rows = session.run(f"SELECT * FROM (\n{query}\n) AS {ALIAS} LIMIT {int(limit)}", ())
        return names, list(rows)


def read(source: Source, query: str, width: int, page: Page) -> Iterator[tuple[Any, ...]]:
    """The page's rows in their stable order, streamed from a server-side cursor. `width` is
    the number of columns (every one is an ORDER BY key)."""
    quote = _quote_pg if source.engine == "postgresql" else _quote_mysql
    where, params = "", []
    order = [str(position) for position in range(1, width + 1)]
    if page.cursor_column:
        cursor = f"{ALIAS}.{quote(page.cursor_column)}"
        order.insert(0, cursor)
        if page.cursor_from is not None:
            where = f" WHERE {cursor} > %s"
            params.append(page.cursor_from)
    # With a parameter the drivers read `%` as a placeholder: the query's own ones are doubled.
    body = query.replace("%", "%%") if params else query
    sql = (
        f"SELECT * FROM (\n{body}\n) AS {ALIAS}{where} ORDER BY {', '.join(order)}"
        f" LIMIT {int(page.limit)} OFFSET {int(page.offset)}"
    )
    with _session(source) as session:
        _, rows = session.run(sql, tuple(params), streamed=True)
        yield from rows


def cell_text(value: Any) -> str:
    """A database value as the CSV cell it would be: NULL is empty, dates are ISO-8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def cursor_text(value: Any) -> str:
    """A cursor value as the parameter that compares with it again (`> %s`): the database
    reads '2026-12-06 10:00:00' back as a timestamp, '42' as a number."""
    return str(value)


# ---- sessions ------------------------------------------------------------------------------


class _Session:
    def run(
        self, sql: str, params: Sequence[Any], streamed: bool = False
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        raise NotImplementedError


@contextmanager
def _session(source: Source) -> Iterator[_Session]:
    if source.engine == "postgresql":
        with _postgres(source) as session:
            yield session
    elif source.engine == "mysql":
        with _mysql(source) as session:
            yield session
    else:
        raise SourceError(f"unknown engine {source.engine!r}: use one of {', '.join(ENGINES)}")


def _scrub(message: str, source: Source) -> str:
    text = " ".join(message.split())
    return text.replace(source.password, "***") if source.password else text


@contextmanager
def _postgres(source: Source) -> Iterator[_Session]:
    import psycopg  # cold start: the sync's own driver, loaded only by a sync's test or run

    try:
        connection = psycopg.connect(
            host=source.host,
            port=source.port,
            dbname=source.database,
            user=source.user,
            password=source.password,
            sslmode=source.sslmode or "prefer",
            connect_timeout=CONNECT_SECONDS,
            application_name="cohort-sync",
        )
    except psycopg.Error as error:
        raise SourceError(_connect_message(source, _scrub(str(error), source))) from None
    try:
        connection.read_only = True  # BEGIN READ ONLY on the first statement
        connection.execute(
            "SELECT set_config('statement_timeout', %s, true)", [f"{source.statement_seconds * 1000}"]
        )
        session = _PostgresSession(connection, source)
        yield session
    except psycopg.errors.QueryCanceled:
        raise SourceError(_timeout_message(source)) from None
    except psycopg.Error as error:
        raise SourceError(f"the query failed: {_scrub(str(error), source)}") from None
    finally:
        connection.rollback()
        connection.close()


class _PostgresSession(_Session):
    def __init__(self, connection: Any, source: Source) -> None:
        self.connection = connection
        self.source = source

    def run(
        self, sql: str, params: Sequence[Any], streamed: bool = False
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        cursor = self.connection.cursor(name="cohort_sync") if streamed else self.connection.cursor()
        cursor.execute(sql, params or None)
        names = [column.name for column in cursor.description or ()]
        return names, _fetched(cursor)


@contextmanager
def _mysql(source: Source) -> Iterator[_Session]:
    # cold start: the sync's own driver, loaded only by a sync's test or run
    import pymysql
    import pymysql.cursors

    try:
        connection = pymysql.connect(
            host=source.host,
            port=source.port,
            user=source.user,
            # PyMySQL would encode a str as Latin-1; the mysql client sends UTF-8 (a password
            # with an accent set with CREATE USER ... IDENTIFIED BY would never match).
            password=source.password.encode("utf-8"),
            database=source.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_SECONDS,
            read_timeout=source.statement_seconds + CONNECT_SECONDS,
            autocommit=False,
            **_mysql_tls(source.sslmode),
        )
    except pymysql.MySQLError as error:
        raise SourceError(_connect_message(source, _scrub(_mysql_text(error), source))) from None
    try:
        with connection.cursor() as setup:
            # MariaDB names its timeout max_statement_time (seconds), MySQL max_execution_time (ms).
            if "mariadb" in connection.get_server_info().lower():
                setup.execute(f"SET SESSION max_statement_time = {int(source.statement_seconds)}")
            else:
                setup.execute(f"SET SESSION max_execution_time = {int(source.statement_seconds) * 1000}")
            setup.execute("START TRANSACTION READ ONLY")
        yield _MysqlSession(connection)
    except pymysql.MySQLError as error:
        code = error.args[0] if error.args else None
        if code in (1969, 3024, 2013):  # MariaDB's and MySQL's timeouts; the socket's own
            raise SourceError(_timeout_message(source)) from None
        raise SourceError(f"the query failed: {_scrub(_mysql_text(error), source)}") from None
    finally:
        try:
            connection.rollback()
        finally:
            connection.close()


class _MysqlSession(_Session):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def run(
        self, sql: str, params: Sequence[Any], streamed: bool = False
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        import pymysql.cursors  # cold start: the sync's own driver

        cursor = self.connection.cursor(pymysql.cursors.SSCursor if streamed else None)
        cursor.execute(sql, tuple(params) if params else None)
        names = [column[0] for column in cursor.description or ()]
        return names, _fetched(cursor)


def _mysql_tls(sslmode: str | None) -> dict[str, Any]:
    """PostgreSQL's sslmode words for PyMySQL: disable, require (encrypted, any certificate),
    verify-ca / verify-full (the system's CAs); unset or prefer: as the server offers."""
    # cold start: only a MySQL sync asking for TLS loads it
    import ssl

    if sslmode == "disable":
        return {"ssl_disabled": True}
    if sslmode == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return {"ssl": context}
    if sslmode in ("verify-ca", "verify-full"):
        context = ssl.create_default_context()
        context.check_hostname = sslmode == "verify-full"
        return {"ssl": context}
    return {}


def _fetched(cursor: Any) -> Iterator[tuple[Any, ...]]:
    try:
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from (tuple(row) for row in rows)
    finally:
        cursor.close()


def _mysql_text(error: Exception) -> str:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return str(args[1]) if len(args) > 1 else str(error)


def _connect_message(source: Source, detail: str) -> str:
    return f"could not connect to {source.host}:{source.port} as {source.user!r}: {detail}"


def _timeout_message(source: Source) -> str:
    return (
        f"the query took longer than {source.statement_seconds} s (the sync's statement timeout); "
        "add an index or select fewer rows"
    )


def _quote_pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
