"""A build judges the log as it stood when the build began (its target position): what is
written while it runs, the catch-up after it projects. A range read leaves those events out,
whatever the database's statistics make of the query."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from projections import building, log
from projections.facts import hex_id
from tests.conftest import Clock
from tests.world import World


def test_a_range_reads_its_cases_only_up_to_the_builds_target(world: World, clock: Clock) -> None:
    early = world.register(clock.advance(days=1) - timedelta(hours=3))
    engine = world.ledger.engine
    with engine.connect() as conn:
        target = log.last_position(conn)
    # written once the build began: a later step of the early case, and a case of its own
    world.act(early.aggregate_id, "route", world.at_office, clock.now, to_unit=world.housing)
    world.register(clock.now - timedelta(hours=3))
    with engine.connect() as conn:
        cases = building._case_rows(conn, building.Range(0, None, None), target)
        everything = building._case_rows(
            conn, building.Range(0, None, None), log.last_position(conn)
        )
    assert [case_id for case_id, _ in cases] == [hex_id(early.aggregate_id)]
    (rows,) = [rows for _, rows in cases]
    assert rows and all(row[0] <= target for row in rows)
    assert len(everything) == 2
    assert len(dict(everything)[hex_id(early.aggregate_id)]) > len(rows)


def test_ranges_cover_every_aggregate_once_in_order_the_first_as_long_as_asked(
    world: World, clock: Clock
) -> None:
    for day in range(6):
        world.register(clock.advance(days=1) - timedelta(hours=3 + day))
    engine = world.ledger.engine
    with engine.connect() as conn:
        aggregates = [
            hex_id(found)
            for found in conn.exec_driver_sql(
                f"SELECT DISTINCT originator_id FROM {log.EVENTS_TABLE} ORDER BY originator_id"
            ).scalars()
        ]
        cut = list(building.ranges(conn, None, 5, first=1))
    assert [part.index for part in cut] == list(range(len(cut)))
    # the first range is the first aggregate alone (the one of its first event)
    assert (cut[0].after, cut[0].last) == (None, aggregates[0])
    assert cut[-1].last is None
    assert all(a.last == b.after for a, b in pairwise(cut))
    assert 1 < len(cut) < len(aggregates)  # the others hold about five events each
