"""Who-delayed-what and the delay board read the projector's kept totals; both must say
exactly what the definition says, every custody interval and 督办 run judged and added up
(``delays_from_intervals``): the same parties, the same totals, the same cases — one party
asked alone as in the whole list — and the board's few cases are the worst of the list."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from api.demo import write_demo
from api.readmodel import default_rules, live_views
from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema
from projections.bulk import insert_tuples
from projections.queries import Views, overdue_expr
from projections.viewsets import views_as_of
from tests.integration.projection_helpers import (
    delays_from_intervals,
    kept_totals,
    totals_from_rows,
)

ZONE = ZoneInfo("Asia/Shanghai")
TOTALS = ("party", "cases_held", "cases_overdue", "overdue_days", "worst_days", "by_stage")


@pytest.mark.parametrize("party", ["unit", "person", "leader"])
def test_the_board_adds_up_what_who_delayed_what_adds_up(database_url: str, party: str) -> None:
    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        views = live_views(ledger)
        kept = kept_totals(views.engine, views.view_set)
        assert kept["parties"] and kept == totals_from_rows(views.engine, views.view_set)
        cut = False  # the board left some cases out somewhere: its top really is a top
        for now in (datetime(2024, 9, 30, tzinfo=ZONE), datetime(2026, 1, 1, tzinfo=ZONE)):
            full = delays_from_intervals(views, party, now)
            _same_as_defined(views, party, now, full)
            board = views.delay_board(party, now, top=3)
            assert [{k: r[k] for k in TOTALS} for r in board] == [
                {k: r[k] for k in TOTALS} for r in full
            ]
            cut |= any(r["cases_overdue"] > 3 for r in board) or party != "unit"
            for b, f in zip(board, full, strict=True):
                assert b["cases_listed"] == len(f["cases"])
                worst = sorted((c["overdue_days"] for c in f["cases"]), reverse=True)[:3]
                assert [c["overdue_days"] for c in b["cases"]] == worst
                listed = {c["case_number"]: c["overdue_days"] for c in f["cases"]}
                assert all(listed[c["case_number"]] == c["overdue_days"] for c in b["cases"])
        assert cut
    finally:
        ledger.close()


def _late(views: Views, now: datetime) -> tuple[int, int]:
    """How many closed and how many open custody intervals are overdue at ``now``."""
    t = schema.custody
    n = now.timestamp()
    late = overdue_expr(t, n) > 0
    with views.engine.connect() as conn:
        closed, still_open = conn.execute(
            sa.select(
                sa.func.count().filter(late, t.c.end_s.is_not(None)),
                sa.func.count().filter(late, t.c.end_s.is_(None)),
            ).where(t.c.view_set == views.view_set, t.c.start_s <= n)
        ).one()
    return int(closed), int(still_open)


def _settled(views: Views, now: datetime) -> tuple[int, int]:
    """Cases whose closed intervals the board reads added up, and cases it must read from
    their intervals because one of them ended after ``now``."""
    d = schema.delay_cases
    n = now.timestamp()
    with views.engine.connect() as conn:
        settled, unsettled = conn.execute(
            sa.select(
                sa.func.count(sa.distinct(d.c.case_id)).filter(d.c.ended_s <= n),
                sa.func.count(sa.distinct(d.c.case_id)).filter(d.c.ended_s > n),
            ).where(d.c.view_set == views.view_set)
        ).one()
    return int(settled), int(unsettled)


SAME = (*TOTALS, "cases")


def _same_as_defined(views: Views, party: str, now: datetime, full: list[dict]) -> None:
    """Who-delayed-what, for every party and for each party asked alone, is the definition's
    list (overdue seconds added up in another order may differ in the last float digits)."""
    listed = views.who_delayed_what(party, now)
    assert [{k: r[k] for k in SAME} for r in listed] == [{k: r[k] for k in SAME} for r in full]
    assert [r["overdue_s"] for r in listed] == pytest.approx([r["overdue_s"] for r in full])
    for row in full:
        alone = views.who_delayed_what(party, now, only=[row["party"]])
        assert [{k: r[k] for k in SAME} for r in alone] == [{k: row[k] for k in SAME}]
    assert views.who_delayed_what(party, now, only=["no-such-party"]) == []


def _same_totals(views: Views, now: datetime) -> None:
    for party in ("unit", "person", "leader"):
        full = delays_from_intervals(views, party, now)
        _same_as_defined(views, party, now, full)
        board = views.delay_board(party, now, top=3)
        assert [{k: r[k] for k in TOTALS} for r in board] == [
            {k: r[k] for k in TOTALS} for r in full
        ], (party, now)


def test_the_board_as_of_an_instant_adds_closed_late_custody_to_the_open_late_custody_of_then(
    database_url: str,
) -> None:
    """Custody that ended late is added up once, when the case is judged; custody still open
    is late by however long it has been by the board's instant. Both kinds are late in this
    story at every instant, and the board equals who-delayed-what there: in the view set of
    that instant, and in today's view set read at that instant (where custody that ended
    after it must be read from the intervals)."""
    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        live = live_views(ledger)
        for instant in (
            datetime(2024, 6, 30, tzinfo=ZONE),
            datetime(2024, 12, 31, tzinfo=ZONE),
            datetime(2025, 3, 31, tzinfo=ZONE),
        ):
            then = views_as_of(ledger.engine, default_rules(), instant)
            closed, still_open = _late(then, instant)
            assert closed > 0 and still_open > 0, (instant, closed, still_open)
            assert _settled(then, instant)[0] > 0  # the added-up parts are read
            _same_totals(then, instant)
            assert _settled(live, instant)[1] > 0  # some custody of today ended after then
            _same_totals(live, instant)
    finally:
        ledger.close()


def test_a_view_set_that_kept_parts_with_no_overdue_time_reads_the_same(
    database_url: str,
) -> None:
    """View sets built before parts with no overdue time were left out have one such row per
    case, party and stage: the board, now and as of earlier instants, must read the same."""
    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        live = live_views(ledger)
        c, d = schema.delay_cases, schema.delay_parts
        with live.engine.begin() as conn:
            zero_parts = [
                (live.view_set, case_id, kind, party, "handling", 0.0, ended_s)
                for case_id, kind, party, ended_s in conn.execute(
                    sa.select(c.c.case_id, c.c.kind, c.c.party, c.c.ended_s).where(
                        c.c.view_set == live.view_set
                    )
                )
            ]
            assert zero_parts
            insert_tuples(conn, d, zero_parts)
        for instant in (datetime(2024, 12, 31, tzinfo=ZONE), datetime(2026, 1, 1, tzinfo=ZONE)):
            _same_totals(live, instant)
        assert _settled(live, datetime(2024, 12, 31, tzinfo=ZONE))[1] > 0
    finally:
        ledger.close()


def test_the_board_in_pages_is_the_whole_board_cut_worst_first(database_url: str) -> None:
    """Page after page, the board gives every party once, worst first, each page's parties
    with the same totals and worst cases as on the whole board; a scope keeps its parties
    only, before the pages are cut."""
    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        views = live_views(ledger)
        now = datetime(2026, 1, 1, tzinfo=ZONE)
        whole = views.delay_board("unit", now, top=3)
        assert len(whole) > 7
        pages = []
        for offset in range(0, len(whole) + 3, 3):
            page = views.delay_board_page("unit", now, top=3, limit=3, offset=offset)
            assert page.parties == len(whole)
            assert page.most_overdue_days == whole[0]["overdue_days"]
            pages.extend(page.rows)
        assert pages == whole
        some = {r["party"] for r in whole[::2]}
        within = views.delay_board_page("unit", now, top=3, within=some, limit=2)
        assert within.parties == len(some)
        assert within.rows == [r for r in whole if r["party"] in some][:2]
    finally:
        ledger.close()
