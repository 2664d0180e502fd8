from __future__ import annotations

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from tests.conftest import Clock
from tests.world import World, build_world


@pytest.fixture
def world(ledger: Ledger, clock: Clock) -> World:
    return build_world(ledger, clock.now)


def stored_event_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one())
