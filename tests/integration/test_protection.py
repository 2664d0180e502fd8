"""On PostgreSQL the application's role cannot edit or delete the log, enforced by the
database: it appends through the ledger as usual, and an UPDATE or DELETE is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from ledger.protection import protect
from ledger.settings import Settings
from tests.conftest import Clock, fresh_postgres
from tests.world import World

APP_ROLE = "petition_app_test"


@pytest.fixture
def database_url() -> str:
    """PostgreSQL only: SQLite has no database roles to restrict."""
    return fresh_postgres()


def test_the_application_role_appends_but_cannot_edit_the_log(
    world: World, clock: Clock, database_url: str
) -> None:
    owner = world.ledger.engine
    with owner.begin() as conn:
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
        conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN"))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
    protect(owner, APP_ROLE)
    app_url = database_url.replace("postgres@", f"{APP_ROLE}@")
    ledger = Ledger(Settings(database_url=app_url), clock=clock)
    try:
        clock.now = datetime(2025, 3, 10, tzinfo=UTC)
        w = World(**{**world.__dict__, "ledger": ledger})
        cid = w.register(clock.now - timedelta(days=1)).aggregate_id  # appending works
        w.act(cid, "route", w.at_office, clock.now - timedelta(hours=1), to_unit=w.housing)
        for statement in (
            "UPDATE ledger_events SET state = state WHERE id = 1",
            "DELETE FROM ledger_events WHERE id = 1",
            "UPDATE ledger_seals SET log_hash = log_hash WHERE id = 1",
            "DELETE FROM ledger_seals",
            "TRUNCATE ledger_events",
        ):
            with pytest.raises(sa.exc.DBAPIError) as refused, ledger.engine.begin() as conn:
                conn.execute(sa.text(statement))
            assert "append-only" in str(refused.value) or "permission denied" in str(
                refused.value
            ), statement
    finally:
        ledger.close()
        with owner.begin() as conn:
            conn.execute(sa.text("DROP OWNED BY " + APP_ROLE))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
