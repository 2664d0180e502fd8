"""Properties of the projector over random valid histories: the incrementally maintained
views equal a full rebuild, and a projector killed at a random point and restarted ends in
the same state."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.settings import Settings
from projections import projector as projector_module
from projections.building import start_method
from projections.projector import Projector
from projections.queries import Views
from projections.rebuild import periods, rebuild
from projections.statistics import unit_statistics
from projections.viewsets import DEFAULT_RULEBOOK, ensure_live, load
from tests.conftest import Clock
from tests.integration.projection_helpers import (
    delays_from_intervals,
    dump,
    kept_totals,
    totals_from_rows,
)
from tests.random_stories import write_random_history
from tests.world import build_world

NATIONAL = load(DEFAULT_RULEBOOK)
BOARD_TOTALS = ("party", "cases_held", "cases_overdue", "overdue_days", "worst_days", "by_stage")


class Crash(Exception):
    """The projector process dies here."""


def check_history(ledger: Ledger, clock: Clock, seed: int, batch: int, crash_after: int) -> None:
    rng = random.Random(seed)
    world = build_world(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    write_random_history(world, clock, rng, cases=4, steps=60)
    engine = ledger.engine
    live = ensure_live(engine, NATIONAL)

    # A projector that dies after ``crash_after`` batches, just before committing...
    real_advance = projector_module._advance
    calls = {"n": 0}

    def dying_advance(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] > crash_after:
            raise Crash()
        real_advance(*args, **kwargs)  # type: ignore[arg-type]

    projector_module._advance = dying_advance  # type: ignore[assignment]
    try:
        Projector(engine, engine, NATIONAL.rules, live, batch_size=batch).catch_up()
    except Crash:
        pass  # (a short log may be projected in fewer batches than the crash point)
    finally:
        projector_module._advance = real_advance
    # ...and a new one that picks up from the stored position.
    Projector(engine, engine, NATIONAL.rules, live, batch_size=batch).catch_up()

    full = rebuild(engine, NATIONAL, name="full-rebuild")
    assert dump(engine, live) == dump(engine, full)
    # The totals the projector kept by adding and taking away are those of the rows beside them.
    assert kept_totals(engine, live) == totals_from_rows(engine, live)
    # The repeats it kept, re-deciding every related case on each write, are the rule's.
    views = Views(engine, live, NATIONAL.rules)
    with engine.connect() as conn:
        kept = {k: v["earlier_case_id"] for k, v in views._repeat_of(conn, None).items()}
        assert kept == views.repeats_by_rule(conn)
    # The statistics the database adds up are those counted case by case, at every instant.
    for instant in (datetime(2025, 3, 1, tzinfo=UTC), clock.now):
        for period in periods(views):
            assert unit_statistics(views, period, instant, with_cases=False).as_dict() == (
                unit_statistics(views, period, instant).as_dict()
            )
    # The board's added-up closed custody reads as the intervals do, at any instant (before,
    # amid and after the story's custody), whichever cases it must read from the intervals.
    views = Views(engine, live, NATIONAL.rules)
    for instant in (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC), clock.now):
        for party in ("unit", "person", "leader"):
            board = views.delay_board(party, instant, top=1)
            full_list = delays_from_intervals(views, party, instant)
            assert [{k: r[k] for k in BOARD_TOTALS} for r in board] == [
                {k: r[k] for k in BOARD_TOTALS} for r in full_list
            ]
            listed = views.who_delayed_what(party, instant)
            assert [{**r, "overdue_s": 0} for r in listed] == [
                {**r, "overdue_s": 0} for r in full_list
            ]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32), batch=st.integers(1, 9), crash_after=st.integers(0, 12))
def test_incremental_views_equal_a_full_rebuild_even_after_a_crash(
    tmp_path_factory: pytest.TempPathFactory, seed: int, batch: int, crash_after: int
) -> None:
    path = tmp_path_factory.mktemp("prop") / "ledger.sqlite3"
    clock = Clock(datetime(2025, 1, 1, tzinfo=UTC))
    ledger = Ledger(Settings(database_url=f"sqlite:///{path}"), clock=clock)
    try:
        check_history(ledger, clock, seed, batch, crash_after)
    finally:
        ledger.close()


@pytest.mark.parametrize("seed", [7, 2025])
def test_the_same_property_on_each_database(ledger: Ledger, clock: Clock, seed: int) -> None:
    check_history(ledger, clock, seed, batch=3, crash_after=4)


def test_a_rebuild_judged_in_worker_processes_equals_one_judged_in_process(
    ledger: Ledger, clock: Clock
) -> None:
    world = build_world(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    write_random_history(world, clock, random.Random(11), cases=6, steps=60)
    engine = ledger.engine
    serial = rebuild(engine, NATIONAL, name="serial", workers=1, cases_per_commit=2)
    parallel = rebuild(engine, NATIONAL, name="parallel", workers=2, cases_per_commit=2)
    assert dump(engine, serial) == dump(engine, parallel)
    assert dump(engine, serial)["rm_cases"]


def test_workers_started_beside_other_threads_build_the_same_views(
    ledger: Ledger, clock: Clock
) -> None:
    """Under the CLI a progress bar runs in a thread of its own: forking then could leave a
    lock it holds locked in the workers, so they come from a fork server instead, and build
    the same views."""
    world = build_world(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    write_random_history(world, clock, random.Random(5), cases=6, steps=60)
    engine = ledger.engine
    stop = threading.Event()
    progress_bar = threading.Thread(target=stop.wait)
    progress_bar.start()
    try:
        assert start_method() != "fork"
        threaded = rebuild(engine, NATIONAL, name="threaded", workers=2, cases_per_commit=2)
    finally:
        stop.set()
        progress_bar.join()
    assert start_method() == "fork"
    serial = rebuild(engine, NATIONAL, name="serial", workers=1, cases_per_commit=2)
    assert dump(engine, threaded) == dump(engine, serial)
    assert dump(engine, serial)["rm_cases"]
