"""A build judges the log as it stood when the build began (its target position): what is
written while it runs, the catch-up after it projects. A range read leaves those events out,
whatever the database's statistics make of the query."""

from __future__ import annotations

from datetime import timedelta

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
