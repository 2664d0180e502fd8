"""Judging one case: its facts under a rulebook → clocks, custody chain, patterns, summary.

A pure function of (the case's facts, the rule set, the directory as recorded). It reads no
clock: what is still running is left open (``end is None``) and measured by the reader
against the instant it asks about, so the same judgment serves "now" and any past instant.

How delay is attributed (DOMAIN.md, "Accountability"): the case's life is cut into custody
intervals at every fact. Each interval has the unit holding the case, its handler, the
leader in charge, the stage, and the *governing clock*: of the clocks running against the
holder and accruing overdue time, the one with the earliest deadline in force at that moment.
Time of an interval past that deadline's end is overdue time of the holder, the handler and
(jointly) the leader. Time the rulebook excludes (a pause for a reason it names, the
petitioner's own windows) is marked and counted against nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from domain.calendar import CalendarYearUnknown
from domain.case import Case
from domain.deadlines import allowed_extension_days, deadline_end
from domain.rulebook import ClockRule, RuleSet
from domain.workflow import HELD, Stage
from projections.directory import Directory
from projections.facts import Fact, with_corrections
from projections.periods import period_labels

RECEIVED = "已收件"
"""The stage of the time between receipt and registration (the office holds a letter)."""
PETITIONERS_TIME = "petitioner"
OVERTURNING = frozenset({"撤销", "部分变更"})
PETITIONER_WINDOW_STAGES = frozenset({Stage.REPLIED, Stage.REVIEWED})


@dataclass(slots=True, eq=False)  # runs are told apart by identity
class ClockRun:
    """One running of one clock (时限) on the case."""

    clock: str
    key: int  # the notice number for per-notice clocks (督办), else 0
    held_by: str  # "holder" | "petitioner" | "supervised_unit"
    unit: str | None  # the unit it runs against (None for the petitioner's own time)
    started_at: datetime
    accrues_overdue: bool
    notice_deadline: date | None = None
    extensions: tuple[int, ...] = ()
    extension_days: int = 0  # what counts of the extensions granted (capped by the rulebook)
    pause_days: int = 0
    paused_since: datetime | None = None
    paused_for: str | None = None
    stopped_at: datetime | None = None
    ended_by: str | None = None  # the event type that stopped or cancelled it
    cancelled: bool = False
    deadline: date | None = None
    deadline_end: datetime | None = None
    unknown_year: int | None = None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def late(self) -> bool | None:
        """Stopped after its deadline's end (None while running or not computable)."""
        if self.stopped_at is None or self.deadline_end is None or self.cancelled:
            return None
        return self.stopped_at >= self.deadline_end


@dataclass(slots=True)
class Interval:
    """One stretch of custody (责任链的一段)."""

    seq: int
    holder_unit: str | None
    handler: str | None
    leader: str | None
    stage: str
    start: datetime
    end: datetime | None
    clock: str | None
    deadline: date | None
    deadline_end: datetime | None
    unknown_year: int | None
    excluded: str | None  # why the time counts against nobody, if it does not
    extension_days: int
    pause_days: int


Custody = tuple[Any, ...]
"""What makes two consecutive stretches one: (holder unit, handler, leader, stage, clock,
deadline, excluded, unknown year)."""

_Piece = list[Any]
"""A stretch as first cut, at every fact: [start, end, custody, deadline end, extension days,
pause days]; consecutive pieces of the same custody become one :class:`Interval`."""


@dataclass
class Pattern:
    """A pattern an inspector looks for, found in one case."""

    kind: str
    unit: str | None
    person: str | None
    at: datetime
    detail: dict[str, Any]


@dataclass
class Judgment:
    case_id: str
    summary: dict[str, Any]
    petitioners: list[str]
    intervals: list[Interval]
    runs: list[ClockRun]
    patterns: list[Pattern]
    local_day: Callable[[datetime], date]
    """The rulebook's local date of an instant (the judge's own, which has already converted
    most of the case's instants)."""


@dataclass(frozen=True)
class _Effect:
    """What one kind of fact does to one clock (precomputed per rule set)."""

    name: str
    rule: ClockRule
    stops: bool
    cancels: bool
    starts: bool
    bars: bool
    ends_at: str  # which instant of the fact ends the clock (when it stops or cancels it)


_EFFECTS: dict[tuple[int, str, str | None], tuple[object, list[_Effect]]] = {}


def _effects(rules: RuleSet, event_type: str, level: str | None) -> list[_Effect]:
    """The clocks a fact of this type (and appeal level) stops, cancels, starts or bars."""
    key = (id(rules.rulebook), event_type, level)
    cached = _EFFECTS.get(key)
    if cached is not None and cached[0] is rules.rulebook:
        return cached[1]
    found = []
    for name, rule in rules.rulebook.clocks.items():
        stops = rule.stops(event_type, level)
        ends = [
            m.at
            for m in (rule.stops_on if stops else rule.cancelled_on)
            if m.matches(event_type, level)
        ]
        found.append(
            _Effect(
                name,
                rule,
                stops=stops,
                cancels=rule.cancels(event_type, level),
                starts=rule.starts(event_type, level),
                bars=rule.bars_start(event_type, level),
                ends_at=ends[0] if ends else "occurred_at",
            )
        )
    found = [e for e in found if e.stops or e.cancels or e.starts or e.bars]
    _EFFECTS[key] = (rules.rulebook, found)  # holding the rulebook keeps its id unique
    return found


_DEADLINES: dict[int, tuple[object, dict[Any, Any]]] = {}


def _deadline_cache(rules: RuleSet) -> dict[Any, Any]:
    """Deadlines depend only on the clock, the local start day and what moved them, so a rule
    set computes each combination once (a rebuild meets the same few thousand again and
    again)."""
    cached = _DEADLINES.get(id(rules))
    if cached is None or cached[0] is not rules:
        cached = (rules, {})
        _DEADLINES[id(rules)] = cached
    return cached[1]


class _Clocks:
    """The clocks of one case under the rule set, advanced fact by fact."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.tz = rules.rulebook.tz
        self.deadlines = _deadline_cache(rules)
        self.runs: list[ClockRun] = []
        self.open: list[ClockRun] = []  # the runs still running, in the order they started
        self.local_days: dict[datetime, date] = {}  # a fact often starts several clocks
        self.barred: set[str] = set()

    def running(self) -> list[ClockRun]:
        return list(self.open)

    def local_day(self, instant: datetime) -> date:
        """The rulebook's local date of an instant of this case (each converted once: a fact
        starts several clocks, and the summary's instants are facts' instants)."""
        day = self.local_days.get(instant)
        if day is None:
            day = self.local_days[instant] = instant.astimezone(self.tz).date()
        return day

    def advance(self, fact: Fact, state: SimpleNamespace) -> None:
        data = fact.data
        level = data.get("level")
        notice = data.get("notice_no")
        for effect in _effects(self.rules, fact.type, level):
            name = effect.name
            if effect.stops or effect.cancels:
                for running in [r for r in self.open if r.clock == name]:
                    if notice is not None and running.key and running.key != notice:
                        continue
                    self._end(running, fact, effect.ends_at, stop=effect.stops)
            if effect.starts and name not in self.barred:
                run = self._start(name, effect.rule, fact, state)
                if run is not None and effect.stops:
                    self._end(run, fact, effect.ends_at, stop=True)  # 登记: receipt to record
            if effect.bars:
                self.barred.add(name)
        kind = fact.type
        if kind == "ExtensionDecided" and data["days_granted"] > 0:
            for run in self.running():
                if self.rules.rulebook.clock(run.clock).max_extension_days > 0:
                    run.extensions = (*run.extensions, data["days_granted"])
                    self._compute_deadline(run)
        elif kind == "ClockPaused":
            for run in self.open:
                run.paused_since, run.paused_for = fact.occurred_at, data["reason"]
        elif kind == "ClockResumed":
            for run in self.running():
                if run.paused_since is not None and run.paused_for is not None:
                    try:
                        run.pause_days += self.rules.pause_days(
                            run.clock, run.paused_for, run.paused_since, fact.occurred_at
                        )
                    except CalendarYearUnknown as e:
                        run.unknown_year = e.year
                    run.paused_since = run.paused_for = None
                    self._compute_deadline(run)

    def _start(
        self, name: str, rule: ClockRule, fact: Fact, state: SimpleNamespace
    ) -> ClockRun | None:
        data = fact.data
        key = data.get("notice_no") or 0
        for run in self.open:  # at most one runs per clock and notice
            if run.clock == name and run.key == key:
                if not rule.restart_on_transfer:
                    return None  # already running: the deadline binds the case
                run.stopped_at, run.ended_by, run.cancelled = fact.occurred_at, fact.type, True
                self.open.remove(run)
                break
        held_by = rule.held_by
        if held_by == "supervised_unit":
            unit = data["supervised_unit"]
        elif held_by == "petitioner":
            unit = None
        elif fact.type == "Routed" or fact.type == "AppealFiled":
            unit = data["to_unit"]
        else:
            unit = state.holder_unit if hasattr(state, "holder_unit") else fact.actor_unit
        run = ClockRun(
            clock=name,
            key=key,
            held_by=held_by,
            unit=unit,
            started_at=_at(fact, rule.starts_on.at),
            accrues_overdue=rule.accrues_overdue,
            notice_deadline=data.get("deadline") if rule.fixed_limit is None else None,
        )
        self._compute_deadline(run)
        self.runs.append(run)
        self.open.append(run)
        return run

    def _end(self, run: ClockRun, fact: Fact, at: str, *, stop: bool) -> None:
        run.stopped_at = max(_at(fact, at), run.started_at)
        run.ended_by = fact.type
        run.cancelled = not stop
        self.open.remove(run)

    def _compute_deadline(self, run: ClockRun) -> None:
        tz = self.tz
        key = (
            run.clock,
            self.local_day(run.started_at),
            run.notice_deadline,
            run.extensions,
            run.pause_days,
        )
        found = self.deadlines.get(key)
        if found is None:
            rule = self.rules.rulebook.clock(run.clock)
            extension = allowed_extension_days(
                run.extensions,
                max_extension_days=rule.max_extension_days,
                max_extensions=rule.max_extensions,
            )
            try:
                day = self.rules.deadline(
                    run.clock,
                    run.started_at,
                    notice_deadline=run.notice_deadline,
                    extensions_granted=run.extensions,
                    pause_days=run.pause_days,
                )
                found = (day, deadline_end(day, tz), None, extension)
            except CalendarYearUnknown as e:
                found = (None, None, e.year, extension)
            self.deadlines[key] = found
        run.deadline, run.deadline_end, run.unknown_year, run.extension_days = found

    def governing(self, holder: str | None) -> ClockRun | None:
        """The clock the holder answers to now: the earliest deadline among its duties (the
        first started on a tie; the first started if no deadline is known)."""
        if holder is None:
            return None
        first: ClockRun | None = None
        earliest: ClockRun | None = None
        earliest_end: datetime | None = None
        for run in self.open:
            if run.accrues_overdue and run.held_by == "holder":
                if first is None:
                    first = run
                end = run.deadline_end
                if end is not None and (earliest_end is None or end < earliest_end):
                    earliest, earliest_end = run, end
        return earliest or first


def _at(fact: Fact, which: str) -> datetime:
    if which == "occurred_at":
        return fact.occurred_at
    if which == "recorded_at":
        return fact.recorded_at
    value = fact.data[which]
    assert isinstance(value, datetime)
    return value


_FOLDS: dict[str, Callable[[SimpleNamespace, SimpleNamespace], None] | None] = {}


def _fold(state: SimpleNamespace, fact: Fact) -> None:
    """Evolve the case state with the aggregate's own rules (one source of truth)."""
    try:
        evolve = _FOLDS[fact.type]
    except KeyError:
        event_class = getattr(Case, fact.type)
        if fact.type == "Registered":
            evolve = event_class.apply
        elif fact.type == "Corrected":  # corrections are already applied to the facts
            evolve = None
        else:
            evolve = event_class.evolve
        _FOLDS[fact.type] = evolve
    if evolve is not None:
        evolve(_as_event(fact), state)


def _as_event(fact: Fact) -> SimpleNamespace:
    """The fact as the aggregate's event reads it: its data as plain attributes (a Fact finds
    them in ``__getattr__`` only after the slot lookup has raised AttributeError — a
    registration's fold reads fifteen of them)."""
    event = SimpleNamespace(**fact.data)
    event.occurred_at = fact.occurred_at
    event.originator_version = fact.version
    event.command_id = fact.command_id
    return event


_VERSION = attrgetter("version")


def judge_case(facts: Sequence[Fact], rules: RuleSet, directory: Directory) -> Judgment:
    """Judge a case from all its facts (in version order) under ``rules``."""
    facts = with_corrections(sorted(facts, key=_VERSION))
    registered = facts[0]
    if registered.type != "Registered":
        raise ValueError(f"case {registered.aggregate_id} does not start with its registration")
    book = rules.rulebook
    state = SimpleNamespace()
    clocks = _Clocks(rules)
    pieces: list[_Piece] = []
    patterns: list[Pattern] = []
    summary: dict[str, Any] = _summary_start(registered, rules, clocks)
    route_trail: list[str] = [registered.data["registering_office"]]
    last_decider: str | None = None
    t_prev = registered.data["received_at"]

    def open_interval(at: datetime) -> None:
        stage_now = state.stage
        if stage_now not in HELD and stage_now not in PETITIONER_WINDOW_STAGES:
            return  # ended: nobody holds the case
        petitioners_time = stage_now in PETITIONER_WINDOW_STAGES
        holder = None if petitioners_time else state.holder_unit
        run = clocks.governing(holder)
        excluded = PETITIONERS_TIME if petitioners_time else None
        paused_for = run.paused_for if run is not None else None
        if run is not None and paused_for and book.clock(run.clock).excludes_pause(paused_for):
            excluded = f"paused:{paused_for}"
        handler = None if petitioners_time else state.handler
        custody: Custody
        if run is None:
            custody = (holder, handler, state.leader, str(stage_now), None, None, excluded, None)
            pieces.append([at, None, custody, None, 0, 0])
        else:
            custody = (
                holder,
                handler,
                state.leader,
                str(stage_now),
                run.clock,
                run.deadline,
                excluded,
                run.unknown_year,
            )
            pieces.append([at, None, custody, run.deadline_end, run.extension_days, run.pause_days])

    for fact in facts:
        t = max(fact.occurred_at, t_prev)
        if pieces and pieces[-1][1] is None:
            pieces[-1][1] = t
        clocks.advance(fact, state)
        _fold(state, fact)
        if fact.type == "Registered":
            _received(pieces, clocks, fact, t)
        _observe(fact, t, state, summary, patterns, route_trail, rules)
        if fact.type == "Replied":
            last_decider = fact.actor_unit
        elif fact.type == "AppealDecided":
            if fact.data["decision"] in OVERTURNING:
                patterns.append(
                    Pattern(
                        "overturned",
                        last_decider,
                        None,
                        t,
                        {
                            "level": fact.data["level"],
                            "decision": fact.data["decision"],
                            "decided_by": fact.actor_unit,
                        },
                    )
                )
            last_decider = fact.actor_unit
        open_interval(t)
        t_prev = t

    merged = _merged(pieces)

    for run in clocks.runs:
        if not run.accrues_overdue and run.held_by == "holder" and run.late:
            patterns.append(
                Pattern(
                    f"late_{run.clock}",
                    run.unit,
                    None,
                    run.stopped_at or run.started_at,
                    {
                        "deadline": run.deadline.isoformat() if run.deadline else None,
                    },
                )
            )
    _finish_summary(summary, state, clocks, merged, directory, rules, route_trail)
    return Judgment(
        case_id=registered.aggregate_id,
        summary=summary,
        petitioners=[p["petitioner_id"] for p in registered.data["petitioners"]],
        intervals=merged,
        runs=clocks.runs,
        patterns=patterns,
        local_day=clocks.local_day,
    )


def _merged(pieces: list[_Piece]) -> list[Interval]:
    """The custody chain: consecutive pieces of the same custody joined, instants dropped."""
    merged: list[Interval] = []
    last: Custody | None = None
    for start, end, custody, ends_at, extension_days, pause_days in pieces:
        if end is not None and end <= start and merged:
            continue  # an instant, not a stretch of custody
        if merged and custody == last:
            merged[-1].end = end
            continue
        holder, handler, leader, stage, clock, deadline, excluded, unknown_year = custody
        merged.append(
            Interval(
                len(merged),
                holder,
                handler,
                leader,
                stage,
                start,
                end,
                clock,
                deadline,
                ends_at,
                unknown_year,
                excluded,
                extension_days,
                pause_days,
            )
        )
        last = custody
    return merged


def _received(pieces: list[_Piece], clocks: _Clocks, registered: Fact, t: datetime) -> None:
    """The stretch from receipt to registration: the office held a letter not yet on record,
    under whatever clock started at receipt (登记: the same day, by default)."""
    received_at = registered.data["received_at"]
    runs = [
        r
        for r in clocks.runs
        if r.started_at == received_at and r.accrues_overdue and r.held_by == "holder"
    ]
    run = min(runs, key=lambda r: r.deadline_end or received_at) if runs else None
    custody = (
        registered.data["registering_office"],
        None,
        None,
        RECEIVED,
        run.clock if run else None,
        run.deadline if run else None,
        None,
        run.unknown_year if run else None,
    )
    pieces.append([received_at, t, custody, run.deadline_end if run else None, 0, 0])


def _summary_start(registered: Fact, rules: RuleSet, clocks: _Clocks) -> dict[str, Any]:
    d = registered.data
    definitions = rules.rulebook.definitions
    received_day = clocks.local_day(d["received_at"])
    return {
        "case_number": d["case_number"],
        "registering_office": d["registering_office"],
        "matter_kind": d["matter_kind"],
        "channel": d["channel"],
        "category": d["category"],
        "petitioner_kind": d["petitioner_kind"],
        "headcount": d["headcount"],
        "concerned_unit": d["concerned_unit"],
        "received_at": d["received_at"],
        "registered_at": registered.occurred_at,
        "registered_recorded_at": registered.recorded_at,
        "registered_position": registered.position,
        "received_period": period_labels(definitions.period)[received_day],
        "collective": d["headcount"] >= definitions.collective_visit_min_headcount,
        "confidential": d["matter_kind"] == "检举控告",
        "transfers": 0,
        "reopened": 0,
        "appeals": 0,
        "accepted_at": None,
        "accepted_by": None,
        "replied_at": None,
        "replied_by": None,
        "reply_outcome": None,
        "rating": None,
        "rated_at": None,
        "closed_at": None,
        "last_appeal_decision": None,
    }


def _observe(
    fact: Fact,
    t: datetime,
    state: SimpleNamespace,
    summary: dict[str, Any],
    patterns: list[Pattern],
    route_trail: list[str],
    rules: RuleSet,
) -> None:
    """Facts the summary and the patterns remember."""
    definitions = rules.rulebook.definitions
    lag = (fact.recorded_at - fact.occurred_at).total_seconds() / 3600
    if lag > definitions.backdating_threshold_hours:
        patterns.append(
            Pattern(
                "backdating",
                fact.actor_unit,
                fact.actor,
                fact.recorded_at,
                {
                    "event": fact.type,
                    "version": fact.version,
                    "hours": round(lag, 1),
                },
            )
        )
    if fact.type == "Registered":
        delay = (fact.occurred_at - fact.data["received_at"]).total_seconds() / 3600
        if delay > definitions.registration_delay_threshold_hours:
            patterns.append(
                Pattern(
                    "late_registration",
                    fact.actor_unit,
                    fact.actor,
                    fact.occurred_at,
                    {
                        "hours": round(delay, 1),
                    },
                )
            )
    elif fact.type == "Routed":
        summary["transfers"] += 1
        to_unit = fact.data["to_unit"]
        ping_pong = definitions.ping_pong
        if ping_pong.return_counts and to_unit in route_trail and route_trail[-1] != to_unit:
            patterns.append(
                Pattern(
                    "ping_pong",
                    fact.actor_unit,
                    fact.actor,
                    t,
                    {
                        "returned_to": to_unit,
                        "trail": [*route_trail, to_unit],
                    },
                )
            )
        route_trail.append(to_unit)
        if summary["transfers"] == ping_pong.max_transfer_hops + 1:
            patterns.append(
                Pattern(
                    "excess_transfers",
                    fact.actor_unit,
                    fact.actor,
                    t,
                    {
                        "transfers": summary["transfers"],
                        "allowed": ping_pong.max_transfer_hops,
                    },
                )
            )
    elif fact.type == "ObjectionDecided" and fact.data["agreed"]:
        route_trail.append(state.holder_unit)
    elif fact.type == "Accepted":
        summary["accepted_at"] = summary["accepted_at"] or t
        summary["accepted_by"] = summary["accepted_by"] or fact.actor_unit
    elif fact.type == "Replied":
        summary.update(
            replied_at=t,
            replied_by=fact.actor_unit,
            reply_outcome=fact.data["outcome"],
            rating=None,
            rated_at=None,
        )
    elif fact.type == "Rated":
        summary.update(rating=fact.data["rating"], rated_at=t)
    elif fact.type == "AppealFiled":
        summary["appeals"] += 1
    elif fact.type == "AppealDecided":
        summary["last_appeal_decision"] = fact.data["decision"]
    elif fact.type in ("Closed", "MergedInto", "Withdrawn"):
        summary["closed_at"] = t
    elif fact.type == "Reopened":
        summary["reopened"] += 1
        summary["closed_at"] = None


def _finish_summary(
    summary: dict[str, Any],
    state: SimpleNamespace,
    clocks: _Clocks,
    intervals: list[Interval],
    directory: Directory,
    rules: RuleSet,
    route_trail: list[str],
) -> None:
    book = rules.rulebook
    definitions = book.definitions
    current = intervals[-1] if intervals and intervals[-1].end is None else None
    summary.update(
        stage=str(state.stage),
        holder_unit=current.holder_unit if current else None,
        handler=current.handler if current else None,
        leader=state.leader,
        clock=current.clock if current else None,
        deadline=current.deadline if current else None,
        deadline_end=current.deadline_end if current else None,
        unknown_year=current.unknown_year if current else None,
        excluded=current.excluded if current else None,
        merged_into=state.merged_into,
    )
    competent = summary["accepted_by"] or (route_trail[1] if len(route_trail) > 1 else None)
    summary["competent_unit"] = competent
    summary["skip_level"] = bool(
        competent
        and directory.levels_above(
            summary["registering_office"], competent, summary["registered_position"]
        )
        > definitions.skip_level.allowed_levels_above_competent
    )
    labels = period_labels(definitions.period)
    for key, name in (
        ("accepted_period", "accepted_at"),
        ("replied_period", "replied_at"),
        ("closed_period", "closed_at"),
        ("registered_period", "registered_at"),
    ):
        at = summary[name]
        summary[key] = labels[clocks.local_day(at)] if at else None
    fcs = definitions.first_contact_settlement
    run = None
    for candidate in clocks.runs:
        if candidate.clock == fcs.clock and not candidate.cancelled:
            run = candidate
            break
    summary["first_contact_settled"] = bool(
        run is not None
        and run.late is False
        and summary["transfers"] <= fcs.max_transfers + 1  # the first routing is no transfer
        and (not fcs.without_appeal or summary["appeals"] == 0)
    )
