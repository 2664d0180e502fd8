"""The official working-day calendar: 调休 weekends, weekday holidays, and unknown years."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from pydantic import ValidationError

from domain.calendar import CalendarYearUnknown, WorkingCalendar, YearSchedule
from projections.rulebook_loader import RULEBOOKS_DIR, load_calendar

CALENDAR = load_calendar(RULEBOOKS_DIR / "calendar" / "cn-official.toml")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 1, 26), True),  # Sun, 调休: worked for the Spring Festival
        (date(2025, 1, 27), True),  # Mon before the Spring Festival
        (date(2025, 1, 28), False),  # Tue, 除夕: first day of the Spring Festival holiday
        (date(2025, 1, 31), False),  # Fri inside the Spring Festival holiday
        (date(2025, 2, 4), False),  # Tue, last day of the Spring Festival holiday
        (date(2025, 2, 5), True),  # Wed, back at work
        (date(2025, 2, 8), True),  # Sat, 调休: worked for the Spring Festival
        (date(2025, 2, 9), False),  # Sun, an ordinary weekend day
        (date(2025, 3, 1), False),  # Sat, an ordinary weekend day
        (date(2025, 3, 5), True),  # Wed, an ordinary working day
        (date(2025, 4, 4), False),  # Fri, 清明节
        (date(2025, 4, 27), True),  # Sun, 调休 for 劳动节
        (date(2025, 5, 5), False),  # Mon, last day of 劳动节
        (date(2025, 9, 28), True),  # Sun, 调休 for National Day
        (date(2025, 10, 1), False),  # Wed, National Day
        (date(2025, 10, 6), False),  # Mon, 中秋节 inside the National Day holiday
        (date(2025, 10, 8), False),  # Wed, last day of the National Day holiday
        (date(2025, 10, 9), True),  # Thu, back at work
        (date(2025, 10, 11), True),  # Sat, 调休 for National Day
        (date(2025, 10, 12), False),  # Sun, an ordinary weekend day
        (date(2026, 1, 2), False),  # Fri, 元旦 holiday
        (date(2026, 1, 4), True),  # Sun, 调休 for 元旦
        (date(2026, 2, 14), True),  # Sat, 调休 for the 2026 Spring Festival
        (date(2026, 2, 16), False),  # Mon, 2026 Spring Festival
        (date(2026, 2, 24), True),  # Tue, back at work after the 2026 Spring Festival
        (date(2026, 12, 31), True),  # Thu, last known day
    ],
)
def test_working_days_follow_the_official_schedule(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


@pytest.mark.parametrize("year", range(2004, 2027))
def test_shipped_data_agrees_with_chinesecalendar_on_every_day_of_the_year(year: int) -> None:
    day = date(year, 1, 1)
    while day.year == year:
        assert CALENDAR.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_shipped_data_covers_2004_to_2026() -> None:
    assert CALENDAR.known_years == frozenset(range(2004, 2027))


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 1, 1),  # the first day after the shipped data
        date(2027, 6, 15),  # an ordinary-looking Tuesday: still not guessed
        date(2003, 12, 31),  # the last day before the shipped data
    ],
)
def test_a_year_without_its_schedule_is_unknown_and_named(day: date) -> None:
    with pytest.raises(CalendarYearUnknown) as caught:
        CALENDAR.is_working_day(day)
    assert caught.value.year == day.year
    assert f"schedule for {day.year} is not loaded" in str(caught.value)


def test_an_empty_calendar_knows_no_year() -> None:
    with pytest.raises(CalendarYearUnknown):
        WorkingCalendar().is_working_day(date(2025, 3, 5))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 3, 5), date(2025, 3, 5)),  # Wed, already a working day
        (date(2025, 3, 1), date(2025, 3, 3)),  # Sat -> Mon
        (date(2025, 1, 28), date(2025, 2, 5)),  # Spring Festival -> first day back
        (date(2025, 10, 4), date(2025, 10, 9)),  # Sat inside National Day -> Thu 10-09
        (date(2025, 9, 27), date(2025, 9, 28)),  # Sat -> Sun 09-28, a 调休 working day
    ],
)
def test_next_working_day(day: date, expected: date) -> None:
    assert CALENDAR.next_working_day(day) == expected


def test_next_working_day_into_an_unknown_year_names_it() -> None:
    # Sat 2027-01-02 is a weekend day by the weekday pattern, but 2027 is not loaded: no guess
    with pytest.raises(CalendarYearUnknown) as caught:
        CALENDAR.next_working_day(date(2027, 1, 2))
    assert caught.value.year == 2027


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (date(2025, 3, 5), 0, date(2025, 3, 5)),  # zero working days: the day itself
        (date(2025, 3, 5), 2, date(2025, 3, 7)),  # Wed + 2 -> Fri
        (date(2025, 3, 7), 1, date(2025, 3, 10)),  # Fri + 1 -> Mon over the weekend
        (date(2025, 9, 26), 1, date(2025, 9, 28)),  # Fri + 1 -> Sun 09-28, 调休
        (date(2025, 9, 30), 1, date(2025, 10, 9)),  # Tue + 1 -> over the National Day holiday
    ],
)
def test_add_working_days(day: date, count: int, expected: date) -> None:
    assert CALENDAR.add_working_days(day, count) == expected


def test_add_working_days_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(date(2025, 3, 5), -1)


def test_working_days_lists_the_working_days_of_a_range() -> None:
    # Fri 09-26 .. Thu 10-09: 09-26, Sun 09-28 (调休), 09-29, 09-30, then 10-09 after the holiday
    assert list(CALENDAR.working_days(date(2025, 9, 26), date(2025, 10, 9))) == [
        date(2025, 9, 26),
        date(2025, 9, 28),
        date(2025, 9, 29),
        date(2025, 9, 30),
        date(2025, 10, 9),
    ]


@pytest.mark.parametrize(
    ("holidays", "working_weekends", "problem"),
    [
        ([date(2024, 12, 31)], [], "not in 2025"),  # a holiday filed under the wrong year
        ([], [date(2025, 1, 27)], "not a Saturday or Sunday"),  # Mon as a 调休 weekend day
        ([date(2025, 1, 26)], [date(2025, 1, 26)], "both"),  # a day both off and worked
    ],
)
def test_a_year_schedule_refuses_contradictions(
    holidays: list[date], working_weekends: list[date], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        YearSchedule.model_validate(
            {"year": 2025, "holidays": holidays, "working_weekends": working_weekends}
        )


def test_a_schedule_must_be_filed_under_its_own_year() -> None:
    schedule = YearSchedule(year=2025, holidays=frozenset(), working_weekends=frozenset())
    with pytest.raises(ValueError, match="filed under year 2026"):
        WorkingCalendar({2026: schedule})
