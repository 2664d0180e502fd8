"""Tamper evidence: an edit made directly in the database — one byte of one event, a deleted
row, two rows swapped, a row slipped in — is detected and pinpointed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa

from ledger.integrity import verify
from ledger.seals import GENESIS
from tests.conftest import Clock
from tests.world import World


@pytest.fixture
def story(world: World, clock: Clock) -> list[UUID]:
    w = world
    clock.now = datetime(2025, 3, 10, tzinfo=UTC)
    cases = []
    for day in range(3):
        cid = w.register(clock.now - timedelta(days=5 - day)).aggregate_id
        w.act(cid, "route", w.at_office, clock.now - timedelta(days=1), to_unit=w.housing)
        cases.append(cid)
    return cases


def rows(world: World) -> list[tuple[int, object, int, str, bytes]]:
    with world.ledger.engine.connect() as conn:
        return [
            (r[0], r[1], r[2], r[3], bytes(r[4]))
            for r in conn.execute(
                sa.text(
                    "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
                    "ORDER BY id"
                )
            )
        ]


def execute(world: World, sql: str, **params: object) -> None:
    with world.ledger.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def case_rows(world: World, case: UUID) -> list[tuple[int, object, int, str, bytes]]:
    return [
        r
        for r in rows(world)
        if str(r[1]).replace("-", "") in (case.hex,)
        or (isinstance(r[1], bytes) and r[1] == case.bytes)
    ]


def test_an_untouched_log_verifies(world: World, story: list[UUID]) -> None:
    report = verify(world.ledger.engine)
    assert report.ok and report.events == len(rows(world)) and report.head != GENESIS
    assert verify(world.ledger.engine, story[0]).ok


def test_one_changed_byte_is_found(world: World, story: list[UUID]) -> None:
    position, _, version, _, state = case_rows(world, story[1])[1]
    tampered = (
        state.replace("市".encode(), "巿".encode(), 1)
        if "市".encode() in state
        else (state[:-2] + b"0}")
    )
    execute(world, "UPDATE ledger_events SET state = :s WHERE id = :i", s=tampered, i=position)
    problem = verify(world.ledger.engine).problem
    assert problem is not None and problem.kind == "changed"
    assert (problem.position, problem.aggregate_id, problem.version) == (
        position,
        story[1],
        version,
    )
    assert not verify(world.ledger.engine, story[1]).ok
    assert verify(world.ledger.engine, story[0]).ok  # the other cases still verify


def test_a_deleted_row_is_found(world: World, story: list[UUID]) -> None:
    position = case_rows(world, story[2])[0][0]
    execute(world, "DELETE FROM ledger_events WHERE id = :i", i=position)
    problem = verify(world.ledger.engine).problem
    assert problem is not None and (problem.kind, problem.position) == ("missing", position)


def test_two_swapped_rows_are_found(world: World, story: list[UUID]) -> None:
    a, b = case_rows(world, story[0])[1][0], case_rows(world, story[1])[1][0]
    for old, new in ((a, -1), (b, a), (-1, b)):
        execute(world, "UPDATE ledger_events SET id = :new WHERE id = :old", new=new, old=old)
    problem = verify(world.ledger.engine).problem
    assert problem is not None and (problem.kind, problem.position) == ("reordered", a)


def test_a_row_slipped_in_is_found(world: World, story: list[UUID]) -> None:
    last = rows(world)[-1]
    execute(
        world,
        "INSERT INTO ledger_events (id, originator_id, originator_version, topic, "
        "state) VALUES (:i, :o, :v, :t, :s)",
        i=last[0] + 100,
        o=last[1],
        v=last[2] + 1,
        t=last[3],
        s=last[4],
    )
    problem = verify(world.ledger.engine).problem
    assert problem is not None and (problem.kind, problem.position) == ("inserted", last[0] + 100)


def test_an_edited_seal_is_found(world: World, story: list[UUID]) -> None:
    position = rows(world)[3][0]
    execute(world, "UPDATE ledger_seals SET log_hash = :h WHERE id = :i", h=bytes(32), i=position)
    problem = verify(world.ledger.engine).problem
    assert problem is not None and problem.kind == "chain-broken" and problem.position == position


def test_an_exported_bundle_verifies_elsewhere_and_an_edited_one_does_not(
    world: World, story: list[UUID], tmp_path: object
) -> None:
    import base64
    import io
    import json

    from ledger.integrity import export_bundle, verify_bundle

    buffer = io.StringIO()
    assert export_bundle(world.ledger.engine, buffer).ok
    lines = buffer.getvalue().splitlines()
    assert verify_bundle(lines).ok
    record = json.loads(lines[5])
    state = base64.b64decode(record["state"])
    record["state"] = base64.b64encode(state.replace(b'"', b"'", 1)).decode()
    lines[5] = json.dumps(record)
    problem = verify_bundle(lines).problem
    assert problem is not None and problem.kind == "changed" and problem.position == record["id"]


def test_the_cli_verifies_and_names_the_first_bad_event(
    world: World, story: list[UUID], database_url: str, tmp_path: object
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    assert runner.invoke(app, ["verify"], env=env).exit_code == 0
    bundle = f"{tmp_path}/ledger.bundle"
    assert runner.invoke(app, ["export", bundle], env=env).exit_code == 0
    position = rows(world)[4][0]
    execute(world, "DELETE FROM ledger_events WHERE id = :i", i=position)
    result = runner.invoke(app, ["verify"], env=env)
    assert result.exit_code == 1 and f"missing at position {position}" in result.output
    assert runner.invoke(app, ["verify", "--bundle", bundle], env=env).exit_code == 0


def test_backup_and_restore_give_an_identical_verifying_log_and_identical_views(
    world: World, story: list[UUID], database_url: str, tmp_path: object, clock: Clock
) -> None:
    import io

    from ledger.application import Ledger
    from ledger.integrity import export_bundle, restore_bundle
    from ledger.settings import Settings
    from projections.viewsets import DEFAULT_RULEBOOK, load
    from tests.conftest import fresh_postgres
    from tests.integration.projection_helpers import dump, events_digest, project

    national = load(DEFAULT_RULEBOOK)
    before_views = dump(world.ledger.projection_engine, project(world.ledger, national).view_set)
    before_events = events_digest(world.ledger)
    backup = io.StringIO()
    export_bundle(world.ledger.engine, backup)
    world.ledger.close()

    target = (
        f"sqlite:///{tmp_path}/restored.sqlite3" if "sqlite" in database_url else (fresh_postgres())
    )
    restored = Ledger(Settings(database_url=target), clock=clock)
    try:
        report = restore_bundle(restored.engine, backup.getvalue().splitlines())
        assert report.ok and report.events > 0
        assert events_digest(restored) == before_events
        after_views = dump(restored.projection_engine, project(restored, national).view_set)
        assert after_views == before_views
        # the restored store keeps working: new events continue the chains
        clock.now += timedelta(days=1)
        restored.act(
            story[0],
            "accept",
            actor=world.at_housing,
            occurred_at=clock.now,
            command_id="after-restore",
        )
        from ledger.integrity import verify

        assert verify(restored.engine).ok
    finally:
        restored.close()
