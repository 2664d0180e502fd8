"""Rebuilding every view under another rulebook, beside the live ones, and comparing them.

A rebuild streams the log case by case (in aggregate order, so memory does not grow with the
log), judges each case once, and commits its rows together with the last case done: an
interrupted rebuild resumes where it stopped. It then catches up with what was written since
it started, and waits for ``activate``. The events are only ever read.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy_utils.types.uuid import UUIDType

from domain.rulebook import RuleSet
from projections import log, schema
from projections.bulk import insert_tuples
from projections.directory import Directory
from projections.facts import CASE_TOPIC_PREFIX, decode_all, hex_id
from projections.projector import (
    Projector,
    create_view_set,
    get_view_set,
    judged_rows,
    write_directory,
)
from projections.queries import Views, pairs
from projections.rows import Row
from projections.statistics import Statistics
from projections.viewsets import LoadedRules

PARALLEL_FROM_CASES = 5000
PAGE = 5000


RawRow = tuple[int, Any, int, str, bytes]
CaseRows = tuple[str, list[RawRow]]


def _case_pages(conn: sa.Connection, after: str | None, up_to: int) -> Iterator[CaseRows]:
    """(case id, its stored rows up to ``up_to``) in aggregate-id order, after case ``after``.
    Rows stay undecoded: judging (and decoding) may happen in another process."""
    # A row-value comparison and nothing else, so both databases walk the (originator_id,
    # version) index; other aggregates' rows and rows after ``up_to`` are skipped here (a
    # filter on topic made PostgreSQL sort the whole table for every page).
    statement = sa.text(
        f"SELECT id, originator_id, originator_version, topic, state FROM {log.EVENTS_TABLE} "
        "WHERE (originator_id, originator_version) > (:after_id, :v) "
        "ORDER BY originator_id, originator_version LIMIT :page"
    ).bindparams(
        sa.bindparam("after_id", type_=UUIDType()),
    )
    after_id = UUID(hex=after) if after else UUID(int=0)
    version = 2**62 if after else -1  # resuming: every version of ``after`` is done
    current: str | None = None
    rows: list[RawRow] = []
    while True:
        page = conn.execute(
            statement,
            {"after_id": after_id, "v": version, "page": PAGE},
        ).all()
        if not page:
            break
        for position, originator_id, v, topic, state in page:
            if position > up_to or not topic.startswith(CASE_TOPIC_PREFIX):
                continue
            case_id = hex_id(originator_id)
            if case_id != current:
                if current is not None:
                    yield current, rows
                current, rows = case_id, []
            rows.append((position, case_id, v, topic, bytes(state)))
        after_id = UUID(hex=hex_id(page[-1][1]))
        version = page[-1][2]
    if current is not None:
        yield current, rows


def judge_rows(
    view_set: str, chunk: list[CaseRows], rules: RuleSet, directory: Directory
) -> dict[str, list[Row]]:
    """Decode and judge a chunk of cases: their rows for every case table, in column order."""
    case_facts = {case_id: list(decode_all(rows)) for case_id, rows in chunk}
    return judged_rows(view_set, case_facts, rules, directory)


# Worker processes judge chunks of cases; the parent reads the log and writes in order.
_worker: dict[str, Any] = {}


def _init_worker(path: str, directory: Directory) -> None:
    from projections.viewsets import load

    _worker["rules"] = load(path).rules
    _worker["directory"] = directory


def _judge_in_worker(view_set: str, chunk: list[CaseRows]) -> dict[str, list[tuple[Any, ...]]]:
    return judge_rows(view_set, chunk, _worker["rules"], _worker["directory"])


def rebuild(
    engine: sa.Engine,
    loaded: LoadedRules,
    *,
    cases_per_commit: int = 200,
    workers: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
    name: str | None = None,
) -> str:
    """Build (or resume building) the view set of ``loaded`` and catch it up; returns its name.

    ``workers`` processes judge cases in parallel (0: one per core on a long log; 1: in this
    process). ``stop_after`` stops after that many commits (for tests of an interrupted
    rebuild); ``name`` builds under another name than the rulebook's own."""
    schema.create_all(engine)
    name = name or loaded.view_set_name
    with engine.begin() as conn:
        existing = get_view_set(conn, name)
        if existing is None:
            total = log.last_position(conn)
            create_view_set(
                conn,
                name,
                loaded.rules,
                loaded.digest,
                status="building",
                path=str(loaded.path),
                target_position=total,
            )
            existing = get_view_set(conn, name)
    assert existing is not None
    if existing.status == "building":
        target = existing.target_position or 0
        directory = Directory()
        with engine.connect() as conn:
            for fact in log.directory_facts(conn, up_to=target):
                directory.apply(fact)
            case_total = conn.execute(
                sa.text(
                    f"SELECT count(*) FROM {log.EVENTS_TABLE} WHERE topic = :t AND id <= :up_to"
                ),
                {"t": "domain.case:Case.Registered", "up_to": target},
            ).scalar_one()
            resume = conn.execute(
                sa.select(schema.view_sets.c.resume_after).where(schema.view_sets.c.id == name)
            ).scalar()
        done = _done_cases(engine, name)
        if not workers:  # starting processes only pays off on a long log
            workers = (os.cpu_count() or 1) if case_total >= PARALLEL_FROM_CASES else 1
        with engine.connect() as reader:
            chunks = _chunked(_case_pages(reader, resume, target), cases_per_commit)
            for commits, (chunk, rows) in enumerate(
                _judged(chunks, name, loaded, directory, workers), start=1
            ):
                _commit(engine, name, rows, chunk[-1][0])
                done += len(chunk)
                if on_progress:
                    on_progress(done, case_total)
                if stop_after is not None and commits >= stop_after:
                    return name
        with engine.begin() as conn:
            write_directory(conn, name, directory)
            conn.execute(
                schema.view_sets.update()
                .where(schema.view_sets.c.id == name)
                .values(status="ready", position=target)
            )
        if on_progress:
            on_progress(done, case_total)
    Projector(engine, engine, loaded.rules, name).catch_up()
    return name


def _chunked(cases: Iterator[CaseRows], size: int) -> Iterator[list[CaseRows]]:
    chunk: list[CaseRows] = []
    for case in cases:
        chunk.append(case)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _judged(
    chunks: Iterator[list[CaseRows]],
    name: str,
    loaded: LoadedRules,
    directory: Directory,
    workers: int,
) -> Iterator[tuple[list[CaseRows], dict[str, list[tuple[Any, ...]]]]]:
    """Judged chunks in log-reading order; at most two per worker in flight, so memory stays
    flat however long the log."""
    if workers <= 1:
        for chunk in chunks:
            yield chunk, judge_rows(name, chunk, loaded.rules, directory)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(loaded.path), directory),
    ) as pool:
        window: deque[tuple[list[CaseRows], Future[dict[str, list[tuple[Any, ...]]]]]] = deque()
        for chunk in chunks:
            window.append((chunk, pool.submit(_judge_in_worker, name, chunk)))
            if len(window) >= 2 * workers:
                done_chunk, future = window.popleft()
                yield done_chunk, future.result()
        while window:
            done_chunk, future = window.popleft()
            yield done_chunk, future.result()


def _done_cases(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(schema.cases)
                .where(schema.cases.c.view_set == name)
            ).scalar_one()
        )


def _commit(
    engine: sa.Engine, name: str, rows: dict[str, list[tuple[Any, ...]]], last_case: str
) -> None:
    with engine.begin() as conn:
        for table in schema.CASE_TABLES:
            insert_tuples(conn, table, rows[table.name])
        conn.execute(
            schema.view_sets.update()
            .where(schema.view_sets.c.id == name)
            .values(resume_after=last_case)
        )


@dataclass
class MetricChange:
    unit: str
    metric: str
    before: dict[str, Any]
    after: dict[str, Any]
    cases_gained: list[str]  # case numbers counted in the numerator only under B
    cases_lost: list[str]  # only under A


def diff_statistics(a: Statistics, b: Statistics) -> list[MetricChange]:
    """Every statistic that differs between two rulebooks for one period, unit by unit,
    with the cases behind the difference."""
    changes: list[MetricChange] = []
    for table_a, table_b in ((a.offices, b.offices), (a.handling, b.handling)):
        for unit in sorted(set(table_a) | set(table_b)):
            metrics_a, metrics_b = table_a.get(unit, {}), table_b.get(unit, {})
            for metric in sorted(set(metrics_a) | set(metrics_b)):
                ra, rb = metrics_a.get(metric), metrics_b.get(metric)
                da = ra.as_dict() if ra else {"numerator": 0, "denominator": 0, "rate": None}
                db = rb.as_dict() if rb else {"numerator": 0, "denominator": 0, "rate": None}
                if da == db:
                    continue
                ca, cb = set(ra.cases if ra else []), set(rb.cases if rb else [])
                changes.append(MetricChange(unit, metric, da, db, sorted(cb - ca), sorted(ca - cb)))
    return changes


def diff_ranking(a: Statistics, b: Statistics) -> list[dict[str, Any]]:
    before = {r["unit"]: r for r in a.ranking}
    after = {r["unit"]: r for r in b.ranking}
    moved = []
    for unit in sorted(set(before) | set(after)):
        ra, rb = before.get(unit), after.get(unit)
        if ra is None or rb is None or (ra["rank"], ra["score"]) != (rb["rank"], rb["score"]):
            moved.append({"unit": unit, "before": ra, "after": rb})
    return moved


def moved_cases(views_a: Views, views_b: Views) -> list[dict[str, Any]]:
    """Cases whose deadlines or lateness differ between two view sets, clock by clock."""
    r = schema.clock_runs
    c = schema.cases

    def runs(views: Views) -> dict[tuple[str, str, int, float], tuple[date | None, Any]]:
        with views.engine.connect() as conn:
            return {
                (case_id, clock, notice, started): (deadline, late)
                for case_id, clock, notice, started, deadline, late in conn.execute(
                    sa.select(
                        r.c.case_id,
                        r.c.clock,
                        r.c.notice_no,
                        r.c.started_s,
                        r.c.deadline,
                        r.c.late,
                    ).where(r.c.view_set == views.view_set)
                )
            }

    ra, rb = runs(views_a), runs(views_b)
    with views_a.engine.connect() as conn:
        numbers: dict[Any, Any] = pairs(
            conn.execute(
                sa.select(c.c.case_id, c.c.case_number).where(c.c.view_set == views_a.view_set)
            ).all()
        )
    moved = []
    for key in sorted(set(ra) | set(rb)):
        if ra.get(key) != rb.get(key):
            (case_id, clock, notice, _started) = key
            moved.append(
                {
                    "case_id": case_id,
                    "case_number": numbers.get(case_id),
                    "clock": clock,
                    "notice_no": notice,
                    "before": {
                        "deadline": ra.get(key, (None, None))[0],
                        "late": ra.get(key, (None, None))[1],
                    },
                    "after": {
                        "deadline": rb.get(key, (None, None))[0],
                        "late": rb.get(key, (None, None))[1],
                    },
                }
            )
    return moved


def periods(views: Views) -> list[str]:
    """The statistical periods the view set has data in."""
    c = schema.cases
    with views.engine.connect() as conn:
        found: set[str] = set()
        for column in (c.c.registered_period, c.c.accepted_period, c.c.replied_period):
            found.update(
                p
                for (p,) in conn.execute(
                    sa.select(column)
                    .distinct()
                    .where(c.c.view_set == views.view_set, column.is_not(None))
                )
            )
    return sorted(found)
