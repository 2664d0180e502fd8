"""Deadline arithmetic: counting, rolling, extension, pauses, and overdue time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import CalendarYearUnknown
from domain.deadlines import (
    Counting,
    allowed_extension_days,
    days_left,
    days_touched,
    deadline,
    deadline_end,
    duration_in_days,
    is_overdue,
    overdue_duration,
    pause_days,
)
from projections.rulebook_loader import RULEBOOKS_DIR, load_calendar

CALENDAR = load_calendar(RULEBOOKS_DIR / "calendar" / "cn-official.toml")
SHANGHAI = ZoneInfo("Asia/Shanghai")

CALENDAR_DAYS = Counting("calendar")  # the 2022 default: start day not counted, rolled
CALENDAR_NO_ROLL = Counting("calendar", roll_to_working_day=False)
CALENDAR_START_COUNTS = Counting("calendar", start_day_counts=True)
WORKING_DAYS = Counting("working")
WORKING_START_COUNTS = Counting("working", start_day_counts=True)
WORKING_NO_ROLL = Counting("working", roll_to_working_day=False)


def local(text: str) -> datetime:
    """An instant written in Beijing time, kept (like every instant) in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "limit", "rule", "expected"),
    [
        # Fri 2025-09-26 start, 5 working days, start day not counted: Sun 09-28 (调休) is day 1,
        # 09-29, 09-30, then the National Day holiday 10-01..10-08, 10-09 is day 4 -> Fri 10-10
        (local("2025-09-26 10:00"), 5, WORKING_DAYS, date(2025, 10, 10)),
        # the same with the start day counted: 09-26, 09-28, 09-29, 09-30, 10-09 -> Thu 10-09
        (local("2025-09-26 10:00"), 5, WORKING_START_COUNTS, date(2025, 10, 9)),
        # Sat 09-27 start with the start day counted: a Saturday is not a working day, so the
        # first counted day is Sun 09-28 (调休) -> Sun 09-28
        (local("2025-09-27 10:00"), 1, WORKING_START_COUNTS, date(2025, 9, 28)),
        # Mon 2025-01-20, 10 working days across the Spring Festival: 21, 22, 23, 24,
        # Sun 26 (调休), 27, holiday 01-28..02-04, 02-05, 02-06, 02-07, Sat 02-08 (调休)
        (local("2025-01-20 10:00"), 10, WORKING_DAYS, date(2025, 2, 8)),
        # Mon 2025-01-13, 15 calendar days -> Tue 01-28, Spring Festival -> Wed 02-05
        (local("2025-01-13 10:00"), 15, CALENDAR_DAYS, date(2025, 2, 5)),
        # the same without rolling: the last day stays on the holiday, Tue 01-28
        (local("2025-01-13 10:00"), 15, CALENDAR_NO_ROLL, date(2025, 1, 28)),
        # the same with the start day counted: 01-13 is day 1 -> Mon 01-27, a working day
        (local("2025-01-13 10:00"), 15, CALENDAR_START_COUNTS, date(2025, 1, 27)),
        # Sat 2025-08-02, 60 calendar days -> Wed 10-01, National Day -> Thu 10-09
        (local("2025-08-02 10:00"), 60, CALENDAR_DAYS, date(2025, 10, 9)),
        # Tue 2025-08-12, 60 calendar days -> Sat 10-11, a 调休 working day: no roll
        (local("2025-08-12 10:00"), 60, CALENDAR_DAYS, date(2025, 10, 11)),
        # Tue 2025-04-15, 60 calendar days -> Sat 06-14, an ordinary weekend -> Mon 06-16
        (local("2025-04-15 10:00"), 60, CALENDAR_DAYS, date(2025, 6, 16)),
        # Mon 2025-03-03, 60 calendar days -> Fri 05-02, 劳动节 (05-01..05-05) -> Tue 05-06
        (local("2025-03-03 10:00"), 60, CALENDAR_DAYS, date(2025, 5, 6)),
        # same day (limit 0) on Wed 03-05 -> Wed 03-05
        (local("2025-03-05 10:00"), 0, CALENDAR_DAYS, date(2025, 3, 5)),
        # same day (limit 0) on Sun 03-02 -> rolled to Mon 03-03
        (local("2025-03-02 10:00"), 0, CALENDAR_DAYS, date(2025, 3, 3)),
        # same day (limit 0) on Sun 03-02 without rolling -> Sun 03-02
        (local("2025-03-02 10:00"), 0, CALENDAR_NO_ROLL, date(2025, 3, 2)),
        # same working day (limit 0) on Sun 03-02, even without rolling -> Mon 03-03
        (local("2025-03-02 10:00"), 0, WORKING_NO_ROLL, date(2025, 3, 3)),
        # 15:59 UTC on 03-02 is Sun 23:59 in Beijing: 1 day -> Mon 03-03
        (utc("2025-03-02 15:59"), 1, CALENDAR_DAYS, date(2025, 3, 3)),
        # 16:00 UTC on 03-02 is already Mon 00:00 in Beijing: 1 day -> Tue 03-04
        (utc("2025-03-02 16:00"), 1, CALENDAR_DAYS, date(2025, 3, 4)),
        # Tue 2026-12-01, 20 calendar days -> Mon 12-21: stays inside the known 2026
        (local("2026-12-01 10:00"), 20, CALENDAR_DAYS, date(2026, 12, 21)),
        # Tue 2026-12-01, 60 calendar days, not rolled -> 2027-01-30 without asking the calendar
        (local("2026-12-01 10:00"), 60, CALENDAR_NO_ROLL, date(2027, 1, 30)),
    ],
)
def test_deadline(start: datetime, limit: int, rule: Counting, expected: date) -> None:
    assert deadline(start, limit, rule, CALENDAR, SHANGHAI) == expected


@pytest.mark.parametrize(
    ("start", "limit", "rule"),
    [
        # 60 calendar days -> Sat 2027-01-30; rolling needs the 2027 schedule
        (local("2026-12-01 10:00"), 60, CALENDAR_DAYS),
        # Fri 2026-12-25, 10 working days: counting runs into January 2027
        (local("2026-12-25 10:00"), 10, WORKING_DAYS),
        # a start in 2027 itself, same working day
        (local("2027-01-04 10:00"), 0, WORKING_DAYS),
    ],
)
def test_a_deadline_that_needs_an_unknown_year_names_it(
    start: datetime, limit: int, rule: Counting
) -> None:
    with pytest.raises(CalendarYearUnknown) as caught:
        deadline(start, limit, rule, CALENDAR, SHANGHAI)
    assert caught.value.year == 2027
    assert "2027" in str(caught.value)


@pytest.mark.parametrize(
    ("extension", "paused", "rule", "limit", "expected"),
    [
        # Mon 2025-03-03 accepted, 60 days -> Fri 05-02, 劳动节 -> Tue 05-06
        (0, 0, CALENDAR_DAYS, 60, date(2025, 5, 6)),
        # + 30 days' extension: 90 days -> Sun 06-01, 端午节 -> Tue 06-03
        (30, 0, CALENDAR_DAYS, 60, date(2025, 6, 3)),
        # + 10 days paused for a hearing: 70 days -> Mon 05-12
        (0, 10, CALENDAR_DAYS, 60, date(2025, 5, 12)),
        # + 30 extension + 5 paused: 95 days -> Fri 06-06
        (30, 5, CALENDAR_DAYS, 60, date(2025, 6, 6)),
        # 40 working days from Mon 03-03: 20 in March from 03-04, 04-01..03, 清明 04-04 off,
        # 04-07..25, Sun 04-27 (调休) is day 39 -> Mon 04-28
        (0, 0, WORKING_DAYS, 40, date(2025, 4, 28)),
        # + 3 working days paused: 04-29, 04-30, then 劳动节 05-01..05-05 -> Tue 05-06
        (0, 3, WORKING_DAYS, 40, date(2025, 5, 6)),
        # + 3 working days' extension moves it the same way -> Tue 05-06
        (3, 0, WORKING_DAYS, 40, date(2025, 5, 6)),
    ],
)
def test_extension_and_pause_move_the_deadline(
    extension: int, paused: int, rule: Counting, limit: int, expected: date
) -> None:
    accepted = local("2025-03-03 10:00")
    moved = deadline(
        accepted, limit, rule, CALENDAR, SHANGHAI, extension_days=extension, pause_days=paused
    )
    assert moved == expected


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("limit", {"limit": -1}),  # a negative limit is nonsense
        ("extension_days", {"extension_days": -1}),  # so is a negative extension
        ("pause_days", {"pause_days": -1}),  # and a negative pause
    ],
)
def test_deadline_refuses_negative_days(field: str, kwargs: dict[str, int]) -> None:
    arguments: dict[str, int] = {"limit": 60} | kwargs
    limit = arguments.pop("limit")
    with pytest.raises(ValueError, match=field):
        deadline(local("2025-03-03 10:00"), limit, CALENDAR_DAYS, CALENDAR, SHANGHAI, **arguments)


def test_deadline_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        deadline(datetime(2025, 3, 3, 10), 60, CALENDAR_DAYS, CALENDAR, SHANGHAI)


@pytest.mark.parametrize(
    ("granted", "max_days", "max_count", "expected"),
    [
        ([30], 30, 1, 30),  # one extension of the full 30 days counts
        ([45], 30, 1, 30),  # 45 granted, only the rulebook's 30 count
        ([20, 20], 30, 1, 20),  # a second extension beyond max_extensions = 1 does not count
        ([20, 20], 30, 2, 30),  # two allowed, capped at 30 days in all
        ([], 30, 1, 0),  # nothing granted
        ([10], 0, 0, 0),  # a clock that allows no extension at all
    ],
)
def test_allowed_extension_days(
    granted: list[int], max_days: int, max_count: int, expected: int
) -> None:
    assert (
        allowed_extension_days(granted, max_extension_days=max_days, max_extensions=max_count)
        == expected
    )


def test_allowed_extension_days_refuses_a_negative_grant() -> None:
    with pytest.raises(ValueError, match="negative"):
        allowed_extension_days([-5], max_extension_days=30, max_extensions=1)


@pytest.mark.parametrize(
    ("paused_at", "resumed_at", "calendar_days", "working_days"),
    [
        # Mon 09:00 .. Wed 17:00 covers only Tue whole
        (local("2025-03-03 09:00"), local("2025-03-05 17:00"), 1, 1),
        # Mon 00:00 .. Thu 00:00 covers Mon, Tue, Wed
        (local("2025-03-03 00:00"), local("2025-03-06 00:00"), 3, 3),
        # Fri 00:00 .. Mon 00:00 covers Fri, Sat, Sun; only Fri is a working day
        (local("2025-03-07 00:00"), local("2025-03-10 00:00"), 3, 1),
        # a pause inside one day covers no whole day
        (local("2025-03-03 09:00"), local("2025-03-03 17:00"), 0, 0),
        # an instantaneous pause covers nothing
        (local("2025-03-03 09:00"), local("2025-03-03 09:00"), 0, 0),
        # Tue 09-30 .. Fri 10-10 00:00 covers 09-30..10-09: working only 09-30 and 10-09
        (local("2025-09-30 00:00"), local("2025-10-10 00:00"), 10, 2),
        # Fri 09-26 noon .. Mon 09-29 noon covers Sat 27 and Sun 28; Sun 28 is 调休 working
        (local("2025-09-26 12:00"), local("2025-09-29 12:00"), 2, 1),
    ],
)
def test_pause_counts_the_whole_days_it_covered(
    paused_at: datetime, resumed_at: datetime, calendar_days: int, working_days: int
) -> None:
    assert pause_days(paused_at, resumed_at, "calendar", CALENDAR, SHANGHAI) == calendar_days
    assert pause_days(paused_at, resumed_at, "working", CALENDAR, SHANGHAI) == working_days


def test_a_working_day_pause_in_an_unknown_year_names_it() -> None:
    paused, resumed = local("2027-03-01 00:00"), local("2027-03-08 00:00")
    assert pause_days(paused, resumed, "calendar", CALENDAR, SHANGHAI) == 7  # no calendar needed
    with pytest.raises(CalendarYearUnknown) as caught:
        pause_days(paused, resumed, "working", CALENDAR, SHANGHAI)
    assert caught.value.year == 2027


def test_a_pause_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        pause_days(
            local("2025-03-05 00:00"), local("2025-03-03 00:00"), "calendar", CALENDAR, SHANGHAI
        )


DEADLINE = date(2025, 5, 6)  # overdue from Wed 2025-05-07 00:00 Beijing time


def test_the_deadline_ends_at_midnight_local_time() -> None:
    # 24:00 on 05-06 in Beijing is 16:00 UTC the same day
    assert deadline_end(DEADLINE, SHANGHAI) == utc("2025-05-06 16:00")


@pytest.mark.parametrize(
    ("held_from", "held_to", "overdue", "touched"),
    [
        # held until 23:59 on the deadline day: not overdue
        (local("2025-04-01 09:00"), local("2025-05-06 23:59"), timedelta(0), 0),
        # held until exactly 24:00 on the deadline day: still not overdue
        (local("2025-04-01 09:00"), local("2025-05-07 00:00"), timedelta(0), 0),
        # held across the deadline until 12:00 next day: 12 hours, touching 05-07
        (local("2025-05-06 10:00"), local("2025-05-07 12:00"), timedelta(hours=12), 1),
        # 23:00 to 01:00 two days later: 2 hours touching 05-08 and 05-09
        (local("2025-05-08 23:00"), local("2025-05-09 01:00"), timedelta(hours=2), 2),
        # 05-07 00:00 to 05-09 00:00: 48 hours touching 05-07 and 05-08, not 05-09
        (local("2025-05-07 00:00"), local("2025-05-09 00:00"), timedelta(hours=48), 2),
        # an empty interval after the deadline: nothing
        (local("2025-05-07 08:00"), local("2025-05-07 08:00"), timedelta(0), 0),
        # the domain's example: B held the case from before the deadline to day 65 (05-12)
        (local("2025-04-01 09:00"), local("2025-05-12 00:00"), timedelta(days=5), 5),
        # ... and C from 05-12 to its reply on day 80 (05-27)
        (local("2025-05-12 00:00"), local("2025-05-27 00:00"), timedelta(days=15), 15),
        # instants in UTC: 16:00Z on 05-06 is 00:00 on 05-07 in Beijing; 6 hours on 05-07
        (utc("2025-05-06 16:00"), utc("2025-05-06 22:00"), timedelta(hours=6), 1),
    ],
)
def test_overdue_duration_is_exact_and_counts_the_days_it_touched(
    held_from: datetime, held_to: datetime, overdue: timedelta, touched: int
) -> None:
    assert overdue_duration(DEADLINE, SHANGHAI, held_from, held_to) == overdue
    assert days_touched(DEADLINE, SHANGHAI, held_from, held_to) == touched


def test_overdue_duration_refuses_an_interval_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        overdue_duration(DEADLINE, SHANGHAI, local("2025-05-09 00:00"), local("2025-05-08 00:00"))


@pytest.mark.parametrize(
    ("at", "overdue"),
    [
        (local("2025-05-06 23:59:59"), False),  # the last second of the deadline day
        (local("2025-05-07 00:00"), True),  # 24:00 local: overdue
        (utc("2025-05-06 15:59:59"), False),  # the same last second, written in UTC
        (utc("2025-05-06 16:00"), True),  # 24:00 Beijing time, written in UTC
    ],
)
def test_is_overdue_from_the_end_of_the_deadline_day(at: datetime, overdue: bool) -> None:
    assert is_overdue(DEADLINE, SHANGHAI, at) is overdue


@pytest.mark.parametrize(
    ("at", "left"),
    [
        (local("2025-05-01 09:00"), 5),  # five days ahead
        (local("2025-05-06 23:00"), 0),  # on the deadline day itself
        (local("2025-05-08 09:00"), -2),  # two days past
    ],
)
def test_days_left(at: datetime, left: int) -> None:
    assert days_left(DEADLINE, SHANGHAI, at) == left


@pytest.mark.parametrize(
    ("duration", "decimals", "shown"),
    [
        (timedelta(hours=36), 1, Decimal("1.5")),  # a day and a half
        (timedelta(hours=1), 1, Decimal("0.0")),  # 0.04 days
        (timedelta(hours=3), 1, Decimal("0.1")),  # 0.125 days
        (timedelta(hours=3, minutes=36), 1, Decimal("0.2")),  # exactly 0.15: half up
        (timedelta(days=20), 1, Decimal("20.0")),  # whole days keep one decimal
        (timedelta(hours=1), 2, Decimal("0.04")),  # two decimals if the rulebook says so
        (timedelta(0), 1, Decimal("0.0")),  # none
    ],
)
def test_duration_in_days(duration: timedelta, decimals: int, shown: Decimal) -> None:
    assert duration_in_days(duration, decimals) == shown
    assert str(duration_in_days(duration, decimals)) == str(shown)


# --- properties ---------------------------------------------------------------------------

starts = st.builds(
    lambda day, minute: (
        datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(minutes=minute)
    ),
    st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
rules = st.builds(Counting, st.sampled_from(["calendar", "working"]), st.booleans(), st.booleans())
limits = st.integers(min_value=0, max_value=100)


@given(starts, rules, limits, st.integers(min_value=0, max_value=30))
def test_deadline_is_monotone_in_the_limit(
    start: datetime, rule: Counting, limit: int, more: int
) -> None:
    shorter = deadline(start, limit, rule, CALENDAR, SHANGHAI)
    longer = deadline(start, limit + more, rule, CALENDAR, SHANGHAI)
    assert start.date() <= shorter <= longer


@given(starts, st.booleans(), st.booleans(), limits)
def test_a_working_day_deadline_lands_on_a_working_day(
    start: datetime, start_day_counts: bool, roll: bool, limit: int
) -> None:
    rule = Counting("working", start_day_counts, roll)
    assert CALENDAR.is_working_day(deadline(start, limit, rule, CALENDAR, SHANGHAI))


@given(starts, limits)
def test_rolling_moves_to_the_first_working_day_on_or_after_the_last_day(
    start: datetime, limit: int
) -> None:
    unrolled = deadline(start, limit, CALENDAR_NO_ROLL, CALENDAR, SHANGHAI)
    rolled = deadline(start, limit, CALENDAR_DAYS, CALENDAR, SHANGHAI)
    assert unrolled == start.date() + timedelta(days=limit)
    assert CALENDAR.is_working_day(rolled)
    assert not list(CALENDAR.working_days(unrolled, rolled - timedelta(days=1)))


instants = st.integers(min_value=0, max_value=40 * 24 * 60).map(
    lambda minute: local("2025-04-20 00:00") + timedelta(minutes=minute)
)


@given(instants, instants, instants)
def test_overdue_time_adds_up_across_custody_intervals(
    a: datetime, b: datetime, c: datetime
) -> None:
    first, middle, last = sorted((a, b, c))
    whole = overdue_duration(DEADLINE, SHANGHAI, first, last)
    parts = overdue_duration(DEADLINE, SHANGHAI, first, middle) + overdue_duration(
        DEADLINE, SHANGHAI, middle, last
    )
    assert whole == parts
    touched = days_touched(DEADLINE, SHANGHAI, first, last)
    assert whole <= timedelta(days=touched)
    assert touched == 0 or whole > timedelta(days=touched - 2)


@given(instants, instants)
def test_a_pause_covers_no_more_working_days_than_calendar_days(a: datetime, b: datetime) -> None:
    paused, resumed = sorted((a, b))
    working = pause_days(paused, resumed, "working", CALENDAR, SHANGHAI)
    calendar = pause_days(paused, resumed, "calendar", CALENDAR, SHANGHAI)
    assert 0 <= working <= calendar <= (resumed - paused).days
