"""Rebuilding every view under another rulebook, beside the live ones, and comparing them.

A rebuild reads the log range by range of cases (in aggregate order, so memory does not grow
with the log), judges each case once, and commits each range's rows together with where the
range ends: an interrupted rebuild resumes where it stopped (see :mod:`projections.building`).
It then catches up with what was written since it started, and waits for ``activate``. The
events are only ever read.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

import sqlalchemy as sa

from domain.rulebook import RuleSet
from projections import delay_totals, log, partitions, repeats, schema
from projections.building import build_in_workers, build_range, defer_indexes, ranges
from projections.directory import Directory
from projections.projector import (
    Projector,
    create_view_set,
    get_view_set,
    write_directory,
)
from projections.queries import Views
from projections.statistics import Ratio, Statistics
from projections.viewsets import LoadedRules

PARALLEL_FROM_CASES = 5000

logger = logging.getLogger(__name__)


@contextmanager
def _phase(name: str, phase: str) -> Iterator[None]:
    """Log how long one phase of a rebuild took (``extra``: ``phase``, ``seconds``), so an
    operator, and the scale benchmark, see where a long rebuild spent its time."""
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    logger.info(
        "view set %s: %s in %.1f s",
        name,
        phase,
        seconds,
        extra={"phase": phase, "seconds": seconds},
    )


def rebuild(
    engine: sa.Engine,
    loaded: LoadedRules,
    *,
    cases_per_commit: int = 1000,
    workers: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
    name: str | None = None,
    views: sa.Engine | None = None,
) -> str:
    """Build (or resume building) the view set of ``loaded`` and catch it up; returns its name.

    ``workers`` processes build ranges of cases in parallel (0: one per core on a long log;
    1: all in this process). ``stop_after`` stops after that many commits (for tests of an
    interrupted rebuild); ``name`` builds under another name than the rulebook's own;
    ``views``: the database the views are kept in, if not the log's."""
    into = views or engine
    schema.create_all(into)
    name = name or loaded.view_set_name
    with engine.connect() as conn:
        total = log.last_position(conn)
    with into.begin() as conn:
        existing = get_view_set(conn, name)
        if existing is None:
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
            events, case_total = conn.execute(
                sa.text(
                    f"SELECT count(*), count(CASE WHEN topic = :t THEN 1 END) "
                    f"FROM {log.EVENTS_TABLE} WHERE id <= :up_to"
                ),
                {"t": "domain.case:Case.Registered", "up_to": target},
            ).one()
        with into.connect() as conn:
            resume = conn.execute(
                sa.select(schema.view_sets.c.resume_after).where(schema.view_sets.c.id == name)
            ).scalar()
        done = _done_cases(into, name)
        if not workers:  # starting processes only pays off on a long log
            workers = (os.cpu_count() or 1) if case_total >= PARALLEL_FROM_CASES else 1
        # Ranges of about ``cases_per_commit`` cases, measured in events.
        events_per_range = max(1, round(cases_per_commit * events / max(case_total, 1)))

        commits = 0

        def counted(cases: int) -> None:
            nonlocal done, commits
            done, commits = done + cases, commits + 1
            if on_progress:
                on_progress(done, case_total)

        defer_indexes(into, name)
        with engine.connect() as cutter, _phase(name, "ranges"):
            # Workers start together, so the second range's commit would wait for the whole
            # of the first one's: the first range is half as long, so that it is in by then.
            first = max(1, events_per_range // 2) if workers > 1 else None
            parts = islice(ranges(cutter, resume, events_per_range, first=first), stop_after)
            if workers <= 1:
                for part in parts:
                    counted(
                        build_range(engine, name, part, target, loaded.rules, directory, views=into)
                    )
            else:
                build_in_workers(
                    engine,
                    name,
                    parts,
                    target,
                    str(loaded.path),
                    directory,
                    workers,
                    counted,
                    views=into,
                )
        if stop_after is not None and commits >= stop_after:
            return name
        chosen = None
        with _phase(name, "indexes"):
            if partitions.applies(into):
                partitions.attach(into, name, workers=workers)
            else:
                chosen = _indexed_counting(into, name, loaded.rules)
        with _phase(name, "repeats"), into.begin() as conn:
            write_directory(conn, name, directory)
            if chosen is None:
                delay_totals.recount(conn, name)
                repeats.decide_all(conn, name, loaded.rules)
            else:
                chosen_repeats, totals = chosen
                delay_totals.write(conn, name, totals)
                repeats.write_all(conn, name, chosen_repeats)
            conn.execute(
                schema.view_sets.update()
                .where(schema.view_sets.c.id == name)
                .values(status="ready", position=target)
            )
        if on_progress:
            on_progress(done, case_total)
    with _phase(name, "catch-up"):
        Projector(engine, into, loaded.rules, name).catch_up()
    return name


def _indexed_counting(
    into: sa.Engine, name: str, rules: RuleSet
) -> tuple[repeats.Chosen, delay_totals.Counted] | None:
    """SQLite: the indexes a build into empty tables deferred, built by the one writer, and
    meanwhile, on another connection, the repeats chosen from the petitioner rows (read in
    their index's order, so its indexes come first) and the delay board's totals counted:
    the index builds keep only about one and a half of two cores busy. None: neither done
    (a database in memory has one connection, which builds the indexes)."""
    if into.url.database in (None, "", ":memory:"):
        schema.create_all(into)
        return None

    def choose() -> tuple[repeats.Chosen, delay_totals.Counted]:
        with into.connect() as reader, schema.small_cache(reader):
            return repeats.choose_all(reader, name, rules), delay_totals.count(reader, name)

    schema.create_indexes(into, [schema.case_petitioners])
    with ThreadPoolExecutor(1) as pool:
        choosing = pool.submit(choose)
        schema.create_all(into)
        return choosing.result()


def _done_cases(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(schema.cases)
                .where(schema.cases.c.view_set == name)
            ).scalar_one()
        )


@dataclass
class MetricChange:
    unit: str
    metric: str
    before: dict[str, Any]
    after: dict[str, Any]
    cases_gained: list[str]  # case numbers counted in the numerator only under B
    cases_lost: list[str]  # only under A


Figure = tuple[str, str, Ratio | None, Ratio | None]
"""A unit, a metric, and its figure under A and under B (None: no figure)."""


def differing_figures(a: Statistics, b: Statistics) -> list[Figure]:
    """The figures that differ between two rulebooks for one period, unit by unit, as they
    are (a page of them made into :class:`MetricChange` by :func:`metric_change`)."""
    found: list[Figure] = []
    for table_a, table_b in ((a.offices, b.offices), (a.handling, b.handling)):
        for unit in sorted(set(table_a) | set(table_b)):
            metrics_a, metrics_b = table_a.get(unit, {}), table_b.get(unit, {})
            for metric in sorted(set(metrics_a) | set(metrics_b)):
                ra, rb = metrics_a.get(metric), metrics_b.get(metric)
                # (the same fraction is the same rate)
                if _fraction(ra) != _fraction(rb):
                    found.append((unit, metric, ra, rb))
    return found


def metric_change(figure: Figure) -> MetricChange:
    unit, metric, ra, rb = figure
    da = ra.as_dict() if ra else {"numerator": 0, "denominator": 0, "rate": None}
    db = rb.as_dict() if rb else {"numerator": 0, "denominator": 0, "rate": None}
    ca, cb = set(ra.cases if ra else []), set(rb.cases if rb else [])
    return MetricChange(unit, metric, da, db, sorted(cb - ca), sorted(ca - cb))


def diff_statistics(a: Statistics, b: Statistics) -> list[MetricChange]:
    """Every statistic that differs between two rulebooks for one period, unit by unit,
    with the cases behind the difference."""
    return [metric_change(figure) for figure in differing_figures(a, b)]


def _fraction(ratio: Ratio | None) -> tuple[int, int]:
    return (ratio.numerator, ratio.denominator) if ratio else (0, 0)


def diff_ranking(a: Statistics, b: Statistics) -> list[dict[str, Any]]:
    before = {r["unit"]: r for r in a.ranking}
    after = {r["unit"]: r for r in b.ranking}
    moved = []
    for unit in sorted(set(before) | set(after)):
        ra, rb = before.get(unit), after.get(unit)
        if ra is None or rb is None or (ra["rank"], ra["score"]) != (rb["rank"], rb["score"]):
            moved.append({"unit": unit, "before": ra, "after": rb})
    return moved


RunKey = tuple[str, str, int, float]  # case, clock, notice, started
RunJudgment = tuple[Any, Any]  # deadline, late


def _runs(
    conn: sa.Connection, view_set: str, after: str | None = None, last: str | None = None
) -> dict[RunKey, RunJudgment]:
    """The clock runs of a view set (of the cases after ``after`` up to ``last``, if given)
    with their deadline and lateness."""
    r = schema.clock_runs
    query = sa.select(
        r.c.case_id, r.c.clock, r.c.notice_no, r.c.started_s, r.c.deadline, r.c.late
    ).where(r.c.view_set == view_set)
    if after is not None:
        query = query.where(r.c.case_id > after)
    if last is not None:
        query = query.where(r.c.case_id <= last)
    return {
        (case_id, clock, notice, started): (deadline, late)
        for case_id, clock, notice, started, deadline, late in conn.execute(query)
    }


def _moved(
    ra: dict[RunKey, RunJudgment], rb: dict[RunKey, RunJudgment]
) -> Iterator[tuple[RunKey, dict[str, Any]]]:
    """The runs whose deadline or lateness differ, in order, with what each was under A and
    is under B."""
    for key in sorted(set(ra) | set(rb)):
        before, after = ra.get(key, (None, None)), rb.get(key, (None, None))
        if before != after:
            yield (
                key,
                {
                    "case_id": key[0],
                    "clock": key[1],
                    "notice_no": key[2],
                    "before": {"deadline": before[0], "late": before[1]},
                    "after": {"deadline": after[0], "late": after[1]},
                },
            )


def _numbered(entry: dict[str, Any], numbers: dict[Any, Any]) -> dict[str, Any]:
    return {"case_id": entry["case_id"], "case_number": numbers.get(entry["case_id"]), **entry}


MOVED_RANGE_CASES = 4000
"""The most cases whose clock runs a comparison of two view sets holds at once."""


def _moved_by_range(
    conn: sa.Connection,
    views_a: Views,
    views_b: Views,
    after: str | None,
    chunk: int,
    most_cases: int,
) -> Iterator[list[tuple[RunKey, dict[str, Any]]]]:
    """The runs that moved, of the cases after ``after``, a range of cases at a time (read by
    key from both view sets: memory bounded by the range, not the log). A range starts at
    ``chunk`` cases and doubles up to ``most_cases``. The last range runs to the end of both
    view sets, so a case only B has (built later, from a longer log) is compared too."""
    c = schema.cases
    while True:
        ids = list(
            conn.execute(
                sa.select(c.c.case_id)
                .where(c.c.view_set == views_a.view_set, c.c.case_id > (after or ""))
                .order_by(c.c.case_id)
                .limit(chunk)
            ).scalars()
        )
        last = ids[-1] if len(ids) == chunk else None
        ra = _runs(conn, views_a.view_set, after or "", last)
        rb = _runs(conn, views_b.view_set, after or "", last)
        yield list(_moved(ra, rb))
        if last is None:
            return
        after = last
        chunk = min(chunk * 2, most_cases)


def _case_numbers(
    conn: sa.Connection, views_a: Views, views_b: Views, case_ids: set[str]
) -> dict[Any, Any]:
    """Case numbers from A, and from B for a case only B has."""
    numbers = views_a.case_numbers(conn, case_ids)
    if missing := case_ids - set(numbers):
        numbers |= views_b.case_numbers(conn, missing)
    return numbers


def iter_moved_cases(
    views_a: Views, views_b: Views, *, range_cases: int = MOVED_RANGE_CASES
) -> Iterator[dict[str, Any]]:
    """Cases whose deadlines or lateness differ between two view sets, clock by clock, in
    case order, read ``range_cases`` cases at a time (a rule diff of a million cases holds
    one range, not both view sets' every clock run)."""
    with views_a.engine.connect() as conn:
        for moved in _moved_by_range(conn, views_a, views_b, None, range_cases, range_cases):
            numbers = _case_numbers(conn, views_a, views_b, {key[0] for key, _ in moved})
            for _, entry in moved:
                yield _numbered(entry, numbers)


def moved_cases(views_a: Views, views_b: Views) -> list[dict[str, Any]]:
    """:func:`iter_moved_cases`, as a list."""
    return list(iter_moved_cases(views_a, views_b))


def moved_page(
    views_a: Views,
    views_b: Views,
    *,
    limit: int,
    after: str | None = None,
    visible: Callable[[set[str]], set[str]] | None = None,
    most_cases: int = MOVED_RANGE_CASES,
) -> tuple[list[dict[str, Any]], str | None]:
    """:func:`moved_cases` a page at a time: the runs of the cases after ``after`` (a case
    id), whole cases until at least ``limit`` runs, and the case to continue after (None at
    the end). A page costs the same wherever it starts, and no request reads both view sets
    whole; the first range is ``limit`` cases, so a page reads little more than it shows
    where much moved, and few ranges where little did. ``visible``: keeps the cases the user
    sees."""
    page: list[dict[str, Any]] = []
    with views_a.engine.connect() as conn:

        def numbered(next_after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            numbers = _case_numbers(conn, views_a, views_b, {entry["case_id"] for entry in page})
            return [_numbered(entry, numbers) for entry in page], next_after

        for moved in _moved_by_range(conn, views_a, views_b, after, max(limit, 1), most_cases):
            cases = {key[0] for key, _ in moved}
            if visible is not None and cases:
                cases = visible(cases)
            for (case_id, *_), entry in moved:
                if case_id not in cases:
                    continue
                if len(page) >= limit and page[-1]["case_id"] != case_id:
                    return numbered(page[-1]["case_id"])  # whole cases on a page
                page.append(entry)
        return numbered(None)


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
