"""Opening the database file and running transactions that never report "locked".

SQLite lets one writer in at a time. Every write runs under ``BEGIN IMMEDIATE``
(the write lock is taken up front, so a transaction never fails half way when it
upgrades from reading), and the connection's busy timeout makes SQLite wait for
the lock. If the lock is still busy after that, :func:`run_write` backs off and
runs the whole transaction again, so "database is locked" never reaches a user;
only a lock held for over :data:`GIVE_UP_AFTER` seconds becomes a DriverError.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ...errors import DriverError, DriverUnavailable
from . import flow
from .queries import FAILED_COUNTS, RESULTS, SCHEMA_STATEMENTS, SCHEMA_VERSION

T = TypeVar("T")

#: Seconds of "database is locked" retries before giving up with a DriverError.
GIVE_UP_AFTER = 60.0
#: Bounds of the jittered pause between two tries of a locked transaction.
_BACKOFF = (0.002, 0.1)


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating file and parent folder) and configure the database; migrate it.

    Raises:
        DriverUnavailable: the file cannot be created or opened, or is not a database.
        DriverError: the database was written by a newer runa-runner.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, cached_statements=256
        )
    except (OSError, sqlite3.Error) as exc:
        raise DriverUnavailable(f"sqlite: cannot open database file {path}: {exc}") from exc
    try:
        retry_locked(path, lambda: _configure(conn))
        run_write(conn, path, _setup)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DriverUnavailable(f"sqlite: cannot open database file {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _setup(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DriverError(
            f"sqlite: the database has schema version {version}, newer than this "
            f"runa-runner understands ({SCHEMA_VERSION}); upgrade runa-runner"
        )
    if version < SCHEMA_VERSION:
        # Statement by statement: executescript would COMMIT our transaction first.
        for statement in SCHEMA_STATEMENTS:
            conn.execute(statement)  # idempotent; later versions add migrations here
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    ensure_failed_counts(conn)
    for name in ("results_table", "results_expiry", "cancels_table"):
        conn.execute(RESULTS[name])  # results.sql: any version gains them
    flow.ensure_tables(conn)


def ensure_failed_counts(conn: sqlite3.Connection) -> None:
    """Create the failed-count table and its triggers, filled from ``jobs``, when missing
    (whatever the schema version: a file made before they existed gains them)."""
    if conn.execute(FAILED_COUNTS["exists"]).fetchone():
        return
    for name in ("table", "on_insert", "on_enter", "on_leave", "on_delete", "fill"):
        conn.execute(FAILED_COUNTS[name])


def _configure(conn: sqlite3.Connection) -> None:
    # WAL: readers never block the writer; NORMAL sync is durable across process
    # crashes (the WAL is fsynced at checkpoints), which is what a job queue needs.
    conn.execute("PRAGMA journal_mode = WAL").fetchone()
    conn.execute("PRAGMA synchronous = NORMAL")


def run_write(
    conn: sqlite3.Connection, path: Path, fn: Callable[[sqlite3.Connection], T]
) -> T:
    """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried while locked."""

    def attempt() -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    return retry_locked(path, attempt)


def run_read(conn: sqlite3.Connection, path: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn(conn)`` outside an explicit transaction (WAL reads), retried while locked."""
    return retry_locked(path, lambda: fn(conn))


def retry_locked(path: Path, fn: Callable[[], T]) -> T:
    """Call ``fn`` until it does not fail with SQLITE_BUSY / "database is locked"."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    pause = _BACKOFF[0]
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"sqlite: database {path} stayed locked by another process "
                    f"for over {GIVE_UP_AFTER:g}s"
                ) from exc
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, _BACKOFF[1])


def is_locked(exc: sqlite3.OperationalError) -> bool:
    """True for the busy/locked errors that a retry cures."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text
