"""Under ``petition serve`` an SQLite file's WAL is checkpointed by a thread of its own, not
inside the commit of whichever writer grew it (``ledger.checkpoints``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import checkpoints
from ledger.application import Ledger
from ledger.settings import Settings
from tests.world import build_world

WAIT_S = 10.0


def _autocheckpoint(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_the_store_keeps_sqlites_own_checkpoints_unless_a_checkpointer_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(checkpoints.CHECKPOINTS_ENV, raising=False)
    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/own.sqlite3"))
    try:
        assert _autocheckpoint(ledger) == 1000  # SQLite's default: in the commit
    finally:
        ledger.close()
    monkeypatch.setenv(checkpoints.CHECKPOINTS_ENV, checkpoints.BACKGROUND)
    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/served.sqlite3"))
    try:
        assert _autocheckpoint(ledger) == 0  # never in a commit
    finally:
        ledger.close()


def test_the_checkpointer_copies_the_log_back_while_commands_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(checkpoints.CHECKPOINTS_ENV, checkpoints.BACKGROUND)
    url = f"sqlite:///{tmp_path}/served.sqlite3"
    ledger = Ledger(Settings(database_url=url))
    engine = sa.create_engine(url)
    try:
        world = build_world(ledger, datetime.now(UTC) - timedelta(days=1))
        with checkpoints.WalCheckpointer(engine, interval=0.01) as checkpointer:
            before = checkpointer.completed
            for _ in range(3):
                world.register(datetime.now(UTC) - timedelta(hours=3))
            deadline = time.monotonic() + WAIT_S
            while checkpointer.completed == before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert checkpointer.completed > before, "no checkpoint copied the log back"
            assert checkpointer.failures == 0
    finally:
        engine.dispose()
        ledger.close()
