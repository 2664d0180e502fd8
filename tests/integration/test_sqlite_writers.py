"""Processes writing one SQLite file take turns on its writer lock: none meets SQLite's
"database is locked", even with no busy wait at all, and the seals chain in one line."""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.writer_lock import WriterLock

UNITS_EACH = 100


def _write_units(url: str, writer: int, go: Any) -> None:
    assert os.environ["LEDGER_SQLITE_BUSY_TIMEOUT"] == "0"
    ledger = Ledger(Settings(database_url=url))
    try:
        go.wait(60)
        admin = Actor(uuid4(), None)
        for i in range(UNITS_EACH):
            ledger.create_unit(
                actor=admin,
                occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                command_id=f"writer-{writer}-{i}",
                name=f"单位{writer}-{i}",
                code=f"W{writer}U{i}",
                kind="职能部门",
                parent=None,
            )
    finally:
        ledger.close()


def test_two_processes_writing_one_file_take_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    ledger = Ledger(Settings(database_url=url))  # creates the tables
    assert isinstance(ledger.write_lock, WriterLock)
    # The writers' SQLite connections give up at once on a locked file (the children read
    # this when they import the store).
    monkeypatch.setenv("LEDGER_SQLITE_BUSY_TIMEOUT", "0")
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    writers = [context.Process(target=_write_units, args=(url, n, go)) for n in range(2)]
    for writer in writers:
        writer.start()
    go.set()
    for writer in writers:
        writer.join(120)
    try:
        assert [w.exitcode for w in writers] == [0, 0]
        assert ledger.recorder.max_notification_id() == 2 * UNITS_EACH
    finally:
        ledger.close()
