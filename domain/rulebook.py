"""The rulebook (规则集): a named, versioned set of rules under which judgments are computed.

Events record facts; whether a case was late, a visit collective or a petition a repeat is a
judgment made by a projection under a rulebook. Every number and every definition that such
a judgment needs is data here, so that a change of rules is a new rulebook file and the same
facts can be judged under either.

A rulebook has two parts:

- ``clocks``: one :class:`ClockRule` per 时限 (registration, routing, handling, …), keyed by
  clock name — which event starts the clock, which stop it, its limit and how its days are
  counted, which pauses are not counted, how far it can be extended, and who holds it.
- ``definitions``: the thresholds and definitions of the assessment (考核) figures.

The models are frozen and reject unknown fields; :mod:`projections.rulebook_loader` turns
their validation errors into a :class:`RulebookError` naming the file and field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from domain import deadlines
from domain.calendar import WorkingCalendar
from domain.deadlines import DayUnit
from domain.errors import DomainError
from domain.values import AppealLevel, PauseReason, Rating

EventType = Literal[
    "Registered",
    "Routed",
    "JurisdictionObjected",
    "ObjectionDecided",
    "Accepted",
    "Refused",
    "HandlerAssigned",
    "LeadAssigned",
    "LeadReleased",
    "ExtensionRequested",
    "ExtensionDecided",
    "ClockPaused",
    "ClockResumed",
    "SupervisionIssued",
    "SupervisionAnswered",
    "Replied",
    "Rated",
    "AppealFiled",
    "AppealDecided",
    "Closed",
    "Reopened",
    "MergedInto",
    "Withdrawn",
    "Corrected",
]
"""The case event class names a rule may refer to."""

EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))

EventInstant = Literal["occurred_at", "recorded_at", "received_at", "delivered_at"]
"""Which instant of an event starts or stops a clock: when it happened (default), when it was
written down, when the matter was received (收到), or when a reply/decision reached the
petitioner (送达)."""

Holder = Literal["holder", "petitioner", "supervised_unit"]
"""Whom a clock's overdue time is attributed to: whoever holds the case (承办), nobody (the
petitioner's own time to ask for 复查/复核), or the unit a 督办 notice was sent to."""

Metric = Literal[
    "on_time_acceptance_rate",  # 及时受理率
    "on_time_completion_rate",  # 按期办结率
    "participation_rate",  # 参评率
    "satisfaction_rate",  # 满意率
    "repeat_petition_rate",  # 重复信访率
    "skip_level_rate",  # 越级上访率
    "collective_visit_rate",  # 集体上访率
    "first_contact_settlement_rate",  # 初信初访办结率
]

FROM_NOTICE: Literal["from_notice"] = "from_notice"
"""``limit_days`` of a clock whose limit is the deadline set by the notice itself (督办)."""

_APPEAL_EVENTS = frozenset({"AppealFiled", "AppealDecided"})
_EVENTS_WITH_INSTANT: dict[str, frozenset[str]] = {
    "received_at": frozenset({"Registered"}),
    "delivered_at": frozenset({"Replied", "AppealDecided"}),
}
"""Events that carry an instant besides occurred_at and recorded_at (which all events carry)."""

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Days = Annotated[int, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
Hours = Annotated[float, Field(gt=0)]


class RulebookError(DomainError, ValueError):
    """A rulebook or calendar file is missing, malformed or contradicts itself."""

    code = "rulebook-invalid"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventMatch(_Rule):
    """An event that starts or stops a clock; written as ``"Accepted"`` or as a table
    ``{ event = "AppealFiled", level = "复查" }``."""

    event: EventType
    level: AppealLevel | None = None
    at: EventInstant = "occurred_at"

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"event": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _event_has_it(self) -> EventMatch:
        if self.level is not None and self.event not in _APPEAL_EVENTS:
            raise ValueError(
                f"level applies only to AppealFiled and AppealDecided, not {self.event}"
            )
        carriers = _EVENTS_WITH_INSTANT.get(self.at)
        if carriers is not None and self.event not in carriers:
            raise ValueError(
                f"{self.event} has no {self.at}; only {', '.join(sorted(carriers))} do"
            )
        return self

    def matches(self, event_type: str, level: str | None = None) -> bool:
        """True for an event of this type (and, if this match names one, this appeal level)."""
        return event_type == self.event and (self.level is None or level == self.level)


class ClockRule(_Rule):
    """One 时限: when it starts and stops, its limit, and how its days are counted.

    - ``stops_on``: events that meet the clock (on time if by the deadline's end);
      ``cancelled_on``: events that end it without meeting it (withdrawn, merged).
    - ``accrues_overdue``: whether time past the deadline while the clock runs is overdue
      time of whoever ``held_by`` names (a duty, e.g. handling), or only the stopping event
      is judged late (a window, e.g. the 5-working-day jurisdiction objection).
    - ``restart_on_transfer``: whether a transfer (a further ``Routed``) starts the clock
      again for the receiving unit.
    - ``not_started_after``: once one of these has happened on the case, the clock no longer
      starts (a transfer after 受理 starts no new acknowledgement clock: the case is accepted).
    - ``excluded_pause_reasons``: pauses (中止) whose whole days are not counted.
    - ``max_extensions`` / ``max_extension_days``: how many extensions (延期) count and
      for how many days in all.
    """

    title: str = Field(min_length=1)
    article: str | None = None
    starts_on: EventMatch
    stops_on: tuple[EventMatch, ...] = Field(min_length=1)
    cancelled_on: tuple[EventMatch, ...] = ()
    not_started_after: tuple[EventMatch, ...] = ()
    limit_days: int | Literal["from_notice"]
    day_unit: DayUnit
    start_day_counts: Annotated[bool, Strict()]
    roll_to_working_day: Annotated[bool, Strict()]
    excluded_pause_reasons: frozenset[PauseReason] = frozenset()
    max_extension_days: Days = 0
    max_extensions: Days = 0
    held_by: Holder
    accrues_overdue: Annotated[bool, Strict()]
    restart_on_transfer: Annotated[bool, Strict()]

    @field_validator("limit_days", mode="plain")
    @classmethod
    def _limit(cls, value: Any) -> int | Literal["from_notice"]:
        if value == FROM_NOTICE:
            return "from_notice"
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise ValueError(f'must be a whole number of days (0 or more) or "{FROM_NOTICE}"')

    @model_validator(mode="after")
    def _consistent(self) -> ClockRule:
        if (self.max_extensions == 0) != (self.max_extension_days == 0):
            raise ValueError(
                "max_extensions and max_extension_days must both be 0 (no extension) "
                f"or both above 0, got {self.max_extensions} and {self.max_extension_days}"
            )
        for stop in (*self.stops_on, *self.cancelled_on):
            if stop == self.starts_on:
                raise ValueError(f"the clock both starts and stops on {stop.event}")
        if self.held_by == "petitioner" and self.accrues_overdue:
            raise ValueError(
                "accrues_overdue must be false when held_by is petitioner: "
                "the petitioner's own time is attributed to nobody"
            )
        if self.limit_days == FROM_NOTICE and self.starts_on.event != "SupervisionIssued":
            raise ValueError(f'limit_days = "{FROM_NOTICE}" needs starts_on = "SupervisionIssued"')
        return self

    @property
    def fixed_limit(self) -> int | None:
        """The limit in days, or ``None`` when the notice sets it."""
        return None if self.limit_days == FROM_NOTICE else int(self.limit_days)

    def starts(self, event_type: str, level: str | None = None) -> bool:
        return self.starts_on.matches(event_type, level)

    def stops(self, event_type: str, level: str | None = None) -> bool:
        return any(m.matches(event_type, level) for m in self.stops_on)

    def cancels(self, event_type: str, level: str | None = None) -> bool:
        return any(m.matches(event_type, level) for m in self.cancelled_on)

    def bars_start(self, event_type: str, level: str | None = None) -> bool:
        """True if, once this event has happened, the clock never starts again."""
        return any(m.matches(event_type, level) for m in self.not_started_after)

    def excludes_pause(self, reason: str) -> bool:
        """True if a pause for ``reason`` (听证, 鉴定, …) is not counted against this clock."""
        return reason in self.excluded_pause_reasons


class SkipLevel(_Rule):
    """越级: registered more than ``allowed_levels_above_competent`` levels above the unit
    competent for the matter (1 = its parent level is still in order)."""

    allowed_levels_above_competent: PositiveInt


class PingPong(_Rule):
    """推诿: a case sent back to a unit that already had it (A→B→A), or transferred more
    times than ``max_transfer_hops``."""

    return_counts: Annotated[bool, Strict()]
    max_transfer_hops: PositiveInt


class FirstContactSettlement(_Rule):
    """初信初访办结: a first-time matter (not a repeat) settled on ``clock`` by the first unit
    it was routed to (at most ``max_transfers`` transfers), on time, and — with
    ``without_appeal`` — with no 复查 requested."""

    clock: Name
    max_transfers: Days
    without_appeal: Annotated[bool, Strict()]


class OnTime(_Rule):
    """An on-time rate: cases whose ``clock`` stopped by its deadline, counted in the period
    of their deadline, of their start, or of their stop."""

    clock: Name
    counted_by: Literal["deadline", "started", "stopped"]


class StatisticalPeriod(_Rule):
    """统计周期: calendar months (``start_day = 1``) or e.g. the 21st-to-20th month
    (``start_day = 21``: the period named 2025-03 runs 2025-02-21 … 2025-03-20)."""

    kind: Literal["month", "quarter", "year"]
    start_day: Annotated[int, Strict(), Field(ge=1, le=28)] = 1

    def containing(self, day: date) -> PeriodBounds:
        """The period ``day`` falls in, named by its (last) month, quarter or year."""
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        index = day.year * 12 + day.month - 1  # months since year 0, zero-based
        if self.start_day > 1 and day.day >= self.start_day:
            index += 1  # belongs to the period named by the next month
        last_index = index - index % months + months - 1
        first_index = last_index - months + 1
        if self.start_day == 1:
            first = _month_day(first_index, 1)
            last = _month_day(last_index + 1, 1) - deadlines.ONE_DAY
        else:
            first = _month_day(first_index - 1, self.start_day)
            last = _month_day(last_index, self.start_day - 1)
        year, month = divmod(last_index, 12)
        label = {
            "month": f"{year}-{month + 1:02d}",
            "quarter": f"{year}-Q{month // 3 + 1}",
            "year": f"{year}",
        }[self.kind]
        return PeriodBounds(label=label, first=first, last=last)


def _month_day(month_index: int, day: int) -> date:
    year, month = divmod(month_index, 12)
    return date(year, month + 1, day)


@dataclass(frozen=True)
class PeriodBounds:
    label: str
    first: date
    last: date


class RankedMetric(_Rule):
    metric: Metric
    weight: PositiveInt
    better: Literal["higher", "lower"]


class Ranking(_Rule):
    """排名: a weighted score of the metrics (weights are points summing to 100); ties are
    broken by the metrics in the order listed; the ``bottom_n`` units go under special
    management (重点管理)."""

    metrics: tuple[RankedMetric, ...] = Field(min_length=1)
    bottom_n: Days

    @model_validator(mode="after")
    def _weights(self) -> Ranking:
        names = [m.metric for m in self.metrics]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"metric listed more than once: {', '.join(duplicated)}")
        total = sum(m.weight for m in self.metrics)
        if total != 100:
            raise ValueError(f"metric weights must add up to 100, they add up to {total}")
        return self


class OverdueDisplay(_Rule):
    """Overdue time shown in days (duration / 24 h) to ``decimals`` places."""

    decimals: Annotated[int, Strict(), Field(ge=0, le=3)]


class Definitions(_Rule):
    """Thresholds and definitions of the assessment (考核) figures."""

    collective_visit_min_headcount: Annotated[int, Strict(), Field(ge=2)]
    repeat_petition_window_days: PositiveInt
    backdating_threshold_hours: Hours
    registration_delay_threshold_hours: Hours
    early_warning_window_days: Days
    rated: frozenset[Rating] = Field(min_length=1)
    satisfied: frozenset[Rating] = Field(min_length=1)
    skip_level: SkipLevel
    ping_pong: PingPong
    first_contact_settlement: FirstContactSettlement
    on_time_acceptance: OnTime
    on_time_completion: OnTime
    # The petition offices' rates (及时登记率, 及时转送率): counted in the period a run started,
    # as the regulation counts registrations and routings; a rulebook may say otherwise.
    on_time_registration: OnTime = OnTime(clock="registration", counted_by="started")
    on_time_routing: OnTime = OnTime(clock="routing", counted_by="started")
    period: StatisticalPeriod
    ranking: Ranking
    overdue_display: OverdueDisplay

    @model_validator(mode="after")
    def _satisfied_is_rated(self) -> Definitions:
        stray = sorted(self.satisfied - self.rated)
        if stray:
            raise ValueError(f"satisfied: {', '.join(stray)} is not among the rated values")
        return self


class Rulebook(_Rule):
    """A named, versioned rulebook."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    effective_from: date | None = None
    timezone: str = "Asia/Shanghai"
    calendar: str = Field(min_length=1)  # the calendar data file, relative to this file
    clocks: dict[Name, ClockRule] = Field(min_length=1)
    definitions: Definitions

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _clock_references(self) -> Rulebook:
        for field in (
            "first_contact_settlement",
            "on_time_acceptance",
            "on_time_completion",
            "on_time_registration",
            "on_time_routing",
        ):
            clock = getattr(self.definitions, field).clock
            if clock not in self.clocks:
                raise ValueError(
                    f"definitions.{field}.clock: {clock!r} is not a clock of this rulebook "
                    f"(clocks: {', '.join(sorted(self.clocks))})"
                )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def clock(self, name: str) -> ClockRule:
        try:
            return self.clocks[name]
        except KeyError:
            raise RulebookError(f"rulebook {self.name} has no clock {name!r}") from None

    def clocks_started_by(self, event_type: str, level: str | None = None) -> list[str]:
        """Names of the clocks that ``event_type`` (at this appeal level) starts."""
        return [n for n, c in self.clocks.items() if c.starts(event_type, level)]


@dataclass(frozen=True)
class RuleSet:
    """A rulebook with the working-day calendar it counts with: what a projector needs to
    turn facts into deadlines."""

    rulebook: Rulebook
    calendar: WorkingCalendar

    def deadline(
        self,
        clock: str,
        start: datetime,
        *,
        notice_limit_days: int | None = None,
        notice_deadline: date | None = None,
        extensions_granted: Iterable[int] = (),
        pause_days: int = 0,
    ) -> date:
        """The deadline of ``clock`` started at ``start``, moved by the extensions granted
        (capped by the rulebook) and by ``pause_days`` already counted with
        :meth:`pause_days`.

        A clock whose limit comes from the notice (督办) takes either the number of days the
        notice set (``notice_limit_days``, counted like any other limit) or the date it set
        (``notice_deadline``, moved to a working day only if the clock rolls).
        """
        rule = self.rulebook.clock(clock)
        limit = rule.fixed_limit
        if limit is None:
            if notice_deadline is not None:
                if rule.roll_to_working_day:
                    return self.calendar.next_working_day(notice_deadline)
                return notice_deadline
            if notice_limit_days is None:
                raise ValueError(f"clock {clock} takes its limit from the notice; none given")
            limit = notice_limit_days
        extension = deadlines.allowed_extension_days(
            extensions_granted,
            max_extension_days=rule.max_extension_days,
            max_extensions=rule.max_extensions,
        )
        return deadlines.deadline(
            start,
            limit,
            rule,
            self.calendar,
            self.rulebook.tz,
            extension_days=extension,
            pause_days=pause_days,
        )

    def pause_days(self, clock: str, reason: str, paused_at: datetime, resumed_at: datetime) -> int:
        """Days a pause for ``reason`` moves ``clock``'s deadline (0 if the reason counts)."""
        rule = self.rulebook.clock(clock)
        if not rule.excludes_pause(reason):
            return 0
        return deadlines.pause_days(
            paused_at, resumed_at, rule.day_unit, self.calendar, self.rulebook.tz
        )
