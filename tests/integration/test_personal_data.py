"""Personal data is stored encrypted with a key per petitioner; forgetting destroys the key:
the data is unreadable everywhere, the log still verifies, statistics are intact, and the
forgetting is itself recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from api.presenters import Names, case_view, history_view
from ledger.integrity import verify
from ledger.personal import ERASED
from projections.statistics import unit_statistics
from projections.viewsets import DEFAULT_RULEBOOK, load
from tests.conftest import Clock
from tests.integration.projection_helpers import project
from tests.world import World


def test_personal_data_is_encrypted_at_rest_and_can_be_forgotten(
    world: World, clock: Clock
) -> None:
    w, led = world, world.ledger
    clock.now = datetime(2025, 3, 10, tzinfo=UTC)
    cid = w.register(clock.now - timedelta(days=2)).aggregate_id
    w.act(cid, "route", w.at_office, clock.now - timedelta(days=1), to_unit=w.housing)
    with led.engine.connect() as conn:
        stored = b"".join(
            bytes(s) for (s,) in conn.execute(sa.text("SELECT state FROM ledger_events"))
        )
    assert "张秀英".encode() not in stored and b"13800000000" not in stored
    shown = case_view(led, led.get_case(cid))["petitioners"][0]
    assert (shown["name"], shown["phone"]) == ("张秀英", "13800000000")

    national = load(DEFAULT_RULEBOOK)
    views = project(led, national)
    before = unit_statistics(views, "2025-03", clock.now).as_dict()

    clock.now += timedelta(days=1)
    erased_in = led.forget_petitioner(
        w.petitioner.petitioner_id, actor=w.at_office, reason="保存期限届满", command_id="forget-1"
    )
    assert erased_in == [cid]
    shown = case_view(led, led.get_case(cid))["petitioners"][0]
    assert shown["name"] == ERASED and shown["phone"] == ERASED
    history = history_view(led, cid, Names(led))
    assert history[0]["data"]["petitioners"][0]["name"] == ERASED
    assert history[-1]["type"] == "PersonalDataErased"
    assert verify(led.engine).ok
    views = project(led, national)
    assert unit_statistics(views, "2025-03", clock.now).as_dict() == before
