"""One case as of an instant, judged alone (with its petitioners' other cases), reads exactly
as it does in the whole past view set: the case page's fast path changes nothing it shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from api.demo import write_demo
from api.readmodel import default_rules
from ledger.application import Ledger
from ledger.settings import Settings
from projections.viewsets import cases_as_of, views_as_of
from tests.conftest import Clock
from tests.world import World

ZONE = ZoneInfo("Asia/Shanghai")


def test_a_case_judged_alone_as_of_an_instant_reads_as_in_the_whole_past_view_set(
    database_url: str,
) -> None:
    write_demo(Settings(database_url=database_url), seed=7, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    loaded = default_rules()
    try:
        for instant in (
            datetime(2024, 5, 31, 23, 59, tzinfo=ZONE),
            datetime(2024, 12, 15, 12, 0, tzinfo=ZONE),
            datetime(2025, 9, 1, 0, 0, tzinfo=ZONE),
        ):
            whole = views_as_of(ledger.engine, loaded, instant)
            compared = 0
            for case_id in [c.hex for c in ledger.iter_case_ids()]:
                related = whole.same_petitioners(case_id)
                alone = cases_as_of(ledger.engine, loaded, instant, related)
                expected = whole.case_summary(case_id, instant)
                assert alone.case_summary(case_id, instant) == expected, (case_id, instant)
                assert alone.chain(case_id, instant) == whole.chain(case_id, instant)
                compared += expected is not None
            assert compared > 5  # the instant falls where there is something to compare
    finally:
        ledger.close()


def test_the_directory_read_once_still_sees_what_is_written_after(
    world: World, clock: Clock
) -> None:
    """The directory's facts are read once per process and then only the new ones: a unit
    renamed after a first replay is renamed in a replay as of after the rename."""
    from projections import schema

    loaded = default_rules()
    clock.now = datetime(2025, 3, 4, tzinfo=ZONE)
    case = world.register(datetime(2025, 3, 3, 9, 0, tzinfo=ZONE))
    engine = world.ledger.engine

    def unit_name(instant: datetime) -> str:
        views = cases_as_of(engine, loaded, instant, [case.aggregate_id.hex])
        u = schema.units
        with views.engine.connect() as conn:
            return str(
                conn.execute(
                    sa.select(u.c.name).where(
                        u.c.view_set == views.view_set, u.c.unit_id == world.housing.hex
                    )
                ).scalar_one()
            )

    before = unit_name(clock.now)
    clock.now = datetime(2025, 3, 10, tzinfo=ZONE)
    world.ledger.update_unit(
        world.housing,
        "rename",
        actor=world.at_office,
        occurred_at=clock.now,
        command_id="rename-housing",
        name="市住房和城乡建设局（新）",
    )
    assert unit_name(datetime(2025, 3, 5, tzinfo=ZONE)) == before  # as it stood then
    assert unit_name(datetime(2025, 3, 11, tzinfo=ZONE)) == "市住房和城乡建设局（新）"
