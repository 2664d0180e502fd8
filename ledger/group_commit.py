"""Group commit: the saves of one process that queue for the store's writer lock are written
in one transaction, under one lock hold and one ``fsync``.

On SQLite one writer at a time holds the store; each command's commit waits for its ``fsync``
(0.2–0.4 ms here) while every other writer waits for the lock. Under load the saves queued
behind the lock are written by whichever of them gets it next (the *leader*), each save still
its own unit: a save the store refuses (another command took that version of the case) is
refused alone, and the others of the group are committed. A group that fails as a whole
(anything but such a refusal) has written nothing; each of its saves is then tried again
alone, by its own thread, so that each caller meets its own outcome. With no queue, a group is
one save: the same statements as before.

This module only coordinates threads; what a group's transaction does is the recorder's
(:class:`ledger.seals.SealingRecorder`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False)
class Save:
    """One caller's save, as a group's transaction left it."""

    events: Sequence[Any]
    ids: Sequence[int] | None = None  # positions in the log, once written
    refused: BaseException | None = None  # the store refused this save alone
    alone: bool = False  # the group failed: try again in a transaction of its own
    done: bool = field(default=False, repr=False)


class GroupCommit(Generic[T]):
    """Writes the saves submitted meanwhile: ``begin`` opens the group's transaction (and waits
    for the writer lock), ``write`` writes the saves into it (filling each :class:`Save`'s
    ``ids`` or ``refused``; it raises only if the whole group must not be committed), and
    leaving ``begin``'s context commits. The leader takes the queue only once it holds the
    lock: every save that arrived while it waited (for the other process's writes, say) goes
    into its group, rather than waiting for that lock a second time."""

    def __init__(
        self,
        begin: Callable[[], AbstractContextManager[T]],
        write: Callable[[T, list[Save]], None],
    ) -> None:
        self._begin = begin
        self._write = write
        self._turn = threading.Condition()
        self._queued: list[Save] = []
        self._leading = False
        self.groups = 0  # how many transactions were written (the tests read it)

    def submit(self, events: Sequence[Any]) -> Save:
        save = Save(events)
        with self._turn:
            self._queued.append(save)
            while self._leading and not save.done:
                self._turn.wait()
            if save.done:  # a leader wrote it
                return save
            self._leading = True
        group: list[Save] = []
        try:
            with self._begin() as transaction:
                with self._turn:
                    group, self._queued = self._queued, []  # this save among them
                self._write(transaction, group)
        except BaseException as failure:
            failed = group or [save]  # (no group yet: the transaction never opened)
            for each in failed:  # nothing of them was committed
                each.ids, each.refused, each.alone = None, None, True
            if not group:
                with self._turn:  # the others stay queued for the next leader
                    self._queued.remove(save)
            if not isinstance(failure, Exception):
                raise  # (an interrupt: the others still try alone)
            logger.warning(
                "%d saves failed together; each is tried again alone", len(failed), exc_info=True
            )
        finally:
            with self._turn:
                if group:
                    self.groups += 1
                for each in group or [save]:
                    each.done = True
                self._leading = False
                self._turn.notify_all()
        return save
