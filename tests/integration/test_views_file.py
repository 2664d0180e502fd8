"""The read models in a SQLite file of their own (``LEDGER_SQLITE_VIEWS_FILE``, ADR 18): the
stories of the HTTP API, the live projector, the rule change and the CLI, told again on a
store whose views live beside it — and the store's file holds no view at all."""

from __future__ import annotations

import os
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from ledger.settings import Settings, views_file
from tests.conftest import Clock

# The stories (and their fixtures) of these modules, collected here once more with the views
# apart: every ledger, app, CLI command and server they make reads the setting.
from tests.integration.test_case_as_of import *  # noqa: F403
from tests.integration.test_cli import *  # noqa: F403
from tests.integration.test_console import *  # noqa: F403
from tests.integration.test_http import *  # noqa: F403

# Not the rule change's stories of worker failures: a judge patched in a test reaches the
# workers only by fork, which the threads the stories above leave behind rule out.
from tests.integration.test_rule_change import (  # noqa: F401
    national,
    test_the_cases_that_moved_in_pages_are_the_whole_list,
    test_the_console_pages_statistics_and_differing_figures_a_few_units_at_a_time,
    test_the_same_log_judged_under_two_rulebooks,
    working_days,
)
from tests.integration.test_serve import *  # noqa: F403


@pytest.fixture
def database_url(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite only (the setting is SQLite's), with the views apart for every ledger made."""
    monkeypatch.setenv("LEDGER_SQLITE_VIEWS_FILE", "1")
    return f"sqlite:///{tmp_path}/ledger.sqlite3"


def test_the_views_are_written_beside_the_store_and_never_into_it(ledger: Ledger) -> None:
    from projections.runner import Runner, lag
    from projections.viewsets import DEFAULT_RULEBOOK, load
    from tests.world import build_world

    world = build_world(ledger, ledger.clock())
    world.register(ledger.clock() - timedelta(hours=3))
    store = ledger.settings.sqlite_path()
    assert store is not None and ledger.settings.projection_url().endswith(str(views_file(store)))
    runner = Runner(
        ledger.engine,
        load(DEFAULT_RULEBOOK),
        write_lock=ledger.projection_lock,
        views=ledger.projection_engine,
    )
    runner.catch_up()
    assert lag(ledger.engine, runner.view_set, ledger.projection_engine)["events_behind"] == 0
    in_store = sa.inspect(ledger.engine).get_table_names()
    in_views = sa.inspect(ledger.projection_engine).get_table_names()
    assert not [t for t in in_store if t.startswith("rm_")]
    assert "rm_cases" in in_views and "ledger_events" not in in_views
    with ledger.projection_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rm_cases")).scalar() == 1


def test_without_the_setting_the_views_share_the_store(tmp_path: os.PathLike[str]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3", sqlite_views_file=False)
    assert settings.projection_url() == settings.database_url
    on_postgres = Settings(database_url="postgresql+psycopg2://u@h:5432/d", sqlite_views_file=True)
    assert on_postgres.projection_url() == on_postgres.database_url


def test_a_rebuild_into_the_views_file_equals_one_into_the_store(
    ledger: Ledger, clock: Clock
) -> None:
    """Worker processes read the store's log and write the views' file: the same rows as a
    rebuild that keeps the views in the store itself (as the store's own engine allows)."""
    from datetime import UTC, datetime

    from projections.rebuild import rebuild
    from projections.viewsets import DEFAULT_RULEBOOK, load
    from tests.integration.projection_helpers import dump
    from tests.random_stories import write_random_history
    from tests.world import build_world

    rules = load(DEFAULT_RULEBOOK)
    world = build_world(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    write_random_history(world, clock, random.Random(11), cases=6, steps=60)
    apart = rebuild(
        ledger.engine, rules, workers=2, cases_per_commit=2, views=ledger.projection_engine
    )
    within = rebuild(ledger.engine, rules, workers=2, cases_per_commit=2)
    assert dump(ledger.projection_engine, apart) == dump(ledger.engine, within)
    assert dump(ledger.projection_engine, apart)["rm_cases"]


def test_views_left_from_another_store_are_refused_not_served(
    tmp_path: os.PathLike[str], clock: Clock
) -> None:
    """The store is deleted and started afresh beside its old views file: the views are past
    the new log's end, and the projector says so instead of serving them as this store's."""
    from datetime import UTC, datetime
    from pathlib import Path

    from projections.projector import ProjectorStopped
    from projections.runner import Runner
    from projections.viewsets import DEFAULT_RULEBOOK, load
    from tests.world import build_world

    rules = load(DEFAULT_RULEBOOK)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3", sqlite_views_file=True)

    def runner(ledger: Ledger) -> Runner:
        return Runner(
            ledger.engine, rules, write_lock=ledger.projection_lock, views=ledger.projection_engine
        )

    old = Ledger(settings, clock=clock)
    world = build_world(old, datetime(2025, 1, 1, tzinfo=UTC))
    world.register(clock.now - timedelta(hours=3))
    runner(old).catch_up()
    old.close()
    for leftover in Path(tmp_path).glob("ledger.sqlite3*"):
        leftover.unlink()
    new = Ledger(settings, clock=clock)
    try:
        with pytest.raises(ProjectorStopped, match="built from another store"):
            runner(new)
    finally:
        new.close()
