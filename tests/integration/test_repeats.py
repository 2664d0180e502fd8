"""重复访 kept by the projector (``rm_repeats``) equals the rule said in SQL over every case:
the same repeats, the same earlier case for each, and the same cases a petitioner came back
after, for every statistical period of a generated province."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from api.readmodel import live_views
from generate.run import generate
from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema
from projections.queries import Views
from projections.rebuild import periods


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    """A generated province: petitioners who come back, some many times."""
    ledger = Ledger(Settings(database_url=database_url))
    generate(ledger, cases=1500, seed=7)
    yield ledger
    ledger.close()


def test_repeats_read_by_key_are_the_repeats_of_the_sql_rule(ledger: Ledger) -> None:
    views = live_views(ledger)
    c = schema.cases
    with views.engine.connect() as conn:
        earlier_of = views.repeats_by_rule(conn)  # the self-join in SQL, over every case
        assert len(earlier_of) >= 20
        kept = views._repeat_of(conn, None)  # what the projector kept
        assert {k: v["earlier_case_id"] for k, v in kept.items()} == earlier_of
        all_ids = list(
            conn.execute(sa.select(c.c.case_id).where(c.c.view_set == views.view_set)).scalars()
        )
        by_key = views._repeat_of(conn, all_ids)
        assert {k: v["earlier_case_id"] for k, v in by_key.items()} == earlier_of
        came_back_after = set(earlier_of.values())
        assert views.repeated(conn, all_ids) == came_back_after
        checked = 0
        for period in periods(views):
            counted = sa.select(c.c.case_id).where(
                c.c.view_set == views.view_set,
                c.c.registered_s <= datetime.now(UTC).timestamp(),
                sa.or_(
                    c.c.registered_period == period,
                    c.c.accepted_period == period,
                    c.c.replied_period == period,
                ),
            )
            ids = set(conn.execute(counted).scalars())
            replied = (
                set(
                    conn.execute(
                        sa.select(c.c.case_id).where(
                            c.c.view_set == views.view_set, c.c.replied_period == period
                        )
                    ).scalars()
                )
                & ids
            )
            repeats, repeated = views.repeats_among(conn, ids, replied)
            assert repeats == ids & set(earlier_of)
            assert repeated == replied & came_back_after
            checked += len(repeats) + len(repeated)
        assert checked > 0


def test_statistics_added_up_in_the_database_are_those_counted_case_by_case(
    ledger: Ledger,
) -> None:
    """Every figure of every period, now and as of an earlier instant: the database's sums
    (what the statistics page and API show) equal the count case by case (what the rule diff
    lists the cases of)."""
    from projections.statistics import unit_statistics

    views = live_views(ledger)
    compared = 0
    for instant in (datetime.now(UTC), datetime(2024, 6, 30, tzinfo=UTC)):
        for period in periods(views):
            by_case = unit_statistics(views, period, instant).as_dict()
            summed = unit_statistics(views, period, instant, with_cases=False).as_dict()
            assert summed == by_case, (period, instant)
            compared += sum(len(r["metrics"]) for r in by_case["handling_units"])
    assert compared > 100


def assert_kept_repeats_are_the_rules(views: Views) -> None:
    """The repeat relation a view set keeps is the SQL rule's, and not empty."""
    with views.engine.connect() as conn:
        kept = {k: v["earlier_case_id"] for k, v in views._repeat_of(conn, None).items()}
        assert len(kept) >= 5
        assert kept == views.repeats_by_rule(conn)


def test_repeats_kept_a_few_cases_at_a_time_are_the_rule_s(database_url: str) -> None:
    """Projected in small batches, each write decides again only the cases its closings and
    receipts can touch, found by key: the kept relation is still exactly the rule's, here
    where petitioners come back many times."""
    from projections.repeats import FEW
    from projections.viewsets import DEFAULT_RULEBOOK, load
    from tests.integration.projection_helpers import project

    ledger = Ledger(Settings(database_url=database_url))
    try:
        generate(ledger, cases=600, seed=11)
        views = project(ledger, load(DEFAULT_RULEBOOK), batch_size=FEW // 2)
        assert_kept_repeats_are_the_rules(views)
    finally:
        ledger.close()


def test_a_rebuild_decides_every_repeat_at_once_as_the_rule_says(database_url: str) -> None:
    """A rebuild writes its ranges without repeats and decides them all at the end, reading
    the petitioners once: the relation is the rule's, in ranges of a few cases, in one
    process and in workers."""
    from projections.rebuild import rebuild
    from projections.viewsets import DEFAULT_RULEBOOK, load

    loaded = load(DEFAULT_RULEBOOK)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        generate(ledger, cases=600, seed=11)
        for workers in (1, 2):
            name = rebuild(
                ledger.engine, loaded, cases_per_commit=40, workers=workers, name=f"w{workers}"
            )
            assert_kept_repeats_are_the_rules(Views(ledger.engine, name, loaded.rules))
    finally:
        ledger.close()
