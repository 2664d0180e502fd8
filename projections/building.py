"""Building a view set from the log, one range of aggregates per commit.

The log is cut into ranges of aggregate ids, each about ``events_per_range`` events long (the
boundaries are read off the (originator_id, version) index, so cutting costs almost nothing
and memory does not grow with the log). A range is read, decoded, judged and written in one
go; its rows are committed together with the range's upper bound (``resume_after``), so the
commits must land in range order: an interrupted build resumes after the last range committed,
and nothing is written twice or skipped.

With worker processes, each worker builds whole ranges, reading and writing through its own
connection; only the commits take turns, in range order. The parent only cuts ranges and
counts: nothing judged crosses a process boundary.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy_utils.types.uuid import UUIDType

from domain.rulebook import RuleSet
from ledger.persistence import engine_options
from projections import log, partitions, schema
from projections.bulk import insert_tuples
from projections.directory import Directory
from projections.facts import CASE_TOPIC_PREFIX, decode_all, hex_id
from projections.projector import judged_rows
from projections.rows import Row


@dataclass(frozen=True)
class Range:
    """The aggregates with ids in (after, last]: ``after`` None is the start of the log,
    ``last`` None its end."""

    index: int
    after: str | None
    last: str | None


def ranges(
    conn: sa.Connection, after: str | None, events_per_range: int, *, first: int | None = None
) -> Iterator[Range]:
    """Consecutive ranges from ``after`` on, each ending with the aggregate of about the
    ``events_per_range``-th event after its start (the first of them: ``first``, if given),
    an aggregate never split."""
    statement = sa.text(
        f"SELECT originator_id FROM {log.EVENTS_TABLE} WHERE originator_id > :after "
        "ORDER BY originator_id, originator_version LIMIT 1 OFFSET :skip"
    ).bindparams(sa.bindparam("after", type_=UUIDType()))
    index = 0
    while True:
        start = UUID(hex=after) if after else UUID(int=0)
        size = first if first is not None and index == 0 else events_per_range
        found = conn.execute(statement, {"after": start, "skip": size - 1}).scalar()
        if found is None:
            yield Range(index, after, None)
            return
        last = hex_id(found)
        yield Range(index, after, last)
        after, index = last, index + 1


RANGE_SORT_MEMORY = "64MB"
"""PostgreSQL's ``work_mem`` for reading a range: room to sort its rows in memory."""


def _case_rows(conn: sa.Connection, part: Range, up_to: int) -> list[tuple[str, list[Any]]]:
    """(case id, its stored rows up to ``up_to``) for the cases in the range, in id order."""
    bounds = []
    values: dict[str, Any] = {"cases": CASE_TOPIC_PREFIX + "%"}
    if part.after is not None:
        bounds.append("originator_id > :after")
        values["after"] = UUID(hex=part.after)
    if part.last is not None:
        bounds.append("originator_id <= :last")
        values["last"] = UUID(hex=part.last)
    statement = sa.text(
        f"SELECT {log.columns(conn)} FROM {log.EVENTS_TABLE} WHERE "
        # (no bound on the position here: without statistics of the events table PostgreSQL
        # met one by scanning its whole key, once per range; events past ``up_to``, written
        # since the build began, are skipped below)
        + " AND ".join([*bounds, "topic LIKE :cases"])
        + " ORDER BY originator_id, originator_version"
    ).bindparams(
        *(sa.bindparam(name, type_=UUIDType()) for name in ("after", "last") if name in values)
    )
    if conn.dialect.name == "postgresql":
        # Ranges are read side by side, one per worker: parallel workers for each read cost
        # more than they saved (a rebuild's ranges 7 % slower at 0.9M events).
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        # A range's rows (about 5 MB at 1,000 cases) sorted in memory, not spilled to disk as
        # in the default 4 MB (the server's time for a 100k log's ranges: 156-182 -> 140 ms).
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{RANGE_SORT_MEMORY}'")
    cases: list[tuple[str, list[Any]]] = []
    current = None
    # The driver's rows as they are: no result objects for rows read once.
    rows = conn.execute(statement, values).cursor.fetchall()  # type: ignore[union-attr]
    for position, originator_id, version, topic, state in rows:
        if position > up_to:
            continue
        case_id = hex_id(originator_id)
        if case_id != current:
            current = case_id
            cases.append((case_id, []))
        cases[-1][1].append((position, case_id, version, topic, state))
    return cases


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Judging allocates millions of short-lived, acyclic objects (freed as they go by
    reference counting); the cycle collector would scan them again and again for nothing.
    Held around a range's whole build, so that it is on again only once the range's objects
    are gone: enabled while they lived, its first pass walked them all (6 % of a worker)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def judge_range(
    conn: sa.Connection,
    view_set: str,
    part: Range,
    up_to: int,
    rules: RuleSet,
    directory: Directory,
) -> tuple[dict[str, list[Row]], int, str | None]:
    """The rows of every case in the range, how many cases, and where the range ends (its
    bound, or its last case if it runs to the end of the log)."""
    cases = _case_rows(conn, part, up_to)
    facts = {case_id: list(decode_all(rows)) for case_id, rows in cases}
    rows = judged_rows(view_set, facts, rules, directory)
    end = part.last if part.last is not None else (cases[-1][0] if cases else part.after)
    return rows, len(cases), end


def defer_indexes(engine: sa.Engine, view_set: str) -> None:
    """SQLite: if no other view set has case rows, drop the case tables' secondary indexes
    for the build (``schema.create_all`` builds each again once the last range is in, from
    sorted keys): inserting every row into five B-trees as it comes was a fifth of a
    one-process rebuild into empty tables. Beside another view set's rows (the live views)
    they stay, as its queries need them. (An interrupted build leaves them dropped; anything
    that starts the views, ``create_all``, makes them again.)"""
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL: a rebuild loads bare partitions (projections.partitions)
    with engine.begin() as conn:
        for table in schema.CASE_TABLES:
            other = conn.execute(
                sa.select(table.c.view_set).where(table.c.view_set != view_set).limit(1)
            ).first()
            if other is not None:
                return
        for table in schema.CASE_TABLES:
            for index in table.indexes:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")


SQLITE_CACHE_KIB = 32 * 1024
"""SQLite page cache of a connection writing ranges: the read-model indexes outgrow the 2 MiB
default on a long log, and every insert into them would then go through the OS."""


def write_case_rows(conn: sa.Connection, view_set: str, rows: dict[str, list[Row]]) -> None:
    """A range's rows of the case tables (on PostgreSQL, into the view set's own tables,
    indexed once the last range is in: :mod:`projections.partitions`)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    bare = partitions.applies(conn)
    for table in schema.CASE_TABLES:
        into = partitions.partition_name(table, view_set) if bare else None
        insert_tuples(conn, table, rows[table.name], into=into)


def commit_range(
    conn: sa.Connection,
    view_set: str,
    rows: dict[str, list[Row]],
    end: str | None,
    *,
    rows_written: bool = False,
) -> None:
    """Write a range (its case rows, unless ``rows_written``) and where the view set resumes
    after it. (What adds up across ranges is worked out once the last range is in: the delay
    board's totals, ``delay_totals.recount``, and the repeats, ``repeats.decide_all``.)"""
    if not rows_written:
        write_case_rows(conn, view_set, rows)
    if end is not None:
        conn.execute(
            schema.view_sets.update()
            .where(schema.view_sets.c.id == view_set)
            .values(resume_after=end)
        )


def build_range(
    engine: sa.Engine,
    view_set: str,
    part: Range,
    up_to: int,
    rules: RuleSet,
    directory: Directory,
    *,
    views: sa.Engine | None = None,
) -> int:
    """Build one range of the log of ``engine`` into ``views`` (the same database unless
    told) in this process; returns how many cases it held."""
    with _no_cycle_collection():
        with engine.connect() as conn:
            rows, count, end = judge_range(conn, view_set, part, up_to, rules, directory)
        with (views or engine).begin() as conn:
            commit_range(conn, view_set, rows, end)
        return count


# ---------------------------------------------------------------- worker processes

_worker: dict[str, Any] = {}

NEVER = 2**62


def _init_worker(
    url: str,
    views_url: str,
    rulebook: str,
    directory: Directory,
    turn: Any,
    next_commit: Any,
    stop_from: Any,
) -> None:
    from projections.viewsets import load

    gc.freeze()  # what the parent had is long-lived: never scanned (nor copied) again
    engine = sa.create_engine(url, **engine_options(url))
    _worker.update(
        engine=engine,
        views=engine
        if views_url == url
        else sa.create_engine(views_url, **engine_options(views_url)),
        rules=load(rulebook).rules,
        directory=directory,
        turn=turn,
        next_commit=next_commit,
        stop_from=stop_from,
    )


def _build_in_worker(view_set: str, part: Range, up_to: int) -> int | None:
    """Build one range; commit it when every range before it is committed. None: an earlier
    range failed, so this one must not be committed (resuming after it would skip that one)."""
    with _no_cycle_collection():
        return _build_and_commit(view_set, part, up_to)


def _build_and_commit(view_set: str, part: Range, up_to: int) -> int | None:
    engine, views, turn = _worker["engine"], _worker["views"], _worker["turn"]
    next_commit, stop_from = _worker["next_commit"], _worker["stop_from"]
    try:
        if part.index >= stop_from.value:
            return None
        with engine.connect() as conn:
            rows, count, end = judge_range(
                conn, view_set, part, up_to, _worker["rules"], _worker["directory"]
            )
        # PostgreSQL takes concurrent inserts of distinct keys: a range's case rows go in
        # while earlier ranges commit, and only its totals and resume point wait for
        # its turn (on SQLite, one writer at a time, the whole write waits).
        early = views.dialect.name == "postgresql"
        with views.connect() as conn, conn.begin() as transaction:
            if early:
                # (waiting for the turn inside the transaction is expected, not idleness)
                conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
                write_case_rows(conn, view_set, rows)
            if not _wait_for_turn(turn, next_commit, stop_from, part.index):
                transaction.rollback()  # an earlier range failed: nothing of this one stays
                return None
            commit_range(conn, view_set, rows, end, rows_written=early)
    except BaseException:
        with turn:
            stop_from.value = min(stop_from.value, part.index)
            turn.notify_all()
        raise
    with turn:
        next_commit.value = part.index + 1
        turn.notify_all()
    return count


def _wait_for_turn(turn: Any, next_commit: Any, stop_from: Any, index: int) -> bool:
    """Wait until every range before ``index`` is committed; False if one of them failed."""
    with turn:
        while next_commit.value != index:
            if index >= stop_from.value:
                return False
            turn.wait(1.0)
    return True


def start_method() -> str:
    """Forked workers start at once with everything imported; but a fork copies only the
    calling thread, so with other threads running (the CLI's progress bar) a lock one of
    them holds could stay locked in the child: then the workers come from a fork server."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def build_in_workers(
    engine: sa.Engine,
    view_set: str,
    parts: Iterator[Range],
    up_to: int,
    rulebook: str,
    directory: Directory,
    workers: int,
    on_range: Callable[[int], None],
    *,
    views: sa.Engine | None = None,
) -> None:
    """Build the ranges (numbered from 0) in ``workers`` processes, at most two each in
    flight, so memory stays flat however long the log; ``on_range`` gets each range's case
    count, in order."""
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":  # its workers then start with the judge already imported
        context.set_forkserver_preload([__name__])
    turn = context.Condition()
    next_commit = context.Value("q", 0, lock=False)  # guarded by ``turn``
    stop_from = context.Value("q", NEVER, lock=False)
    url = engine.url.render_as_string(hide_password=False)
    views_url = (views or engine).url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(url, views_url, rulebook, directory, turn, next_commit, stop_from),
    ) as pool:
        window: deque[Future[int | None]] = deque()
        try:
            for part in parts:
                window.append(pool.submit(_build_in_worker, view_set, part, up_to))
                if len(window) >= 2 * workers:
                    _report(window.popleft(), on_range)
            while window:
                _report(window.popleft(), on_range)
        except BaseException:
            with turn:  # nothing more is committed; what was is a complete prefix
                stop_from.value = 0
                turn.notify_all()
            raise


def _report(future: Future[int | None], on_range: Callable[[int], None]) -> None:
    count = future.result()  # an earlier range's failure was raised before this one's None
    if count is None:
        raise RuntimeError("a range was not committed because an earlier one failed")
    on_range(count)
