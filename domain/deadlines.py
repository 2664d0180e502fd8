"""Deadline arithmetic (期限计算): pure functions, no clock, no I/O.

Every function takes the instants it needs as arguments; nothing here reads the time.
Instants are time-zone-aware (kept in UTC); they are judged in the rulebook's time zone.

Rules
-----
1. **Start day.** A clock that starts at instant *s* starts on the local date of *s* in the
   rulebook's time zone. By default the start day is not counted (民法典 Art 201:
   开始的当日不计入，自下一日开始计算): a 15-day clock started on 1 March ends on 16 March.
   With ``start_day_counts`` the start day is day 1 and the same clock ends on 15 March.
2. **Day unit.** ``"calendar"`` counts every day (日); ``"working"`` counts working days only
   (工作日), from the official calendar with its 调休 weekend working days. With
   ``start_day_counts``, a start day that is not a working day is not counted either.
3. **A limit of 0** means the same day (当日): the deadline is the start day itself (the
   first working day on or after it, for the working unit).
4. **Extension and pauses** add days in the clock's own unit to the limit before counting:
   the deadline is counted once over ``limit + extension_days + pause_days``. Extension days
   beyond the rulebook's maximum do not count (:func:`allowed_extension_days`); a pause
   counts the whole local days it covered (:func:`pause_days`).
5. **Rolling.** With ``roll_to_working_day`` a period whose last day is not a working day
   (a statutory holiday or a weekend) ends on the next working day (民法典 Art 203).
   A working-unit deadline already lands on a working day.
6. **Deadline end.** The deadline is a local date; the case is overdue from the end of that
   day (24:00 local time, i.e. the start of the next local day).
7. **Overdue time** is the exact duration of an interval [a, b) after the deadline end; it is
   shown in days (duration / 24 h) to one decimal, and as the number of local calendar days
   it touched. Totals add exact durations, never rounded days.
8. **Unknown years.** Any step that needs to know whether a date is a working day in a year
   whose official schedule is not loaded raises
   :class:`~domain.calendar.CalendarYearUnknown` naming that year. A calendar-day clock
   that does not roll never consults the calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from domain.calendar import WorkingCalendar

DayUnit = Literal["calendar", "working"]

ONE_DAY = timedelta(days=1)
_MICROSECONDS_PER_DAY = 86_400 * 1_000_000


class CountingRule(Protocol):
    """How a clock counts its days; a rulebook's ``ClockRule`` satisfies it."""

    @property
    def day_unit(self) -> DayUnit: ...

    @property
    def start_day_counts(self) -> bool: ...

    @property
    def roll_to_working_day(self) -> bool: ...


@dataclass(frozen=True)
class Counting:
    """A plain :class:`CountingRule`, for a clock that is not in a rulebook."""

    day_unit: DayUnit
    start_day_counts: bool = False
    roll_to_working_day: bool = True


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name}: {instant.isoformat()} has no time zone")


def local_date(instant: datetime, tz: tzinfo) -> date:
    """The date of ``instant`` on the local wall calendar of ``tz``."""
    _require_aware(instant, "instant")
    return instant.astimezone(tz).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) at which local date ``day`` begins (00:00 local time)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def deadline_end(deadline_date: date, tz: tzinfo) -> datetime:
    """The instant (UTC) from which a case with this deadline is overdue: 24:00 local time."""
    return day_start(deadline_date + ONE_DAY, tz)


def deadline(
    start: datetime,
    limit: int,
    rule: CountingRule,
    calendar: WorkingCalendar,
    tz: tzinfo,
    *,
    extension_days: int = 0,
    pause_days: int = 0,
) -> date:
    """The last local day of a clock of ``limit`` days started at instant ``start``.

    ``extension_days`` and ``pause_days`` are in the clock's own unit and must already be
    what the rulebook allows (see :func:`allowed_extension_days` and :func:`pause_days`).
    """
    _require_aware(start, "start")
    for name, value in (
        ("limit", limit),
        ("extension_days", extension_days),
        ("pause_days", pause_days),
    ):
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    total = limit + extension_days + pause_days
    first = local_date(start, tz)

    if rule.day_unit == "working":
        if total == 0:
            last = calendar.next_working_day(first)
        elif rule.start_day_counts and calendar.is_working_day(first):
            last = calendar.add_working_days(first, total - 1)
        else:
            last = calendar.add_working_days(first, total)
    else:
        counted = total - 1 if rule.start_day_counts and total > 0 else total
        last = first + timedelta(days=counted)

    if rule.roll_to_working_day:
        last = calendar.next_working_day(last)
    return last


def allowed_extension_days(
    granted: Iterable[int], *, max_extension_days: int, max_extensions: int
) -> int:
    """Days of approved extension (延期) that count; ``granted`` lists the days of each
    approved extension in the order they were approved (refused requests are left out).

    Only the first ``max_extensions`` grants count, and together they count for at most
    ``max_extension_days``; anything granted beyond either maximum does not count.
    """
    grants = list(granted)
    if any(days < 0 for days in grants):
        raise ValueError(f"an extension must not be negative, got {grants}")
    return min(sum(grants[:max_extensions]), max_extension_days)


def pause_days(
    paused_at: datetime,
    resumed_at: datetime,
    unit: DayUnit,
    calendar: WorkingCalendar,
    tz: tzinfo,
) -> int:
    """Whole local days that the pause [paused_at, resumed_at) covered, in ``unit``.

    A day counts only if the pause covered it from 00:00 to 24:00 local time; in the
    working unit only covered working days count. A hearing (听证) from Monday 09:00 to
    Wednesday 17:00 covers one whole day, Tuesday.
    """
    first, last = _whole_days(paused_at, resumed_at, tz)
    if last < first:
        return 0
    if unit == "working":
        return sum(1 for _ in calendar.working_days(first, last))
    return (last - first).days + 1


def _whole_days(a: datetime, b: datetime, tz: tzinfo) -> tuple[date, date]:
    """First and last local dates lying wholly inside [a, b) (last < first when none)."""
    _require_aware(a, "from")
    _require_aware(b, "to")
    if b < a:
        raise ValueError(f"interval ends ({b.isoformat()}) before it starts ({a.isoformat()})")
    first = local_date(a, tz)
    if day_start(first, tz) < a:
        first += ONE_DAY
    last = local_date(b, tz) - ONE_DAY
    return first, last


def overdue_duration(
    deadline_date: date, tz: tzinfo, from_instant: datetime, to_instant: datetime
) -> timedelta:
    """Exact part of [from_instant, to_instant) after the deadline end (zero if none)."""
    start = _overdue_start(deadline_date, tz, from_instant, to_instant)
    return max(to_instant - start, timedelta(0))


def days_touched(
    deadline_date: date, tz: tzinfo, from_instant: datetime, to_instant: datetime
) -> int:
    """Number of local calendar days touched by the overdue part of [from_instant, to_instant).

    The interval is half-open: overdue time ending exactly at 24:00 does not touch the next
    day. Overdue time from 23:00 one day to 01:00 the next is 2 hours touching 2 days.
    """
    start = _overdue_start(deadline_date, tz, from_instant, to_instant)
    if to_instant <= start:
        return 0
    first = local_date(start, tz)
    last = local_date(to_instant, tz)
    if day_start(last, tz) == to_instant:
        last -= ONE_DAY
    return (last - first).days + 1


def _overdue_start(
    deadline_date: date, tz: tzinfo, from_instant: datetime, to_instant: datetime
) -> datetime:
    _require_aware(from_instant, "from_instant")
    _require_aware(to_instant, "to_instant")
    if to_instant < from_instant:
        raise ValueError(
            f"interval ends ({to_instant.isoformat()}) before it starts "
            f"({from_instant.isoformat()})"
        )
    return max(from_instant, deadline_end(deadline_date, tz))


def is_overdue(deadline_date: date, tz: tzinfo, at: datetime) -> bool:
    """True once ``at`` has reached the end of the deadline day (24:00 local time)."""
    _require_aware(at, "at")
    return at >= deadline_end(deadline_date, tz)


def days_left(deadline_date: date, tz: tzinfo, at: datetime) -> int:
    """Local calendar days from the date of ``at`` to the deadline date (0 on the day itself,
    negative once past) — what an early warning (预警) window is compared with."""
    return (deadline_date - local_date(at, tz)).days


def duration_in_days(duration: timedelta, decimals: int = 1) -> Decimal:
    """A duration shown in days (duration / 24 h), rounded half up to ``decimals`` places."""
    microseconds = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
    days = Decimal(microseconds) / Decimal(_MICROSECONDS_PER_DAY)
    return days.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
