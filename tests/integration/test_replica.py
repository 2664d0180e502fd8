"""Past one machine, the first step for real: the views served from a PostgreSQL streaming
replica. A fresh primary and a replica of it are started locally (never the shared server);
commands and the projector run on the primary; the views are read from the replica and are
the primary's, row for row, once replay has caught up; the replica refuses writes.

PostgreSQL only, and slow (two servers start: several seconds). Without PostgreSQL server
binaries it is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import readmodel
from api.http import create_app
from api.readmodel import live_views
from api.security import Role, issue
from ledger.application import Ledger
from ledger.settings import Settings
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import IN_CI, Clock
from tests.integration.projection_helpers import dump, project
from tests.replication import Pair, Unavailable, primary_and_replica
from tests.world import World, build_world

pytestmark = pytest.mark.slow

SECRET = "replica-test-secret-" + "x" * 40


def local(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").astimezone(UTC)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    try:
        with primary_and_replica() as started:
            yield started
    except Unavailable as e:
        if IN_CI:
            pytest.fail(f"cannot start a local PostgreSQL primary and replica: {e}")
        pytest.skip(f"cannot start a local PostgreSQL primary and replica: {e}")


@pytest.fixture(scope="module")
def world(pair: Pair) -> Iterator[World]:
    """The small city of the stories, with three cases, written to the primary."""
    clock = Clock(local("2025-08-01 12:00"))
    ledger = Ledger(Settings(database_url=pair.primary_url), clock=clock)
    w = build_world(ledger, local("2025-01-01 09:00"))
    for day in ("2025-03-03", "2025-03-10", "2025-04-01"):
        case = w.register(local(f"{day} 09:00")).aggregate_id
        w.act(case, "route", w.at_office, local(f"{day} 15:00"), to_unit=w.housing)
        w.act(case, "accept", w.at_housing, local(f"{day} 16:00"))
    w.act(case, "reply", w.at_housing, local("2025-07-20 10:00"), outcome="支持", text="已维修",
          delivered_at=local("2025-07-21 10:00"))  # fmt: skip
    yield w
    ledger.close()


def test_the_views_read_from_the_replica_are_the_primarys_and_the_replica_refuses_writes(
    pair: Pair, world: World
) -> None:
    primary = world.ledger
    on_primary = project(primary, load(DEFAULT_RULEBOOK))  # the projector runs on the primary
    with primary.engine.connect() as conn:
        projected = int(
            conn.execute(
                sa.text("SELECT position FROM rm_view_sets WHERE id = :v"),
                {"v": on_primary.view_set},
            ).scalar_one()
        )

    reader = Ledger(Settings(database_url=pair.primary_url, views_database_url=pair.replica_url))
    try:
        started = time.monotonic()
        on_replica = live_views(reader, after=projected)  # waits for replay to reach it
        caught_up_in = time.monotonic() - started
        assert on_replica.engine.url.port == pair.replica_port
        assert pair.psql_replica("SELECT pg_is_in_recovery()") == "t"
        assert on_replica.view_set == on_primary.view_set
        replicated = dump(on_replica.engine, on_replica.view_set)
        assert replicated == dump(primary.engine, on_primary.view_set)
        assert len(replicated["rm_cases"]) == 3
        now = local("2025-08-01 12:00")
        for party in ("unit", "person", "leader"):
            assert on_replica.who_delayed_what(party, now) == on_primary.who_delayed_what(
                party, now
            )
        case = primary.find_case_id("XF-2025-00001").hex
        assert on_replica.chain(case, now) == on_primary.chain(case, now)
        assert any(i["overdue_days"] > 0 for i in on_replica.chain(case, now))

        # the replica itself refuses writes, whatever the connection asks for
        plain = sa.create_engine(pair.replica_url)
        try:
            with (
                pytest.raises(sa.exc.InternalError, match="read-only transaction"),
                plain.begin() as conn,
            ):
                conn.execute(sa.text("DELETE FROM rm_view_sets"))
        finally:
            plain.dispose()
        print(f"\nprimary and replica started in {pair.started_in_s:.1f} s; "
              f"replica caught up in {caught_up_in * 1000:.0f} ms")  # fmt: skip
    finally:
        reader.close()


def test_a_client_reads_its_own_write_from_the_replica_or_is_told_to_retry(
    pair: Pair, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP: a case registered on the primary is in the case list read from the replica
    when the read names the position its command returned. While replay is paused the read
    waits its bounded time, then answers 503 with Retry-After; resumed, it succeeds."""
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", SECRET)
    monkeypatch.setattr(readmodel, "REPLICA_WAIT_SECONDS", 0.5)
    jwt = issue(SECRET, user=world.clerk, role=Role.ADMIN, unit=world.office, now=datetime.now(UTC))
    auth = {"Authorization": f"Bearer {jwt}"}
    settings = Settings(database_url=pair.primary_url, views_database_url=pair.replica_url)

    def register(client: TestClient, summary: str) -> dict[str, Any]:
        body = {
            "occurred_at": local("2025-07-30 11:00").isoformat(),
            "channel": "来访",
            "received_at": local("2025-07-30 10:00").isoformat(),
            "matter_kind": "申诉求决",
            "category": "住房保障",
            "summary": summary,
            "petitioner_kind": "实名",
            "petitioners": [{"name": "张秀英"}],
            "headcount": 1,
        }
        response = client.post("/cases", json=body, headers=auth)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    with TestClient(create_app(settings)) as client:  # with its projector, on the primary
        written = register(client, "电梯停运两周")
        listed = client.get(f"/cases?after={written['position']}", headers=auth)
        assert listed.status_code == 200, listed.text
        assert written["case_number"] in [c["case_number"] for c in listed.json()["items"]]
        health = client.get("/healthz").json()
        assert health["views_replica"]["position"] >= written["position"]

        assert pair.psql_replica("SELECT pg_wal_replay_pause()") == ""
        try:
            paused = register(client, "楼道灯长期不亮")
            behind = client.get(f"/cases?after={paused['position']}", headers=auth)
            assert behind.status_code == 503, behind.text
            assert behind.headers["Retry-After"] == "1"
            assert behind.json()["type"].endswith("/views-behind")
        finally:
            pair.psql_replica("SELECT pg_wal_replay_resume()")
        caught_up = client.get(f"/cases?after={paused['position']}", headers=auth)
        assert caught_up.status_code == 200, caught_up.text
        assert paused["case_number"] in [c["case_number"] for c in caught_up.json()["items"]]
        beyond = client.get(f"/cases?after={paused['position'] + 10_000}", headers=auth)
        assert beyond.status_code == 404
