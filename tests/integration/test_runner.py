"""The live projector follows the log by itself: pushed by NOTIFY on PostgreSQL, polling on
SQLite; it catches up after downtime, and stops loudly on a fact it cannot judge."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from projections import schema
from projections.projector import ProjectorStopped
from projections.runner import Runner, lag
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import Clock
from tests.world import World

NATIONAL = load(DEFAULT_RULEBOOK)


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def cases_written_before_the_views(world: World, clock: Clock, cases: int) -> tuple[sa.Engine, str]:
    """``cases`` cases registered a day apart while no projector ran, and the live view
    set, still empty."""
    from projections.viewsets import ensure_live

    clock.now = datetime(2025, 3, 10, tzinfo=UTC)
    for day in range(cases):
        world.register(clock.now - timedelta(days=day, hours=3))
    return world.ledger.engine, ensure_live(world.ledger.engine, NATIONAL)


def record_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every read of the log a projector makes from now on: (from position, limit)."""
    import projections.log as log

    reads: list[tuple[int, int]] = []
    real_facts_after = log.facts_after

    def recording(conn: sa.Connection, position: int, limit: int) -> object:
        reads.append((position, limit))
        return real_facts_after(conn, position, limit)

    monkeypatch.setattr(log, "facts_after", recording)
    return reads


def test_the_projector_follows_new_events_and_catches_up_after_downtime(
    world: World, clock: Clock
) -> None:
    ledger: Ledger = world.ledger
    clock.now = datetime(2025, 3, 10, tzinfo=UTC)
    world.register(clock.now - timedelta(days=1))  # written while no projector ran
    runner = Runner(ledger.engine, NATIONAL)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: lag(ledger.engine, runner.view_set)["events_behind"] == 0)
        cid = world.register(clock.now - timedelta(hours=3)).aggregate_id
        world.act(
            cid, "route", world.at_office, clock.now - timedelta(hours=1), to_unit=world.housing
        )
        assert wait_until(lambda: lag(ledger.engine, runner.view_set)["events_behind"] == 0)
        with ledger.engine.connect() as conn:
            stage = conn.execute(
                sa.select(schema.cases.c.stage).where(schema.cases.c.case_id == cid.hex)
            ).scalar()
        assert stage == "已转送"
    finally:
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_fact_the_projector_cannot_judge_stops_it_and_is_named(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    clock.now = datetime(2025, 3, 10, tzinfo=UTC)
    world.register(clock.now - timedelta(days=1))
    import projections.projector as projector

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a field the judge expected")

    monkeypatch.setattr(projector, "judge_case", broken)
    runner = Runner(ledger.engine, NATIONAL)
    with pytest.raises(ProjectorStopped) as stopped:
        runner.catch_up()
    assert "cannot project fact Registered v1" in str(stopped.value)
    state = lag(ledger.engine, runner.view_set)
    assert state["error"] and "Registered v1" in str(state["error"])
    assert state["position"] == 0  # nothing of the failed batch was written


def test_two_projectors_on_one_view_set_take_turns(world: World, clock: Clock) -> None:
    """The live runner and a request catching up at the same time: neither collides."""
    from projections.projector import Projector

    engine, view_set = cases_written_before_the_views(world, clock, 20)
    errors: list[BaseException] = []

    def project() -> None:
        try:
            Projector(engine, engine, NATIONAL.rules, view_set, batch_size=3).catch_up()
        except BaseException as e:  # the outcome under test
            errors.append(e)

    threads = [threading.Thread(target=project) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert lag(engine, view_set)["events_behind"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.cases)).scalar() == 20


def test_views_built_by_an_earlier_projector_are_rebuilt_not_read(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new projector version changes what the rows mean: the old live views stop the runner
    with what to do, and a rebuild beside them under the same rulebook is a new view set."""
    from projections.rebuild import rebuild
    from projections.viewsets import activate

    engine = world.ledger.engine
    world.register(clock.now - timedelta(days=1))
    old = Runner(engine, NATIONAL)
    old.catch_up()

    monkeypatch.setattr(schema, "PROJECTION_VERSION", schema.PROJECTION_VERSION + 1)
    newer = load(DEFAULT_RULEBOOK)
    assert newer.view_set_name != NATIONAL.view_set_name
    with pytest.raises(ProjectorStopped, match="earlier version of the projector"):
        Runner(engine, newer)

    activate(engine, rebuild(engine, newer))
    runner = Runner(engine, newer)
    assert runner.view_set == newer.view_set_name != old.view_set
    assert lag(engine, runner.view_set)["events_behind"] == 0


def test_a_projector_far_behind_reads_ever_larger_batches_and_small_ones_once_caught_up(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After downtime the projector commits per growing batch, not per few rows; keeping up,
    it reads a small batch again, so a writer never waits long for the lock."""
    from projections.projector import Projector

    engine, view_set = cases_written_before_the_views(world, clock, 30)
    reads = record_reads(monkeypatch)
    projector = Projector(engine, engine, NATIONAL.rules, view_set, batch_size=3, most_batch=12)
    projector.catch_up()
    limits = [limit for _, limit in reads]
    assert limits[:4] == [3, 6, 12, 12]  # doubling while every read is full, up to the most
    assert max(limits) == 12
    assert lag(engine, view_set)["events_behind"] == 0

    reads.clear()
    world.register(clock.now - timedelta(hours=3))
    projector.catch_up()
    assert reads[0][1] == 3  # caught up, the next batch is small again
    assert lag(engine, view_set)["events_behind"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.cases)).scalar() == 31


def test_a_live_follower_projects_once_per_wake_not_until_a_read_finds_nothing(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Woken by new events, the follower projects what it finds in one batch and waits again:
    reading once more until a read comes back empty cost a batch's fixed statements per wake
    (most of its CPU under a steady stream of commands). Far behind, it still reads on while
    its reads are full."""
    from projections.projector import Projector

    engine, view_set = cases_written_before_the_views(world, clock, 10)
    reads = record_reads(monkeypatch)
    projector = Projector(engine, engine, NATIONAL.rules, view_set, batch_size=4, most_batch=4)
    end = projector.catch_up(settle=False)
    assert lag(engine, view_set)["events_behind"] == 0  # full reads went on to the end
    positions = [position for position, _ in reads]
    assert len(positions) == len(set(positions)) and positions[-1] < end  # none read twice

    reads.clear()
    world.register(clock.now - timedelta(hours=3))
    projector.catch_up(settle=False)
    assert len(reads) == 1  # one batch, no empty read after it
    assert lag(engine, view_set)["events_behind"] == 0
    projector.catch_up()  # settling reads once more and finds nothing
    assert len(reads) == 2


def test_a_projector_started_after_a_directory_change_knows_it(world: World, clock: Clock) -> None:
    """Each request that finds the views behind starts a projector of its own, which folds
    the directory from the facts this process has read before and those written since: a
    unit founded after the first projector ran is in the second's directory."""
    from projections.projector import Projector

    engine, view_set = cases_written_before_the_views(world, clock, 1)
    first = Projector(engine, engine, NATIONAL.rules, view_set).catch_up()
    station = world.ledger.create_unit(
        actor=world.at_office,
        occurred_at=clock.now - timedelta(hours=1),
        command_id="found-station",
        name="住建局物业管理站",
        code="ZJ-WY",
        kind="基层单位",
        parent=world.housing,
    ).aggregate_id
    world.register(clock.now - timedelta(hours=3))
    position = Projector(engine, engine, NATIONAL.rules, view_set).catch_up()

    directory = Projector(engine, engine, NATIONAL.rules, view_set)._load_directory(position)
    assert station.hex in directory.subtree(world.housing.hex)
    assert directory.parent_at(station.hex, position) == world.housing.hex
    before = Projector(engine, engine, NATIONAL.rules, view_set)._load_directory(first)
    assert station.hex not in before.subtree(world.housing.hex)  # as it stood then


def test_a_batch_judged_before_another_projector_wrote_its_cases_is_judged_again(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is judged (and, on SQLite, its cases' stored rows read) before the writer lock;
    if another projector wrote those cases meanwhile, the batch is not written over rows it
    did not read: it is judged again from where the view set now stands, and the case ends with
    exactly the rows a projection from scratch gives it."""
    from projections import case_writes
    from projections.facts import hex_id
    from projections.projector import Projector
    from projections.viewsets import views_as_of

    engine, view_set = cases_written_before_the_views(world, clock, 1)
    case = world.register(clock.now - timedelta(hours=5))
    late, early = (
        Projector(engine, engine, NATIONAL.rules, view_set, batch_size=1) for _ in range(2)
    )
    early.catch_up()
    world.act(case.aggregate_id, "route", world.at_office, clock.now, to_unit=world.housing)
    stale = late._prepare()  # judged, its stored rows read: then the other projector writes
    assert stale is not None
    assert early.step() > 0
    world.act(case.aggregate_id, "accept", world.at_housing, clock.advance(hours=1))

    prepared = iter([stale])
    real_prepare = late._prepare
    monkeypatch.setattr(late, "_prepare", lambda: next(prepared, None) or real_prepare())
    late.catch_up()

    case_id = hex_id(case.aggregate_id)
    fresh = views_as_of(engine, NATIONAL, clock.now + timedelta(minutes=1))
    with engine.connect() as conn, fresh.engine.connect() as other:
        written = case_writes.stored_rows(conn, view_set, [case_id])
        expected = case_writes.stored_rows(other, fresh.view_set, [case_id])
    assert written[schema.custody.name]  # (the case was projected, with its routing)
    for name, rows in expected.items():
        assert sorted(r[1:] for r in written[name]) == sorted(r[1:] for r in rows), name
