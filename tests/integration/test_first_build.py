"""On SQLite the view sets share the case tables: a view set built into tables no other view
set has rows in is loaded without their secondary indexes, which are built once at the end;
built beside the live views, it keeps them. Either way it ends with the same rows and every
index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema
from projections.rebuild import rebuild
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, load
from tests.conftest import Clock
from tests.integration.projection_helpers import dump
from tests.world import World, build_world


@pytest.fixture
def sqlite_world(clock: Clock, tmp_path: Path) -> Iterator[World]:
    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3"), clock=clock)
    try:
        world = build_world(ledger, clock.now)
        for _ in range(5):
            case = world.register(clock.advance(days=1) - timedelta(hours=3))
            world.act(case.aggregate_id, "route", world.at_office, clock.now, to_unit=world.housing)
        yield world
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def national() -> LoadedRules:
    return load(DEFAULT_RULEBOOK)


def secondary_indexes(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return {
        str(index["name"])
        for table in schema.CASE_TABLES
        for index in inspector.get_indexes(table.name)
    }


EVERY_INDEX = {str(index.name) for table in schema.CASE_TABLES for index in table.indexes}


def test_a_first_build_defers_the_indexes_and_ends_with_every_one(
    sqlite_world: World, national: LoadedRules
) -> None:
    engine = sqlite_world.ledger.engine
    first = rebuild(engine, national, cases_per_commit=1, stop_after=2)
    assert secondary_indexes(engine) == set()  # loading into tables only it has rows in
    assert 0 < len(dump(engine, first)["rm_cases"]) < 5

    rebuild(engine, national, cases_per_commit=1)
    assert secondary_indexes(engine) == EVERY_INDEX

    beside = rebuild(engine, national, cases_per_commit=1, stop_after=2, name="beside")
    assert secondary_indexes(engine) == EVERY_INDEX  # the first set's queries need them
    rebuild(engine, national, name=beside)
    assert dump(engine, beside) == dump(engine, first)
    assert len(dump(engine, first)["rm_cases"]) == 5


def test_an_interrupted_first_build_leaves_nothing_unindexed_once_the_views_start(
    sqlite_world: World, national: LoadedRules
) -> None:
    engine = sqlite_world.ledger.engine
    rebuild(engine, national, cases_per_commit=1, stop_after=1)
    assert secondary_indexes(engine) == set()
    engine.dispose()  # (the pool's connections from here on are the index build's)
    schema.create_all(engine)  # what the API, the projector and every view command run first
    assert secondary_indexes(engine) == EVERY_INDEX
    # (built with settings of their own, where SQLite sorts the keys, not kept in the pool)
    with ExitStack() as pooled:
        idle = [pooled.enter_context(engine.connect()) for _ in range(engine.pool.checkedin())]
        caches = [conn.exec_driver_sql("PRAGMA cache_size").scalar() for conn in idle]
        helpers = [conn.exec_driver_sql("PRAGMA threads").scalar() for conn in idle]
    assert idle and -schema.SQLITE_SORT_KIB not in caches and set(helpers) == {0}


def test_a_rebuild_logs_how_long_each_phase_took(
    sqlite_world: World, national: LoadedRules, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="projections.rebuild")
    name = rebuild(sqlite_world.ledger.engine, national, cases_per_commit=2)
    phases = [r for r in caplog.records if hasattr(r, "phase")]
    assert [r.phase for r in phases] == ["ranges", "indexes", "repeats", "catch-up"]
    assert all(r.seconds >= 0 and name in r.getMessage() for r in phases)
