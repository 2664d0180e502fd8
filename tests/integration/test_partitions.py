"""On PostgreSQL each view set keeps its case rows in partitions of its own: a rebuild loads
bare tables and builds their keys and indexes once, at the end, then attaches them; the live
views never see a half-built set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from ledger.settings import Settings
from projections import partitions, schema
from projections.rebuild import rebuild
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, load
from tests.conftest import Clock, fresh_postgres
from tests.integration.projection_helpers import dump, project
from tests.world import World, build_world


@pytest.fixture
def pg_world(clock: Clock) -> Iterator[World]:
    ledger = Ledger(Settings(database_url=fresh_postgres()), clock=clock)
    try:
        world = build_world(ledger, clock.now)
        for _ in range(6):
            world.register(clock.advance(days=1) - timedelta(hours=3))
        yield world
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def working_days() -> LoadedRules:
    return load(DEFAULT_RULEBOOK.parent / "local-working-days.toml")


def indexes_of(conn: sa.Connection, name: str) -> set[str]:
    return set(
        conn.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": name}
        ).scalars()
    )


def rows_through_parent(conn: sa.Connection, view_set: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(schema.cases.c.view_set == view_set)
        ).scalar_one()
    )


def test_a_rebuild_loads_bare_tables_and_attaches_them_indexed_at_the_end(
    pg_world: World, working_days: LoadedRules
) -> None:
    engine = pg_world.ledger.engine
    name = rebuild(engine, working_days, cases_per_commit=1, stop_after=2)
    bare = partitions.partition_name(schema.cases, name)
    with engine.connect() as conn:
        assert rows_through_parent(conn, name) == 0  # the live views do not see it
        assert 0 < len(dump(engine, name)["rm_cases"]) < 6  # loaded, in its own table
        assert not partitions.is_attached(conn, schema.cases, name)
        assert indexes_of(conn, bare) == set()  # no key, no index while loading

    rebuild(engine, working_days, cases_per_commit=1)
    with engine.connect() as conn:
        assert rows_through_parent(conn, name) == 6
        for table in partitions.PARTITIONED:
            own = partitions.partition_name(table, name)
            assert partitions.is_attached(conn, table, name)
            # every index of the parent has its counterpart, and the key too if it has one
            expected = len(table.indexes) + (1 if table.primary_key.columns else 0)
            assert len(indexes_of(conn, own)) == expected


def test_an_attach_cut_short_is_done_again(
    pg_world: World, working_days: LoadedRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while building the indexes: the next run drops what it had built and builds
    every index again, and the set ends as an uninterrupted rebuild does."""
    engine = pg_world.ledger.engine
    whole = rebuild(engine, working_days, name="uninterrupted")
    name = rebuild(engine, working_days, cases_per_commit=2, stop_after=3)
    calls: list[str] = []
    run_alone: Callable[[sa.Engine, str], None] = partitions._run_alone

    def fail_after_two(engine: sa.Engine, statement: str) -> None:
        if len(calls) == 2:
            raise RuntimeError("killed")
        calls.append(statement)
        run_alone(engine, statement)

    monkeypatch.setattr(partitions, "_run_alone", fail_after_two)
    with pytest.raises(RuntimeError, match="killed"):
        partitions.attach(engine, name, workers=1)
    monkeypatch.setattr(partitions, "_run_alone", run_alone)

    rebuild(engine, working_days)
    assert dump(engine, name) == dump(engine, whole)
    with engine.connect() as conn:
        assert all(partitions.is_attached(conn, t, name) for t in partitions.PARTITIONED)


def test_case_tables_made_before_partitioning_are_made_again_partitioned(
    pg_world: World,
) -> None:
    engine = pg_world.ledger.engine
    schema.create_all(engine)
    plain = sa.MetaData()  # the table as earlier versions made it
    sa.Table("rm_patterns", plain, *(c._copy() for c in schema.patterns.columns))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE rm_patterns"))
    plain.create_all(engine)
    schema.create_all(engine)
    with engine.connect() as conn:
        kind = conn.execute(
            sa.text("SELECT relkind FROM pg_class WHERE relname = 'rm_patterns'")
        ).scalar_one()
    assert kind == "p"


def test_a_view_set_projected_live_has_its_partitions_from_the_start(pg_world: World) -> None:
    views = project(pg_world.ledger, load(DEFAULT_RULEBOOK))
    engine = pg_world.ledger.engine
    with engine.connect() as conn:
        assert rows_through_parent(conn, views.view_set) == 6
        assert all(partitions.is_attached(conn, t, views.view_set) for t in partitions.PARTITIONED)


def test_a_rebuilt_view_sets_statistics_and_board_are_read_from_their_indexes_alone(
    pg_world: World, working_days: LoadedRules
) -> None:
    """The indexes do not sort by the view set a partition holds, but hold it: a query names
    its view set, and one its index covers never reads the table (vacuumed once attached, so
    PostgreSQL knows its pages are all visible)."""
    engine = pg_world.ledger.engine
    name = rebuild(engine, working_days)
    c, r = schema.cases, schema.clock_runs
    with engine.connect() as conn:
        period, clock = conn.execute(
            sa.select(r.c.deadline_period, r.c.clock)
            .where(r.c.view_set == name, r.c.deadline_period.is_not(None))
            .limit(1)
        ).one()
        registered = conn.execute(
            sa.select(c.c.registered_period).where(c.c.view_set == name).limit(1)
        ).scalar_one()
    covered = {
        "rm_cases_registered_period": sa.select(c.c.registering_office, c.c.case_id).where(
            c.c.view_set == name, c.c.registered_period == registered
        ),
        # (filtered as an on-time rate is, by columns the index holds but is not sorted by)
        "rm_clock_runs_deadline_period": sa.select(r.c.unit, r.c.stopped_s).where(
            r.c.view_set == name,
            r.c.deadline_period == period,
            r.c.clock == clock,
            r.c.cancelled.is_(False),
            r.c.deadline_end_s.is_not(None),
            r.c.started_s <= 4e9,
        ),
    }
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")  # (a handful of rows: a scan is
        conn.exec_driver_sql("SET enable_bitmapscan = off")  # cheaper, so forbid it)
        for index, query in covered.items():
            sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN (ANALYZE) {sql}").scalars())
            assert f"Index Only Scan using {index}__" in plan, plan
            assert "rows=0 loops" not in plan, plan  # (rows found, each from the index)
            assert "Heap Fetches: 0" in plan, plan
