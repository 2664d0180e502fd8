"""The official working-day calendar (工作日历), built from data, never guessed.

China moves working days every year: the State Council's notice (国务院办公厅关于某年部分节假日
安排的通知) names the holidays (放假, including weekday holidays) and the weekend days that are
worked instead (调休上班). A working day is therefore:

- a date in the year's ``working_weekends`` (a Saturday or Sunday worked by 调休), or
- a Monday-to-Friday date not in the year's ``holidays``.

A year whose schedule is not loaded is *unknown*: asking about any date in it raises
:class:`CalendarYearUnknown` naming the year. The calendar never extrapolates a year from
the weekday pattern, because a deadline computed that way would be wrong on exactly the
days (Spring Festival, National Day) where cases pile up.

This module does no I/O; ``projections.rulebook_loader`` reads the data file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, model_validator

from domain.errors import DomainError

SATURDAY = 5


class CalendarYearUnknown(DomainError, LookupError):
    """A date falls in a year whose official holiday schedule is not loaded (日历未载入)."""

    code = "calendar-year-unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the official holiday schedule for {year} is not loaded, so working days in "
            f"{year} cannot be counted; add [years.{year}] to the calendar data once the "
            "State Council has published it"
        )
        self.year = year


class YearSchedule(BaseModel):
    """One year's official schedule: holidays (放假) and 调休 working weekend days (调休上班)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int
    holidays: frozenset[date]
    working_weekends: frozenset[date]
    source: str | None = None

    @model_validator(mode="after")
    def _check_consistent(self) -> YearSchedule:
        for name, days in (
            ("holidays", self.holidays),
            ("working_weekends", self.working_weekends),
        ):
            stray = sorted(d for d in days if d.year != self.year)
            if stray:
                raise ValueError(f"{name}: {stray[0].isoformat()} is not in {self.year}")
        weekdays = sorted(d for d in self.working_weekends if d.weekday() < SATURDAY)
        if weekdays:
            raise ValueError(
                f"working_weekends: {weekdays[0].isoformat()} is a "
                f"{weekdays[0].strftime('%A')}, not a Saturday or Sunday"
            )
        both = sorted(self.holidays & self.working_weekends)
        if both:
            raise ValueError(
                f"{both[0].isoformat()} is listed both as a holiday and as a working weekend day"
            )
        return self


class WorkingCalendar:
    """Answers "is this a working day?" for the years it holds, and refuses the others."""

    __slots__ = ("_years",)

    def __init__(self, schedules: Mapping[int, YearSchedule] | None = None) -> None:
        years = dict(schedules or {})
        for year, schedule in years.items():
            if schedule.year != year:
                raise ValueError(f"schedule for {schedule.year} filed under year {year}")
        self._years: Mapping[int, YearSchedule] = MappingProxyType(years)

    @classmethod
    def from_schedules(cls, *schedules: YearSchedule) -> WorkingCalendar:
        return cls({s.year: s for s in schedules})

    @property
    def known_years(self) -> frozenset[int]:
        return frozenset(self._years)

    def schedule(self, year: int) -> YearSchedule:
        """The year's schedule, or :class:`CalendarYearUnknown`."""
        try:
            return self._years[year]
        except KeyError:
            raise CalendarYearUnknown(year) from None

    def is_working_day(self, day: date) -> bool:
        """True on a working day (工作日); :class:`CalendarYearUnknown` for an unknown year."""
        schedule = self.schedule(day.year)
        if day in schedule.working_weekends:
            return True
        return day.weekday() < SATURDAY and day not in schedule.holidays

    def next_working_day(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself not counted; 0 → ``day``)."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        while count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days(self, first: date, last: date) -> Iterator[date]:
        """The working days from ``first`` to ``last``, both included."""
        day = first
        while day <= last:
            if self.is_working_day(day):
                yield day
            day += timedelta(days=1)
