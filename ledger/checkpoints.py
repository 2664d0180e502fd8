"""SQLite: the write-ahead log copied back into the database by a thread of its own.

By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: that
commit copies every page the last thousand wrote back into the database file and syncs it,
while its writer still holds the file's one write lock (and ``ledger.writer_lock`` around it).
A projector batch rewrites a few hundred index pages, so under a stream of commands one commit
in a few paid for a checkpoint and every writer queued behind it.

``petition serve`` turns that off for its processes (``LEDGER_SQLITE_CHECKPOINTS=background``:
each connection gets ``wal_autocheckpoint = 0``) and runs a ``WalCheckpointer`` instead: a
PASSIVE checkpoint every ``CHECKPOINT_SECONDS``, which copies what no reader still needs and
never waits for, nor blocks, a writer or a reader. A page written many times between two
checkpoints is copied once. Other commands (the CLI, ``petition project``, tests) keep
SQLite's default.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger("petition.checkpoints")

CHECKPOINTS_ENV = "LEDGER_SQLITE_CHECKPOINTS"
BACKGROUND = "background"
CHECKPOINT_SECONDS = 0.25
"""How often the WAL is copied back: often enough that it stays a few MB under load (a
reader looks pages up in it), rarely enough that a page rewritten meanwhile is copied once."""


def in_background() -> bool:
    """Whether this process's SQLite connections leave checkpoints to a ``WalCheckpointer``."""
    return os.environ.get(CHECKPOINTS_ENV) == BACKGROUND


def configure_connection(dbapi_connection: Any) -> None:
    """Called for every new SQLite connection: no checkpoint in commits when a checkpointer
    runs."""
    if in_background():
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()


class WalCheckpointer:
    """PASSIVE checkpoints of one SQLite file, every ``interval`` seconds, until stopped."""

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self.failures = 0
        self.completed = 0  # checkpoints that copied a non-empty log back whole

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames copied back)."""
        with self.engine.connect() as conn:
            busy, frames, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(busy), int(frames), int(copied)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                _, frames, copied = self.checkpoint()
                self.completed += 0 < frames == copied
            except Exception:  # the next one may succeed; the WAL only grows meanwhile
                self.failures += 1
                log.exception("WAL checkpoint failed")

    def __enter__(self) -> WalCheckpointer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        try:
            self.checkpoint()  # leave the file whole for whoever opens it next
        except Exception:
            log.exception("final WAL checkpoint failed")
