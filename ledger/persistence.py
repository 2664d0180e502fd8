"""The event store's infrastructure: eventsourcing-sqlalchemy with connections we configure.

The library's own factory builds its engine from the URL alone. We need two more things from
the engine, so this module is the PERSISTENCE_MODULE instead:

- PostgreSQL: writers serialise on a table lock taken with no timeout, so one stuck
  transaction would stall every writer; the session gets a lock timeout and an idle-in-
  transaction timeout so a stuck writer is cut off.
- PostgreSQL: a pooled connection that sat idle is tested before use (a restarted server
  leaves the pool holding dead ones), but one in steady use is not: SQLAlchemy's
  ``pool_pre_ping`` tests on every checkout, a round trip each time, and a command checks out
  a connection three times (a bare command's CPU fell from 2.46 to 2.08 ms without it). A
  connection that dies while in use fails that request (503, safe to retry), and the pool
  drops every connection as old as it.
- SQLite: writers of the store take a lock shared with every process writing the same file
  (``ledger.writer_lock``), so one waits for another without SQLite's stepped busy sleeps; a
  busy timeout still, for writers that do not take it; and a larger page cache per
  connection (below).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from ledger.seals import SealingRecorder, SnapshotRecorder
from ledger.writer_lock import WriterLock

LOCK_TIMEOUT_MS = 10_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
SQLITE_BUSY_TIMEOUT_S = float(os.environ.get("LEDGER_SQLITE_BUSY_TIMEOUT", "15"))
"""How long a writer waits for SQLite's lock before giving up with a clear error."""


PING_AFTER_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle longer than this is tested before it is handed out."""


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {
            "connect_args": {
                "options": f"-c lock_timeout={LOCK_TIMEOUT_MS} "
                f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
            },
        }
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}


SQLITE_PAGE_CACHE_KIB = 64 * 1024
"""Each SQLite connection's own page cache (SQLite's default is 2 MiB): a page reads a few
indexes over and over (a period's statistics, the board's totals), and a connection that keeps
them does not depend on the operating system keeping the file (a 100k-case file is 3.5 GB).
At most the pool's connections × this."""


def _sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_PAGE_CACHE_KIB}")
    finally:
        cursor.close()


def ping_idle_connections(engine: Engine) -> None:
    """Test a pooled connection before use if it has been idle (see the module's notes); a
    dead one is replaced by a fresh connection (the pool retries the checkout)."""

    @sa_event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa_event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as e:
            raise DisconnectionError("an idle pooled connection is dead") from e


def read_only_engine(url: str) -> Engine:
    """An engine for a database the views are only read from (a streaming replica): every
    transaction is read-only, so a stray write fails here even if the URL names a primary."""
    from sqlalchemy import create_engine

    options = engine_options(url)
    connect = options["connect_args"]
    connect["options"] = connect["options"] + " -c default_transaction_read_only=on"
    engine = create_engine(url, **options)
    ping_idle_connections(engine)
    return engine


def _derived_rows_connection(dbapi_connection: Any, _record: Any) -> None:
    """The views file holds only what the log derives: a commit need not wait for the disk.
    In WAL mode ``synchronous = NORMAL`` never corrupts the file; a power cut may take back
    the last commits, and with them the projector's position (it commits with its rows), so
    the projector projects those events again. The store's file keeps SQLite's FULL: an
    event acknowledged is on disk."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def sqlite_views_engine(path: Path) -> tuple[Engine, WriterLock]:
    """An engine on the SQLite file the read models are kept in apart from the store (WAL,
    like the store: readers never wait for its writer), and that file's own writer lock."""
    from sqlalchemy import create_engine

    url = f"sqlite:///{path}"
    engine = create_engine(url, **engine_options(url))
    sa_event.listen(engine, "connect", _sqlite_connection)
    sa_event.listen(engine, "connect", _derived_rows_connection)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    return engine, WriterLock(path)


class Factory(SQLAlchemyFactory):
    application_recorder_class = SealingRecorder  # every event is sealed as it is stored
    aggregate_recorder_class = SnapshotRecorder

    def __init__(self, env: Environment) -> None:
        InfrastructureFactory.__init__(self, env)  # the parent would build its own engine
        self._schema_name = self.env.get(self.SQLALCHEMY_SCHEMA)
        url = self.env.get(self.SQLALCHEMY_URL)
        if not url:
            raise ValueError("SQLALCHEMY_URL is not set")
        self.datastore = self.datastore_class(url=url, **engine_options(url))
        engine = self.datastore.engine
        if url.startswith("sqlite") and isinstance(engine, Engine):
            sa_event.listen(engine, "connect", _sqlite_connection)
            database = engine.url.database
            if self.datastore.write_lock is not None and database:  # a file, not :memory:
                self.datastore.write_lock = WriterLock(Path(database))  # type: ignore[assignment]
        if url.startswith("postgresql") and isinstance(engine, Engine):
            ping_idle_connections(engine)

    def close(self) -> None:
        if isinstance(self.datastore.write_lock, WriterLock):
            self.datastore.write_lock.close()
        engine = self.datastore.engine
        if isinstance(engine, Engine):
            engine.dispose()
