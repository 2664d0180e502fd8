"""The delay board adds up in the database exactly what who-delayed-what adds up in Python:
the same parties, the same totals, and its few cases are the worst of the full list."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from api.demo import write_demo
from api.readmodel import live_views
from ledger.application import Ledger
from ledger.settings import Settings

ZONE = ZoneInfo("Asia/Shanghai")
TOTALS = ("party", "cases_held", "cases_overdue", "overdue_days", "worst_days", "by_stage")


@pytest.mark.parametrize("party", ["unit", "person", "leader"])
def test_the_board_adds_up_what_who_delayed_what_adds_up(database_url: str, party: str) -> None:
    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        views = live_views(ledger)
        cut = False  # the board left some cases out somewhere: its top really is a top
        for now in (datetime(2024, 9, 30, tzinfo=ZONE), datetime(2026, 1, 1, tzinfo=ZONE)):
            full = views.who_delayed_what(party, now)
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
