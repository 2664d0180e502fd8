"""One writer at a time on an SQLite file, across threads and processes, woken at once.

SQLite lets one connection write at a time; a second writer that finds the file locked waits
in SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 … 100 ms) and retries. A
command that meets a projector's batch write then waits the batch plus up to a step. Writers
of one file take this lock first instead: a thread lock among this process's threads, then an
exclusive ``flock`` on a file beside the database among processes (the API processes and the
projector of ``petition serve --workers N``, a CLI command run meanwhile). A waiter wakes as
soon as the holder releases it, and a process that dies holding it releases it with its
file descriptor.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy wait among processes
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """The datastore's write lock (``acquire``/``release``, as the library calls it) and a
    context manager (as the projector takes it)."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-writer.lock")
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0  # the process that opened ``_fd`` (a forked child opens its own)

    def acquire(self) -> bool:
        self._threads.acquire()
        try:
            if fcntl is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return True

    def release(self) -> None:
        try:
            if fcntl is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # A lock is held by an open file description, which a forked child would share with
        # its parent: each process opens the file itself.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
