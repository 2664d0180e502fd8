"""The custody timeline is drawn from the chain the API returns: one row per holder, the
overdue part in red exactly where the chain says it is, each deadline a line across the rows
it bound, pauses shaded — nothing re-judged on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.console.timeline import PETITIONERS_ROW, layout

ZONE = ZoneInfo("Asia/Shanghai")
DAY = 86_400.0
T0 = datetime(2025, 3, 5, 1, 0, tzinfo=UTC)
CLOCKS = {"handling": "办理", "review_request": "请求复查"}


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def interval(
    holder: str | None,
    start: float,
    end: float | None,
    *,
    overdue_days: float = 0.0,
    deadline_day: float | None = 60,
    excluded: str | None = None,
    clock: str | None = "handling",
    extension_days: int = 0,
) -> dict[str, Any]:
    return {
        "seq": 0,
        "holder_unit": holder,
        "handler": None,
        "leader": None,
        "stage": "办理中",
        "from": at(start),
        "to": at(end) if end is not None else None,
        "clock": clock,
        "deadline": "2025-05-04" if deadline_day is not None else None,
        "deadline_end": at(deadline_day) if deadline_day is not None else None,
        "deadline_status": "in force",
        "excluded": excluded,
        "extension_days": extension_days,
        "pause_days": 0,
        "time_used_days": round((end or 100) - start, 1),
        "overdue_s": overdue_days * DAY,
        "overdue_days": overdue_days,
    }


def test_the_buck_passed_on_a_late_case_shows_each_holders_overdue_part_in_red() -> None:
    """DOMAIN.md's story: the deadline passes on day 60 while B holds the case, B passes it
    to C on day 65, C replies on day 80. B answers for 5 days and C for 15."""
    chain = [
        interval("A 局", 0, 30),
        interval("B 局", 30, 65, overdue_days=5),
        interval("C 局", 65, 80, overdue_days=15),
    ]
    t = layout(chain, [], T0 + timedelta(days=200), ZONE, CLOCKS)
    assert t is not None
    assert [holder for _, holder in t.rows] == ["A 局", "B 局", "C 局"]
    a, b, c = t.bars
    assert a.late_width == 0
    # The red part ends where the bar ends and is as long as the chain's overdue time.
    assert b.late_x + b.late_width == pytest.approx(b.x + b.width, abs=0.2)
    assert c.late_x == pytest.approx(c.x, abs=0.2)  # C held it late from the first day
    assert c.late_width / b.late_width == pytest.approx(15 / 5, rel=0.02)
    # One handling deadline, drawn across the three rows it bound, at day 60: where B's
    # red part starts.
    [deadline] = t.deadlines
    assert deadline.missed and "办理期限" in deadline.label
    assert deadline.x == pytest.approx(b.late_x, abs=0.2)
    assert deadline.y1 < t.rows[0][0] + t.row_h and deadline.y2 > t.rows[2][0]
    assert t.overdue_bars == 2


def test_a_case_returned_to_a_unit_keeps_one_row_for_that_unit() -> None:
    chain = [interval("A 局", 0, 10), interval("B 局", 10, 20), interval("A 局", 20, 30)]
    t = layout(chain, [], T0 + timedelta(days=30), ZONE, CLOCKS)
    assert t is not None
    assert [holder for _, holder in t.rows] == ["A 局", "B 局"]
    assert [bar.row for bar in t.bars] == [0, 1, 0]


def test_time_that_belongs_to_the_petitioner_is_its_own_row_and_never_red() -> None:
    chain = [
        interval("A 局", 0, 50),
        interval(None, 50, 80, excluded="petitioner", clock="review_request", deadline_day=80),
    ]
    t = layout(chain, [], T0 + timedelta(days=80), ZONE, CLOCKS)
    assert t is not None
    assert t.rows[1][1] == PETITIONERS_ROW
    assert t.bars[1].excluded and t.bars[1].late_width == 0


def test_an_open_case_runs_to_the_instant_it_is_seen_at_and_marks_it() -> None:
    seen = T0 + timedelta(days=70)
    t = layout([interval("A 局", 0, None, overdue_days=10)], [], seen, ZONE, CLOCKS)
    assert t is not None
    bar = t.bars[0]
    assert t.now_x == pytest.approx(bar.x + bar.width, abs=0.2)
    assert "截至" in t.now_label


def test_pauses_are_shaded_and_extensions_named_on_the_deadline() -> None:
    history = [
        {"type": "ClockPaused", "occurred_at": at(20), "data": {"reason": "听证"}},
        {"type": "ClockResumed", "occurred_at": at(35), "data": {}},
        {"type": "ExtensionDecided", "occurred_at": at(50), "data": {"days_granted": 30}},
        {"type": "Rated", "occurred_at": at(95), "data": {}},  # not a clock event: unmarked
    ]
    chain = [interval("A 局", 0, 95, deadline_day=105, extension_days=30)]
    t = layout(chain, history, T0 + timedelta(days=120), ZONE, CLOCKS)
    assert t is not None
    [band] = t.bands
    assert band.width > 0 and "中止" in band.title
    assert [m.kind for m in t.markers] == ["ClockPaused", "ClockResumed", "ExtensionDecided"]
    assert "延期审批" in t.markers[2].title and "30天" in t.markers[2].title
    assert "含延期 30 天" in t.deadlines[0].title and not t.deadlines[0].missed


def test_nothing_to_draw_before_anyone_held_the_case() -> None:
    assert layout([], [], T0, ZONE, CLOCKS) is None
