"""Real PostgreSQL and MariaDB servers for the database sync tests, from Debian's packages
(`make databases` installs them as root; CI runs as root).

Each session fixture starts its server on a free local port in a temporary folder (PostgreSQL:
initdb + pg_ctl, as the `postgres` user when the tests run as root; MariaDB:
mariadb-install-db + mariadbd with its own socket, as `mysql` when root), creates a read-only
user with a password (what docs/sync.md tells a customer to grant), and stops the server at
the end of the session (bench/sync.py starts them with `running_postgres` and
`running_mariadb`). `people_table` seeds a fresh table of awkward rows per test.

Without the binaries the tests skip with the install command, except on CI (CI set), where
they must run and so fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get update && apt-get install -y --no-install-recommends postgresql mariadb-server"
READER, READER_PASSWORD = "cohort_reader", "r3ader-Pässword"
DATABASE = "shop"
START_SECONDS = 30
BASE_TIME = datetime(2026, 11, 1, 9, 0, 0)
FIRST_NAMES = ("Élodie", "Zoë", "François", "Chloé", "Jürgen", "Ana", None)
COLUMNS = ("id", "email", "phone", "first_name", "last_name", "company", "updated_at")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unavailable(reason: str) -> None:
    message = f"{reason}; as root: {INSTALL} (or `make databases`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def people(count: int, start: int = 1) -> list[tuple[Any, ...]]:
    """Rows with accents, NULLs, duplicate emails (another case, further down) and bad phones."""
    rows = []
    for i in range(start, start + count):
        email: str | None = f"person{i}@example.com"
        if i % 50 == 0:
            email = None  # phone only (or nothing usable: failed)
        elif i % 97 == 0:
            email = f"PERSON{i - 1}@Example.com"  # the previous row's person again
        phone = (
            "not a phone" if i % 7 == 0 else f"+33 6 {i % 100:02d} {i // 100 % 100:02d} {i // 10000:02d} 12"
        )
        rows.append(
            (
                i,
                email,
                phone,
                FIRST_NAMES[i % len(FIRST_NAMES)],
                f"Nom{i}",
                None if i % 3 == 0 else f"Société {i % 11}",
                BASE_TIME + timedelta(minutes=i),
            )
        )
    return rows


def as_csv(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """The same rows as a CSV file (what the sync is compared with)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, datetime) else v) for v in row])
    return buffer.getvalue().encode()


@dataclass
class Server:
    """A running server: `admin` runs SQL as its superuser; the API gets `connection()`."""

    engine: str
    port: int
    admin: Callable[[str, Sequence[Sequence[Any]] | None], None]
    tables: int = 0

    def connection(self, **changes: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "database": DATABASE,
            "user": READER,
            "password": READER_PASSWORD,
            **changes,
        }

    def people_table(self, count: int) -> str:
        """A new table of `count` rows (the name is returned), readable by the reader."""
        self.tables += 1
        name = f"people_{self.tables}"
        timestamp = "timestamp" if self.engine == "postgresql" else "datetime"
        self.admin(
            f"CREATE TABLE {name} (id integer PRIMARY KEY, email varchar(200), phone varchar(50), "
            f"first_name varchar(100), last_name varchar(100), company varchar(100), "
            f"updated_at {timestamp} NOT NULL)",
            None,
        )
        self.insert(name, people(count))
        return name

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        self.admin(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)


def _as_user(user: str) -> dict[str, Any]:
    """subprocess options that run a server as `user` when the tests run as root (PostgreSQL
    and MariaDB refuse root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _owned(folder: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)


# ---- PostgreSQL -----------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[Server]:
    with running_mariadb() as server:
        yield server


@contextmanager
def running_postgres() -> Iterator[Server]:
    bin_dir = _postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        _unavailable("PostgreSQL (initdb, pg_ctl) is not installed")
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install -r requirements.txt)")
    assert bin_dir is not None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("the postgres user is missing (the postgresql package creates it)")
    root = Path(tempfile.mkdtemp(prefix="cohort-pg-"))
    _owned(root, "postgres")
    data, port = root / "data", free_port()
    run_as = _as_user("postgres")
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "admin", "--auth-local=trust",
         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True, cwd=root, **run_as,
    )  # fmt: skip
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    started = subprocess.run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
         "-t", str(START_SECONDS), "start"],
        capture_output=True, cwd=root, **run_as,
    )  # fmt: skip
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr.decode()} {log}")

    def admin(sql: str, rows: Sequence[Sequence[Any]] | None = None, database: str = DATABASE) -> None:
        with psycopg.connect(
            host=str(root), port=port, user="admin", dbname=database, autocommit=True
        ) as conn:
            if rows is None:
                conn.execute(sql.encode())
            else:
                with conn.cursor() as cursor:
                    cursor.executemany(sql.encode(), rows)

    try:
        admin(f"CREATE DATABASE {DATABASE}", None, "postgres")
        # What docs/sync.md asks a customer to run.
        admin(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
        admin(f"GRANT CONNECT ON DATABASE {DATABASE} TO {READER}")
        admin(f"GRANT USAGE ON SCHEMA public TO {READER}")
        admin(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER}")
        admin(f"ALTER ROLE {READER} SET default_transaction_read_only = on")
        yield Server("postgresql", port, admin)
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, cwd=root, **run_as,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


# ---- MariaDB --------------------------------------------------------------------------------


@contextmanager
def running_mariadb() -> Iterator[Server]:
    install_db = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
    daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if not (Path(install_db).exists() and Path(daemon).exists()):
        _unavailable("MariaDB (mariadb-install-db, mariadbd) is not installed")
    try:
        import pymysql
    except ImportError:
        _unavailable("PyMySQL is not installed (pip install -r requirements.txt)")
    root = Path(tempfile.mkdtemp(prefix="cohort-mariadb-"))
    _owned(root, "mysql")
    data, sock, port = root / "data", root / "mysqld.sock", free_port()
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    subprocess.run(
        [install_db, "--no-defaults", f"--datadir={data}", *user, "--auth-root-authentication-method=normal",
         "--skip-test-db", "--skip-name-resolve"],
        check=True, capture_output=True, cwd=root,
    )  # fmt: skip
    process = subprocess.Popen(
        [daemon, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={root / 'mysqld.pid'}", *user, "--skip-name-resolve",
         "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
         "--innodb-flush-log-at-trx-commit=0", f"--log-error={root / 'error.log'}"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def admin(sql: str, rows: Sequence[Sequence[Any]] | None = None, database: str | None = DATABASE) -> None:
        conn = pymysql.connect(
            unix_socket=str(sock), user="root", database=database, charset="utf8mb4", autocommit=True
        )
        try:
            with conn.cursor() as cursor:
                if rows is None:
                    cursor.execute(sql)
                else:
                    cursor.executemany(sql, rows)
        finally:
            conn.close()

    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                admin("SELECT 1", None, None)
                break
            except pymysql.MySQLError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                    pytest.fail(f"MariaDB did not start: {log[-2000:]}")
                time.sleep(0.2)
        admin(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4", None, None)
        # What docs/sync.md asks a customer to run.
        admin(f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{READER_PASSWORD}'", None, None)
        admin(f"GRANT SELECT ON {DATABASE}.* TO '{READER}'@'%'", None, None)
        yield Server("mysql", port, admin)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
