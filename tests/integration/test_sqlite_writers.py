"""A command on an SQLite file waits for the writer lock another process holds (the
projector of ``petition serve --workers N``, say), and is stored as soon as it is released:
the store's writes take the lock shared across processes (``ledger.writer_lock``), not
SQLite's stepped busy wait."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.writer_lock import WriterLock

WAIT_S = 30.0


def _hold_writer_lock(url: str, held: Any, release: Any) -> None:
    ledger = Ledger(Settings(database_url=url))
    try:
        with ledger.write_lock:
            held.set()
            release.wait(WAIT_S)
    finally:
        ledger.close()


def test_a_command_waits_for_the_writer_lock_another_process_holds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    ledger = Ledger(Settings(database_url=url))
    assert isinstance(ledger.write_lock, WriterLock)
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_writer_lock, args=(url, held, release))
    holder.start()
    stored = threading.Event()

    def create_unit() -> None:
        ledger.create_unit(
            actor=Actor(uuid4(), None),
            occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
            command_id="unit-1",
            name="住建局",
            code="ZJ",
            kind="职能部门",
            parent=None,
        )
        stored.set()

    try:
        assert held.wait(WAIT_S)
        threading.Thread(target=create_unit, daemon=True).start()
        assert not stored.wait(0.5), "stored while another process held the writer lock"
        assert ledger.recorder.max_notification_id() is None
        release.set()
        assert stored.wait(WAIT_S), "not stored once the lock was released"
        assert ledger.recorder.max_notification_id() == 1
    finally:
        release.set()
        holder.join(WAIT_S)
        ledger.close()
