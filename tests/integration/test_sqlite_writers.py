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

import pytest

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


def test_a_save_refused_by_the_store_leaves_the_writer_lock_free(tmp_path: Path) -> None:
    """The same event twice: the store refuses the second (its key), the transaction rolls
    back, and the writer lock it took for the insert is free again for the next writer."""
    from eventsourcing.persistence import IntegrityError, StoredEvent

    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3"))
    event = StoredEvent(uuid4(), 1, "domain.directory:Unit.Created", b"{}")
    try:
        ledger.recorder.insert_events([event])
        with pytest.raises(IntegrityError):  # the same event twice
            ledger.recorder.insert_events([event])
        got = threading.Event()

        def take() -> None:
            with ledger.write_lock:
                got.set()

        threading.Thread(target=take, daemon=True).start()
        assert got.wait(WAIT_S), "the writer lock stayed held after the refused save"
        ledger.recorder.insert_events([StoredEvent(uuid4(), 1, event.topic, b"{}")])
    finally:
        ledger.close()
