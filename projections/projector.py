"""The projector: reads the log in order and keeps a view set's rows up to date.

Exactly once, by construction: each batch's rows and the view set's new position are written
in one transaction, and the position is advanced by compare-and-set, so a projector that
crashes anywhere neither loses nor repeats a fact, and two projectors on one view set cannot
both apply a batch. A fact it cannot judge stops it loudly: the error is recorded on the view
set, naming the fact, and nothing of that batch is written.

A case is always re-judged from all of its facts up to the batch's end (a correction can change
an earlier fact, and a clock's deadline depends on everything before it), so the rows are a
pure function of (facts, rulebook) whichever way they were reached: incrementally, in a full
rebuild, or for a past instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.rulebook import RuleSet
from projections import case_writes, delay_totals, log, partitions, repeats, schema
from projections.bulk import insert_rows
from projections.directory import Directory
from projections.facts import Fact
from projections.judge import judge_case
from projections.rows import Row, case_rows, directory_rows

Include = Callable[[Fact], bool]
"""Which facts count (all, or those recorded by an instant)."""


class ProjectorStopped(RuntimeError):
    """A fact could not be projected; the projector stops instead of skipping it."""


class PositionMoved(RuntimeError):
    """Another projector advanced this view set first; this batch was not applied."""


def _all(_: Fact) -> bool:
    return True


@dataclass
class ViewSet:
    id: str
    rulebook_name: str
    status: str
    position: int
    target_position: int | None


def create_view_set(
    conn: sa.Connection,
    view_set: str,
    rules: RuleSet,
    digest: str,
    *,
    status: str,
    path: str,
    position: int = 0,
    target_position: int | None = None,
) -> None:
    conn.execute(
        schema.view_sets.insert().values(
            id=view_set,
            rulebook_name=rules.rulebook.name,
            rulebook_version=rules.rulebook.version,
            rulebook_digest=digest,
            rulebook_path=path,
            target_position=target_position,
            status=status,
            position=position,
            calendar_years=",".join(str(y) for y in sorted(rules.calendar.known_years)),
            created_s=time.time(),
        )
    )
    if partitions.applies(conn):  # a set being built is loaded bare, indexed at the end
        partitions.create(conn, view_set, attached=status != "building")


# Statements a live batch runs every time, built once (building one costs more than running it).
_v = schema.view_sets
_GET_VIEW_SET = sa.select(
    _v.c.id, _v.c.rulebook_name, _v.c.status, _v.c.position, _v.c.target_position
).where(_v.c.id == sa.bindparam("view_set"))
_ADVANCE = (
    _v.update()
    .where(_v.c.id == sa.bindparam("view_set"), _v.c.position == sa.bindparam("old"))
    .values(position=sa.bindparam("new"), error=None)
)
_TAKE_ROW_LOCK = (
    _v.update().where(_v.c.id == sa.bindparam("view_set")).values(position=_v.c.position)
)


def get_view_set(conn: sa.Connection, view_set: str) -> ViewSet | None:
    row = conn.execute(_GET_VIEW_SET, {"view_set": view_set}).first()
    return None if row is None else ViewSet(*row)


def _advance(conn: sa.Connection, view_set: str, old: int, new: int) -> None:
    result = conn.execute(_ADVANCE, {"view_set": view_set, "old": old, "new": new})
    if result.rowcount != 1:
        raise PositionMoved(f"view set {view_set} is no longer at position {old}")


def write_cases(
    conn: sa.Connection,
    view_set: str,
    case_facts: dict[str, list[Fact]],
    rules: RuleSet,
    directory: Directory,
    *,
    fresh: bool = False,
) -> None:
    """Replace the rows of these cases with their judgment from these facts (``fresh``: the
    view set has no rows for them yet, as in a rebuild)."""
    if not case_facts:
        return
    ids = list(case_facts)
    batches = judged_rows(view_set, case_facts, rules, directory)
    write_judged(conn, view_set, batches, rules, replace=[] if fresh else ids)


def write_judged(
    conn: sa.Connection,
    view_set: str,
    batches: dict[str, list[Row]],
    rules: RuleSet,
    *,
    replace: list[str],
    stored: dict[str, list[Row]] | None = None,
) -> None:
    """Write judged rows in place of the rows the ``replace`` cases had; the totals
    over cases follow (what the old rows brought taken away, the new rows' added), and the
    repeat petitions among the cases related to these are decided again. ``stored``: the
    rows the cases have, read beforehand (see :meth:`Projector._prepare`)."""
    stored = case_writes.replace_cases(conn, view_set, replace, batches, stored=stored)
    change = delay_totals.Change()
    change.add_written(stored, -1)
    change.add_written(batches)
    petitioners_before = [row[1:] for row in stored[schema.case_petitioners.name]]
    delay_totals.apply(conn, view_set, change)
    # Only a case whose petitioner rows (who, on what matter, received, closed) changed can
    # change a repeat judgment: most actions (routing, acceptance, replies) change none.
    written = [row[1] for row in batches[schema.cases.name]]
    changed = repeats.changed(written, petitioners_before, batches[schema.case_petitioners.name])
    before = [row for row in petitioners_before if row[0] in changed]
    repeats.redecide(conn, view_set, rules, changed, before)


def judged_rows(
    view_set: str, case_facts: dict[str, list[Fact]], rules: RuleSet, directory: Directory
) -> dict[str, list[Row]]:
    """Judge each case from its facts; its rows for every case table (tuples in column
    order). A case that cannot be judged stops everything, naming the fact."""
    batches: dict[str, list[Row]] = {t.name: [] for t in schema.CASE_TABLES}
    for case_id, facts in case_facts.items():
        try:
            judgment = judge_case(facts, rules, directory)
        except Exception as e:
            last = facts[-1]
            raise ProjectorStopped(
                f"case {case_id}: cannot project fact {last.type} v{last.version} "
                f"at position {last.position}: {type(e).__name__}: {e}"
            ) from e
        for name, rows in case_rows(view_set, judgment, rules).items():
            batches[name].extend(rows)
    return batches


def write_directory(conn: sa.Connection, view_set: str, directory: Directory) -> None:
    for table in schema.DIRECTORY_TABLES:
        conn.execute(table.delete().where(table.c.view_set == view_set))
    for name, rows in directory_rows(view_set, directory).items():
        insert_rows(conn, schema.metadata.tables[name], rows)


@dataclass(frozen=True)
class _Batch:
    """A batch judged and ready to write: from ``position`` (exclusive) to ``last``."""

    position: int
    last: int
    case_ids: list[str]
    rows: dict[str, list[Row]]
    directory_changed: bool
    stored: dict[str, list[Row]] | None  # the cases' rows at ``position`` (SQLite), or None


class Projector:
    """Keeps one view set up to date with the log, batch by batch.

    ``write_lock``: a lock this process's other writers take too (SQLite has one writer at a
    time; waiting on a lock in-process wakes at once, SQLite's own busy wait sleeps in steps).
    """

    def __init__(
        self,
        source: sa.Engine,
        target: sa.Engine,
        rules: RuleSet,
        view_set: str,
        *,
        batch_size: int = 500,
        most_batch: int | None = None,
        include: Include = _all,
        write_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.write_lock = write_lock
        self.source = source
        self.target = target
        self.rules = rules
        self.view_set = view_set
        # A batch is ``batch_size`` log rows while the view set keeps up; behind (a full batch
        # read), the next one doubles, up to ``most_batch`` (16 × by default): a projector
        # catching up after downtime commits, reads and re-decides per batch, not per 500
        # rows, and a writer still waits at most one large batch's write for the lock.
        self.batch_size = batch_size
        self.most_batch = most_batch if most_batch is not None else 16 * batch_size
        self._next_batch = batch_size
        self.include = include
        self.directory: Directory | None = None
        self.directory_position = -1  # the log position the directory is folded up to
        self.behind = True  # the last batch read was full: there is more to read

    def _load_directory(self, up_to: int) -> Directory:
        """The directory as it stood at log position ``up_to``, folded from the directory
        facts this process has already read (``log.directory_log``): finding them among the
        cases' events reads the whole log (a quarter of a second at 100k cases), and a request
        that catches the views up after a write starts a projector of its own."""
        directory = Directory()
        with self.source.connect() as conn:
            facts = log.directory_log.facts(self.source, conn)
        for fact in facts:
            if fact.position > up_to:
                break
            if self.include(fact):
                directory.apply(fact)
        return directory

    def step(self) -> int:
        """Project the next batch; returns how many log rows it advanced over (0: caught up).

        The batch is read and judged first, outside any write transaction; then, holding the
        view set's row lock, it is written only if the view set is still where it was read
        (else another projector got there first, and the batch is judged again from there).
        Writers hold the database's write lock for the writes alone, not for the judging.
        """
        while True:
            batch = self._prepare()
            if batch is None:
                return 0
            with self.write_lock or nullcontext(), self.target.begin() as out:
                # Take the view set's write lock first: projectors of one view set (the live
                # runner, a request catching up) take turns instead of colliding on its rows.
                out.execute(_TAKE_ROW_LOCK, {"view_set": self.view_set})
                current = get_view_set(out, self.view_set)
                if current is None:
                    raise ProjectorStopped(f"no view set {self.view_set}")
                if current.position != batch.position:
                    self.directory = None  # judged from a stale start: judge again
                    continue
                if batch.directory_changed:
                    assert self.directory is not None
                    write_directory(out, self.view_set, self.directory)
                write_judged(
                    out,
                    self.view_set,
                    batch.rows,
                    self.rules,
                    replace=batch.case_ids,
                    stored=batch.stored if current.status != "building" else None,
                )
                _advance(out, self.view_set, batch.position, batch.last)
            self.directory_position = batch.last
            advanced = batch.last - batch.position
            # (a full read; gaps only ever overstate it)
            self.behind = advanced >= self._next_batch
            self._next_batch = (
                min(2 * self._next_batch, self.most_batch) if self.behind else self.batch_size
            )
            return advanced

    def _prepare(self) -> _Batch | None:
        """The next batch, judged: None when the view set is at the end of the log."""
        with self.target.connect() as conn:
            current = get_view_set(conn, self.view_set)
        if current is None:
            raise ProjectorStopped(f"no view set {self.view_set}")
        position = current.position
        with self.source.connect() as src:
            facts, last = log.facts_after(src, position, self._next_batch)
            if last == position:
                return None  # (before the directory: a caught-up view set needs none)
            facts = [f for f in facts if self.include(f)]
            touched = [f for f in facts if f.kind == "Case"]
            case_ids = list(dict.fromkeys(f.aggregate_id for f in touched))
            grouped = log.facts_of(src, case_ids)
        if self.directory is None or self.directory_position != position:
            # another projector advanced the view set: our directory is stale
            self.directory = self._load_directory(position)
            self.directory_position = position
        try:
            directory_changed = False
            for fact in facts:
                if fact.kind != "Case":
                    self.directory.apply(fact)
                    directory_changed = True
            case_facts = {
                cid: [f for f in grouped.get(cid, []) if f.position <= last and self.include(f)]
                for cid in case_ids
            }
            rows = judged_rows(self.view_set, case_facts, self.rules, self.directory)
        except BaseException:
            self.directory = None  # reload: the batch did not happen
            raise
        # The directory now stands at ``last``; if the batch is not written it is reloaded.
        self.directory_position = -1
        stored = None
        if self.target.dialect.name == "sqlite" and current.status != "building":
            # SQLite has one writer, which commands wait for: the cases' stored rows are read
            # here, before the write lock (a quarter of the time a batch held it). They are
            # still what is stored if the view set is still at ``position`` when the batch is
            # written (checked then): every write of its rows advances it. (A set being built
            # takes rows by range without moving it; it is read under the lock, as before.)
            with self.target.connect() as conn:
                stored = case_writes.stored_rows(conn, self.view_set, case_ids)
        return _Batch(position, last, case_ids, rows, directory_changed, stored)

    def catch_up(
        self, *, on_progress: Callable[[int], None] | None = None, settle: bool = True
    ) -> int:
        """Project until the end of the log as it is now; returns the position reached.
        ``settle=False``: stop after the first batch that read to the end of the log, rather
        than read again until a read finds nothing (a live follower is woken again by the
        events that arrived meanwhile, and projects them as one batch then)."""
        while True:
            advanced = self.step()
            if on_progress is not None and advanced:
                on_progress(advanced)
            if advanced == 0 or (not settle and not self.behind):
                break
        with self.target.connect() as conn:
            current = get_view_set(conn, self.view_set)
            assert current is not None
            return current.position

    def record_error(self, error: BaseException) -> None:
        with self.target.begin() as conn:
            conn.execute(
                schema.view_sets.update()
                .where(schema.view_sets.c.id == self.view_set)
                .values(error=str(error))
            )


def recorded_by(instant: datetime) -> Include:
    """Only facts written by ``instant``: what the record said then."""

    def include(fact: Fact) -> bool:
        return fact.recorded_at <= instant

    return include
