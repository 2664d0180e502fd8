"""Writers of one SQLite file take turns across processes, and a waiter wakes when the holder
lets go (``ledger.writer_lock``)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

from ledger.writer_lock import WriterLock

WAIT_S = 10.0


def _hold(database: str, held: Any, release: Any) -> None:
    lock = WriterLock(Path(database))
    with lock:
        held.set()
        release.wait(WAIT_S)


def _hold_and_die(database: str, held: Any) -> None:
    lock = WriterLock(Path(database))
    lock.acquire()
    held.set()
    os._exit(0)  # dies holding it


def _acquire_in_thread(lock: WriterLock) -> threading.Event:
    got = threading.Event()

    def take() -> None:
        with lock:
            got.set()

    threading.Thread(target=take, daemon=True).start()
    return got


def test_a_writer_in_another_process_waits_until_the_holder_releases(tmp_path: Path) -> None:
    database = tmp_path / "ledger.sqlite3"
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(database), held, release))
    holder.start()
    try:
        assert held.wait(WAIT_S)
        got = _acquire_in_thread(WriterLock(database))
        assert not got.wait(0.3), "took the lock while another process held it"
        release.set()
        assert got.wait(WAIT_S), "did not get the lock once the other process released it"
    finally:
        release.set()
        holder.join(WAIT_S)


def test_a_process_that_dies_holding_the_lock_releases_it(tmp_path: Path) -> None:
    database = tmp_path / "ledger.sqlite3"
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_and_die, args=(str(database), held))
    holder.start()
    assert held.wait(WAIT_S)
    holder.join(WAIT_S)
    assert _acquire_in_thread(WriterLock(database)).wait(WAIT_S)


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "ledger.sqlite3")
    with lock:
        got = _acquire_in_thread(lock)
        assert not got.wait(0.2), "a second thread took the lock its holder still held"
    assert got.wait(WAIT_S)
