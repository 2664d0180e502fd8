"""Writing a case's new judgment over its stored rows: afterwards the case has exactly its new
rows, every other case keeps its own, and on SQLite a row that did not change is not written
again (deleting and inserting it only dirtied index pages the commit then wrote out)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from projections import case_writes, log, schema
from projections.bulk import insert_tuples
from projections.directory import Directory
from projections.facts import hex_id
from projections.projector import judged_rows
from projections.rows import Row
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import Clock
from tests.integration.projection_helpers import project
from tests.world import World


def _three_cases(world: World, clock: Clock, *, delays: bool = True) -> tuple[str, list[str], str]:
    """A view set with three routed cases (and, with ``delays``, delay rows of each written
    beside them)."""
    ids = []
    for _ in range(3):
        case = world.register(clock.advance(days=1) - timedelta(hours=3))
        world.act(case.aggregate_id, "route", world.at_office, clock.now, to_unit=world.housing)
        ids.append(hex_id(case.aggregate_id))
    views = project(world.ledger, load(DEFAULT_RULEBOOK))
    if not delays:
        return views.view_set, ids[:2], ids[2]
    with world.ledger.projection_engine.begin() as conn:
        for n, case_id in enumerate(ids):
            insert_tuples(conn, schema.delay_parts, [_part(views.view_set, case_id, n, 3600.0)])
            insert_tuples(conn, schema.delay_cases, [_delayed(views.view_set, case_id, n)])
    return views.view_set, ids[:2], ids[2]


def _part(view_set: str, case_id: str, n: int, overdue_s: float) -> Row:
    return (view_set, case_id, "unit", f"unit-{n}", "handling", overdue_s, 1.7e9 + n)


def _delayed(view_set: str, case_id: str, n: int) -> Row:
    return (view_set, case_id, "unit", f"unit-{n}", 3600.0, 1.7e9 + n, True, f"X-{n}")


def _rows(conn: sa.Connection, view_set: str, case_ids: list[str]) -> dict[str, Counter[Row]]:
    stored = case_writes.stored_rows(conn, view_set, case_ids, schema.CASE_TABLES)
    return {name: Counter(rows) for name, rows in stored.items()}


def _changed(row: Row, table: sa.Table, column: str, value: Any) -> Row:
    position = list(table.columns).index(table.c[column])
    return (*row[:position], value, *row[position + 1 :])


def test_a_case_rewritten_has_its_new_rows_and_the_others_keep_theirs(
    world: World, clock: Clock
) -> None:
    view_set, (first, second), bystander = _three_cases(world, clock)
    engine = world.ledger.projection_engine
    with engine.connect() as conn:
        before = case_writes.stored_rows(conn, view_set, [first, second], schema.CASE_TABLES)
        untouched = _rows(conn, view_set, [bystander])
    new = {name: list(rows) for name, rows in before.items()}
    cases, custody = schema.cases, schema.custody
    # The first case: its summary and its first custody interval changed, a custody interval
    # gone, a delay part changed and a delayed case added. The second: its delay parts gone.
    new[cases.name] = [
        _changed(r, cases, "registered_s", r[list(cases.columns).index(cases.c.registered_s)] + 1)
        if r[1] == first
        else r
        for r in new[cases.name]
    ]
    firsts = [r for r in new[custody.name] if r[1] == first]
    assert len(firsts) >= 2, "the story gives the first case two custody intervals"
    new[custody.name] = [
        _changed(firsts[0], custody, "handler", "someone-else"),
        *(r for r in new[custody.name] if r[1] != first),
    ]
    new[schema.delay_parts.name] = [_part(view_set, first, 0, 7200.0)]
    new[schema.delay_cases.name].append(_delayed(view_set, first, 9))
    with engine.begin() as conn:
        old = case_writes.replace_cases(conn, view_set, [first, second], new)
    for table in case_writes.READ_BEFORE:
        assert Counter(old[table.name]) == Counter(before[table.name])
    with engine.connect() as conn:
        assert _rows(conn, view_set, [first, second]) == {
            name: Counter(rows) for name, rows in new.items()
        }
        assert _rows(conn, view_set, [bystander]) == untouched


# (PostgreSQL writes a case's rows whole: ``case_writes.replace_cases`` says why)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_only_the_rows_that_changed_are_written(world: World, clock: Clock) -> None:
    view_set, (first, second), _ = _three_cases(world, clock, delays=False)
    engine = world.ledger.projection_engine
    with world.ledger.engine.connect() as conn:  # (the log)
        directory = Directory()
        for fact in log.directory_facts(conn):
            directory.apply(fact)
        facts = log.facts_of(conn, [first, second])
    # The judgment stored, judged again: the same values, whatever types the driver reads.
    again = judged_rows(view_set, facts, load(DEFAULT_RULEBOOK).rules, directory)
    new = {name: list(rows) for name, rows in again.items()}
    custody = schema.custody
    mine = next(r for r in new[custody.name] if r[1] == first)
    new[custody.name] = [
        _changed(r, custody, "handler", "someone-else") if r == mine else r
        for r in new[custody.name]
    ]

    def rows_written(rows: dict[str, list[Row]]) -> int:
        with engine.begin() as conn:
            sqlite = conn.connection.driver_connection
            counted = sqlite.total_changes  # type: ignore[union-attr]
            case_writes.replace_cases(conn, view_set, [first, second], rows)
            return int(sqlite.total_changes - counted)  # type: ignore[union-attr]

    assert rows_written(again) == 0  # the same judgment again: nothing written
    assert rows_written(new) == 2  # one interval: deleted and inserted
