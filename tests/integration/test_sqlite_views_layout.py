"""Where a SQLite store keeps its read models (``LEDGER_SQLITE_VIEWS_FILE``, ADR 18): a new
store in a file of their own beside it, and its file holds no view at all; a store that kept
them inside (made before that was the default) keeps them there. The stories of the HTTP API,
the live projector, the rule change and the CLI are told again here with the views inside the
store's file, the layout the rest of the suite does not use."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.readmodel import live_runner
from ledger.application import Ledger
from ledger.settings import (
    VIEW_SETS_TABLE,
    Settings,
    keeps_views_inside,
    sqlite_files,
    views_file,
)
from projections import schema
from projections.projector import ProjectorStopped
from projections.rebuild import rebuild
from projections.runner import lag
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import Clock
from tests.integration.projection_helpers import dump

# The stories (and their fixtures) of these modules, collected here once more with the views
# inside the store's file: every ledger, app, CLI command and server they make reads the setting.
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
from tests.random_stories import write_random_history
from tests.world import build_world


@pytest.fixture
def database_url(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite only (the setting is SQLite's), with the views inside the store's file for every
    ledger, app, CLI command and server the stories make."""
    monkeypatch.setenv("LEDGER_SQLITE_VIEWS_FILE", "0")
    return f"sqlite:///{tmp_path}/ledger.sqlite3"


@pytest.fixture
def default_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The setting unset, whatever the environment says (CI runs the suite with it on and
    off)."""
    monkeypatch.delenv("LEDGER_SQLITE_VIEWS_FILE", raising=False)


@pytest.fixture
def open_store(tmp_path: os.PathLike[str], clock: Clock) -> Iterator[Callable[..., Ledger]]:
    """Open the test's SQLite store (as a process would: several may be open), closed after."""
    opened: list[Ledger] = []

    def open_(**settings: Any) -> Ledger:
        url = f"sqlite:///{tmp_path}/ledger.sqlite3"
        opened.append(Ledger(Settings(database_url=url, **settings), clock=clock))
        return opened[-1]

    yield open_
    for ledger in opened:
        ledger.close()


def _view_tables(engine: sa.Engine) -> list[str]:
    return [t for t in sa.inspect(engine).get_table_names() if t.startswith("rm_")]


def _a_registered_case(ledger: Ledger) -> None:
    world = build_world(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    world.register(ledger.clock() - timedelta(hours=3))


def test_a_new_store_writes_its_views_beside_it_and_never_into_it(
    open_store: Callable[..., Ledger], default_layout: None
) -> None:
    ledger = open_store()
    _a_registered_case(ledger)
    store = ledger.settings.sqlite_path()
    assert store is not None and ledger.settings.projection_url().endswith(str(views_file(store)))
    runner = live_runner(ledger)
    runner.catch_up()
    assert lag(ledger.engine, runner.view_set, ledger.projection_engine)["events_behind"] == 0
    in_views = sa.inspect(ledger.projection_engine).get_table_names()
    assert _view_tables(ledger.engine) == []
    assert "rm_cases" in in_views and "ledger_events" not in in_views
    with ledger.projection_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rm_cases")).scalar() == 1


def test_a_store_that_keeps_its_views_inside_keeps_them_there(
    open_store: Callable[..., Ledger], default_layout: None
) -> None:
    """A store projected before the views had a file of their own is opened with the setting
    unset: its views stay where they are, caught up, and no views file is made (a new one
    would be projected from zero)."""
    before = open_store(sqlite_views_file=False)
    _a_registered_case(before)
    live_runner(before).catch_up()
    store = before.settings.sqlite_path()
    assert store is not None and "rm_cases" in _view_tables(before.engine)
    before.close()

    after = open_store()
    assert after.projection_engine is after.engine
    runner = live_runner(after)
    assert lag(after.engine, runner.view_set, after.projection_engine)["events_behind"] == 0
    assert not views_file(store).exists()


def test_a_store_that_keeps_its_views_inside_moves_them_when_told(
    open_store: Callable[..., Ledger], default_layout: None
) -> None:
    """With the setting on, such a store's views are projected from its log into the new
    file: the same rows as inside, and from then on the file is where they are."""
    inside = open_store(sqlite_views_file=False)
    _a_registered_case(inside)
    runner = live_runner(inside)
    runner.catch_up()
    name = runner.view_set
    inside.close()

    moved = open_store(sqlite_views_file=True)
    assert moved.projection_engine is not moved.engine
    live_runner(moved).catch_up()
    assert dump(moved.projection_engine, name) == dump(moved.engine, name)
    assert dump(moved.projection_engine, name)["rm_cases"]
    moved.close()
    reopened = open_store()  # the setting unset again: the views file decides now
    assert reopened.projection_engine is not reopened.engine


def test_the_setting_forces_either_layout(tmp_path: os.PathLike[str]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3", sqlite_views_file=False)
    assert settings.projection_url() == settings.database_url
    on_postgres = Settings(database_url="postgresql+psycopg2://u@h:5432/d", sqlite_views_file=True)
    assert on_postgres.projection_url() == on_postgres.database_url
    in_memory = Settings(database_url="sqlite:///:memory:")
    assert in_memory.projection_url() == in_memory.database_url


def test_the_layout_is_read_from_the_files_table_of_view_sets() -> None:
    assert schema.view_sets.name == VIEW_SETS_TABLE


def test_a_file_that_is_not_a_database_is_left_for_the_store_to_refuse(
    tmp_path: os.PathLike[str],
) -> None:
    store = Path(tmp_path) / "ledger.sqlite3"
    store.write_bytes(b"not a database at all")
    assert not keeps_views_inside(store)


def test_a_rebuild_into_the_views_file_equals_one_into_the_store(
    open_store: Callable[..., Ledger], clock: Clock
) -> None:
    """Worker processes read the store's log and write the views' file: the same rows as a
    rebuild that keeps the views in the store itself (as the store's own engine allows)."""
    ledger = open_store(sqlite_views_file=True)
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
    tmp_path: os.PathLike[str], open_store: Callable[..., Ledger]
) -> None:
    """The store is deleted and started afresh beside its old views file: the views are past
    the new log's end, and the projector says so instead of serving them as this store's."""
    old = open_store(sqlite_views_file=True)
    _a_registered_case(old)
    live_runner(old).catch_up()
    old.close()
    for leftover in Path(tmp_path).glob("ledger.sqlite3*"):
        leftover.unlink()
    new = open_store(sqlite_views_file=True)
    with pytest.raises(ProjectorStopped, match="built from another store"):
        live_runner(new)


def test_a_reset_deletes_the_views_file_with_the_store(
    tmp_path: os.PathLike[str], default_layout: None
) -> None:
    """``petition demo --reset`` starts over: the views of the old log go with it, so the
    new store's projector starts from zero instead of refusing views of another store."""
    from typer.testing import CliRunner

    from api.cli import app

    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    cli = CliRunner()
    for _ in range(2):
        result = cli.invoke(app, ["demo", "--cases", "10", "--reset"], env={"DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        result = cli.invoke(app, ["project", "--once"], env={"DATABASE_URL": url})
        assert result.exit_code == 0, result.output
    assert all(file.exists() for file in sqlite_files(Path(tmp_path) / "ledger.sqlite3")[::3])


def test_the_store_waits_for_the_disk_on_every_commit_and_the_views_file_need_not(
    open_store: Callable[..., Ledger],
) -> None:
    """An acknowledged event is on disk (SQLite's FULL); the views file holds only what the
    log derives, so its commits skip the wait (NORMAL: WAL never corrupts, a power cut may
    take back the last batches with the position they advanced, and they are projected again)."""
    ledger = open_store(sqlite_views_file=True)
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    with ledger.projection_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
