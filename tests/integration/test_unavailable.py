"""The database goes away: the API answers 503 with Retry-After, acknowledges nothing, and
recovers by itself when the database is back; an SQLite writer kept waiting by another's lock
gets a clear 503 after a bounded wait."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.http import create_app
from api.security import Role, issue
from ledger.persistence import PING_AFTER_IDLE_S
from ledger.settings import Settings
from tests.conftest import IN_CI, Clock, fresh_postgres
from tests.world import World, build_world

SECRET = "unavailable-test-secret-" + "z" * 30


def token(w: World) -> dict[str, str]:
    jwt = issue(SECRET, user=w.clerk, role=Role.REGISTRAR, unit=w.office, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {jwt}"}


def cluster() -> list[str]:
    versions = sorted(Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").exists() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        message = "no local PostgreSQL cluster to stop and start"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main"]


def wait_for(url: str, up: bool, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        engine = sa.create_engine(url)
        try:
            with engine.connect():
                reachable = True
        except sa.exc.OperationalError:
            reachable = False
        finally:
            engine.dispose()
        if reachable == up:
            return
        time.sleep(0.5)
    raise AssertionError(f"PostgreSQL did not come {'up' if up else 'down'}")


@pytest.fixture
def client(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, url: str
) -> Iterator[tuple[TestClient, World]]:
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", SECRET)
    from ledger.application import Ledger

    ledger = Ledger(Settings(database_url=url), clock=clock)
    world = build_world(ledger, clock.now)
    ledger.close()
    with TestClient(create_app(Settings(database_url=url), run_projector=False)) as c:
        yield c, world


def body(n: int) -> dict[str, object]:
    return {
        "occurred_at": "2025-03-03T11:00:00+08:00",
        "channel": "来信",
        "received_at": "2025-03-03T09:00:00+08:00",
        "matter_kind": "申诉求决",
        "category": "住房",
        "summary": f"第{n}件",
        "petitioner_kind": "匿名",
        "petitioners": [{}],
        "headcount": 1,
    }


class TestPostgresRestart:
    @pytest.fixture
    def url(self) -> str:
        return fresh_postgres()

    def test_a_stopped_database_gives_503_and_the_api_recovers_by_itself(
        self, client: tuple[TestClient, World], url: str
    ) -> None:
        api, world = client
        ctl = cluster()
        acked = api.post("/cases", json=body(1), headers=token(world))
        assert acked.status_code == 201
        subprocess.run([*ctl, "stop"], check=True)
        try:
            wait_for(url, up=False)
            down = api.post("/cases", json=body(2), headers=token(world))
            assert down.status_code == 503 and down.headers["Retry-After"]
            assert down.headers["content-type"].startswith("application/problem+json")
            assert api.get("/cases/XF-2025-00001", headers=token(world)).status_code == 503
        finally:
            subprocess.run([*ctl, "start"], check=True)
            wait_for(url, up=True)
        again = api.get("/cases/XF-2025-00001", headers=token(world))  # no restart needed
        assert again.status_code == 200 and again.json()["summary"] == "第1件"
        assert api.post("/cases", json=body(3), headers=token(world)).json()["case_number"] == (
            "XF-2025-00002"  # the refused registration took no number
        )

    def test_a_database_restarted_while_the_api_was_idle_costs_no_request(
        self, client: tuple[TestClient, World], url: str
    ) -> None:
        api, world = client
        ctl = cluster()
        assert api.post("/cases", json=body(1), headers=token(world)).status_code == 201
        subprocess.run([*ctl, "restart"], check=True)  # the pool now holds dead connections
        wait_for(url, up=True)
        time.sleep(PING_AFTER_IDLE_S)  # (a restart takes longer; this makes sure)
        again = api.get("/cases/XF-2025-00001", headers=token(world))
        assert again.status_code == 200, again.text
        assert api.post("/cases", json=body(2), headers=token(world)).status_code == 201


class TestSqliteBusy:
    @pytest.fixture
    def url(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
        monkeypatch.setattr("ledger.persistence.SQLITE_BUSY_TIMEOUT_S", 0.5)
        return f"sqlite:///{tmp_path}/busy.sqlite3"

    def test_a_writer_blocked_by_another_gets_a_clear_503_after_a_bounded_wait(
        self, client: tuple[TestClient, World], url: str
    ) -> None:
        api, world = client
        blocker = sa.create_engine(url, connect_args={"timeout": 0.5})
        with blocker.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # another process holds the write lock
            started = time.monotonic()
            blocked = api.post("/cases", json=body(1), headers=token(world))
            waited = time.monotonic() - started
            conn.exec_driver_sql("ROLLBACK")
        blocker.dispose()
        assert blocked.status_code == 503 and "busy" in blocked.json()["detail"]
        assert waited < 10
        assert api.post("/cases", json=body(2), headers=token(world)).status_code == 201
