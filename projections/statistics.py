"""Assessment figures (考核) per unit and statistical period, and the ranking.

Every definition comes from the rulebook: which clock an on-time rate measures and in which
period a run is counted, what counts as rated and as satisfied, the collective threshold
(already applied when the case was judged), the repeat window, the ranking's weights. The
petition offices (信访部门, judged on registering and routing) and the handling units (judged on
acceptance, completion and the petitioners' ratings) are reported apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from domain.rulebook import OnTime
from domain.values import UnitKind
from projections import schema
from projections.queries import Views, pairs


@lru_cache(maxsize=65_536)
def _rate(numerator: int, denominator: int) -> Decimal | None:
    """A fraction as a rate to four places (the same few fractions recur across units and
    metrics: a ranking of a thousand units asks for most of them many times)."""
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


@dataclass(slots=True)
class Ratio:
    numerator: int = 0
    denominator: int = 0
    cases: list[str] = field(default_factory=list)  # the case numbers behind the numerator

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.numerator, self.denominator)

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "rate": self.rate}


def _on_time(
    conn: sa.Connection,
    views: Views,
    rule: OnTime,
    period: str,
    n: float,
    *,
    with_cases: bool,
) -> dict[str, Ratio]:
    """Runs of ``rule.clock`` counted in ``period``: on time if stopped before the deadline's
    end. A run still going past its deadline counts as late; one whose deadline is not yet
    computable, or that was cancelled (withdrawn, merged, restarted by a transfer), not at
    all. ``with_cases``: the case ids behind each numerator (the rows counted here); else the
    database adds up, grouping by an expression of the unit, not the column: by the column
    SQLite walks the unit index over every run of the view set instead of reading the
    period's from the index that covers them."""
    r = schema.clock_runs
    period_column = {
        "deadline": r.c.deadline_period,
        "started": r.c.started_period,
        "stopped": r.c.stopped_period,
    }[rule.counted_by]
    stopped = sa.and_(r.c.stopped_s.is_not(None), r.c.stopped_s <= n)
    on_time = sa.case((sa.and_(stopped, r.c.stopped_s < r.c.deadline_end_s), 1), else_=0)
    counted = (
        r.c.view_set == views.view_set,
        r.c.clock == rule.clock,
        r.c.cancelled.is_(False),
        r.c.deadline_end_s.is_not(None),
        period_column == period,
        r.c.started_s <= n,
        # decided: stopped by now, or still running past its deadline (late)
        sa.or_(stopped, r.c.deadline_end_s <= n),
    )
    if not with_cases:
        unit = sa.func.coalesce(r.c.unit, "")
        grouped = sa.select(unit, sa.func.count(), sa.func.sum(on_time)).where(*counted)
        # ('' back to None: a run without a unit, keyed as the count case by case keys it)
        return {
            key or None: Ratio(int(hits), int(runs))  # type: ignore[misc]
            for key, runs, hits in conn.execute(grouped.group_by(unit))
        }
    result = conn.execute(sa.select(r.c.unit, on_time, r.c.case_id).where(*counted))
    found: dict[str, Ratio] = {}
    for unit, hit, case_id in result.cursor.fetchall():  # type: ignore[union-attr]
        ratio = found.get(unit)
        if ratio is None:
            ratio = found[unit] = Ratio()
        ratio.denominator += 1
        ratio.numerator += hit
        if hit and with_cases:
            ratio.cases.append(case_id)
    return found


def _unit_kinds(conn: sa.Connection, views: Views) -> dict[Any, Any]:
    u = schema.units
    query = sa.select(u.c.unit_id, u.c.kind).where(u.c.view_set == views.view_set)
    return pairs(conn.execute(query).all())


def _on_time_rates(
    conn: sa.Connection, views: Views, period: str, n: float, *, with_cases: bool
) -> tuple[dict[str, Ratio], ...]:
    """Acceptance, completion, registration and routing, as the rulebook defines them."""
    definitions = views.rules.rulebook.definitions
    return tuple(
        _on_time(conn, views, rule, period, n, with_cases=with_cases)
        for rule in (
            definitions.on_time_acceptance,
            definitions.on_time_completion,
            definitions.on_time_registration,
            definitions.on_time_routing,
        )
    )


_c = schema.cases
_COUNTED = (
    _c.c.case_id,
    _c.c.case_number,
    _c.c.registering_office,
    _c.c.registered_period,
    _c.c.accepted_period,
    _c.c.accepted_by,
    _c.c.replied_period,
    _c.c.replied_by,
    _c.c.replied_s,
    _c.c.skip_level,
    _c.c.collective,
    _c.c.first_contact_settled,
    _c.c.rating,
    _c.c.appeals,
)
"""What a case brings to a period's figures (not the whole row)."""


@dataclass
class Statistics:
    period: str
    rulebook: str
    offices: dict[str, dict[str, Ratio]]
    handling: dict[str, dict[str, Ratio]]
    ranking: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        def rows(table: dict[str, dict[str, Ratio]]) -> list[dict[str, Any]]:
            return [
                {"unit": unit, "metrics": {m: r.as_dict() for m, r in sorted(metrics.items())}}
                for unit, metrics in sorted(table.items())
            ]

        return {
            "period": self.period,
            "rulebook": self.rulebook,
            "petition_offices": rows(self.offices),
            "handling_units": rows(self.handling),
            "ranking": self.ranking,
        }


def unit_statistics(
    views: Views, period: str, now: datetime, *, with_cases: bool = True
) -> Statistics:
    """Every rate of DOMAIN.md for ``period`` (a label such as ``2025-03``), per unit, with
    the case numbers behind every numerator; ``with_cases=False``: the same figures without
    the case lists, added up in the database (what a statistics page shows)."""
    if not with_cases:
        return _counted_in_database(views, period, now)
    definitions = views.rules.rulebook.definitions
    rated = {str(x) for x in definitions.rated}
    satisfied = {str(x) for x in definitions.satisfied}
    n = now.timestamp()
    c = schema.cases
    with views.engine.connect() as conn:
        kinds = _unit_kinds(conn, views)
        on_time = _on_time_rates(conn, views, period, n, with_cases=True)
        found: dict[str, Any] = {}  # only the cases counted in the period, by its indexes
        for column in (c.c.registered_period, c.c.accepted_period, c.c.replied_period):
            for row in conn.execute(
                sa.select(*_COUNTED).where(
                    c.c.view_set == views.view_set, c.c.registered_s <= n, column == period
                )
            ):
                found[row.case_id] = row
        cases = [found[case_id] for case_id in sorted(found)]
        # The on-time rates were counted by case id: their case numbers, mostly known here.
        on_time_ids = {
            case_id for rates in on_time for ratio in rates.values() for case_id in ratio.cases
        }
        numbers = {case_id: found[case_id].case_number for case_id in on_time_ids & set(found)}
        numbers.update(views.case_numbers(conn, on_time_ids - set(found)))
        for rates in on_time:
            for ratio in rates.values():
                ratio.cases = [numbers[case_id] for case_id in ratio.cases]
        repeats, repeated = views.repeats_among(
            conn, found, [case.case_id for case in cases if case.replied_period == period]
        )

    handling: dict[str, dict[str, Ratio]] = defaultdict(lambda: defaultdict(Ratio))
    offices: dict[str, dict[str, Ratio]] = defaultdict(lambda: defaultdict(Ratio))

    def count(table: dict[str, Ratio], metric: str, hit: bool, number: str) -> None:
        ratio = table[metric]
        ratio.denominator += 1
        if hit:
            ratio.numerator += 1
            ratio.cases.append(number)

    for case in cases:
        number = case.case_number
        is_repeat = case.case_id in repeats
        if case.registered_period == period:
            office = offices[case.registering_office]
            count(office, "repeat_petition_rate", is_repeat, number)
            count(office, "skip_level_rate", case.skip_level, number)
            count(office, "collective_visit_rate", case.collective, number)
        if case.accepted_period == period and case.accepted_by:
            unit = handling[case.accepted_by]
            count(unit, "repeat_petition_rate", is_repeat, number)
            count(unit, "skip_level_rate", case.skip_level, number)
            count(unit, "collective_visit_rate", case.collective, number)
            if not is_repeat:
                count(unit, "first_contact_settlement_rate", case.first_contact_settled, number)
        replied = case.replied_s is not None and case.replied_s <= n
        if replied and case.replied_period == period and case.replied_by:
            unit = handling[case.replied_by]
            is_rated = case.rating in rated
            count(unit, "participation_rate", is_rated, number)
            if is_rated:
                count(unit, "satisfaction_rate", case.rating in satisfied, number)
            ceased = case.appeals == 0 and case.case_id not in repeated
            count(unit, "cease_rate", ceased, number)
    return _assemble(views, period, kinds, offices, handling, on_time)


def _assemble(
    views: Views,
    period: str,
    kinds: dict[Any, Any],
    offices: dict[str, dict[str, Ratio]],
    handling: dict[str, dict[str, Ratio]],
    on_time: tuple[dict[str, Ratio], ...],
) -> Statistics:
    """The figures counted per unit, with the on-time rates (acceptance, completion,
    registration, routing), as the offices' and the handling units' tables and the ranking."""
    acceptance, completion, registration, routing = on_time
    for unit_id, ratio in acceptance.items():
        handling[unit_id]["on_time_acceptance_rate"] = ratio
    for unit_id, ratio in completion.items():
        handling[unit_id]["on_time_completion_rate"] = ratio
    for unit_id, ratio in registration.items():
        offices[unit_id]["on_time_registration_rate"] = ratio
    for unit_id, ratio in routing.items():
        offices[unit_id]["on_time_routing_rate"] = ratio

    office_ids = {k for k, v in kinds.items() if v == UnitKind.PETITION_OFFICE}
    handling_only = {k: dict(v) for k, v in handling.items() if k not in office_ids}
    for unit_id in office_ids & set(handling):  # an office that handles matters itself
        offices[unit_id].update(handling[unit_id])
    return Statistics(
        period=period,
        rulebook=views.rules.rulebook.name,
        offices={k: dict(v) for k, v in offices.items()},
        handling=handling_only,
        ranking=rank(views, handling_only),
    )


def _yes(condition: Any) -> Any:
    """1 where the condition holds, else 0: summed, how many rows it holds for."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _counted_in_database(views: Views, period: str, now: datetime) -> Statistics:
    """The figures of :func:`unit_statistics` added up by the database, one GROUP BY per
    table of figures, the repeat petitions read from the kept relation (``rm_repeats``):
    the same numerators and denominators (a test compares them), without reading a row per
    case into Python."""
    definitions = views.rules.rulebook.definitions
    rated = [str(x) for x in definitions.rated]
    satisfied = [str(x) for x in definitions.satisfied]
    n = now.timestamp()
    c, r = schema.cases, schema.repeats
    vs = views.view_set
    # A case repeats at most one earlier case (the relation's key): joined, not probed per use.
    with_repeat = c.outerjoin(r, sa.and_(r.c.view_set == vs, r.c.case_id == c.c.case_id))
    is_repeat = r.c.case_id.is_not(None)
    came_back = sa.exists().where(r.c.view_set == vs, r.c.earlier_case_id == c.c.case_id)
    offices: dict[str, dict[str, Ratio]] = defaultdict(lambda: defaultdict(Ratio))
    handling: dict[str, dict[str, Ratio]] = defaultdict(lambda: defaultdict(Ratio))

    def put(table: dict[str, Ratio], metric: str, numerator: Any, denominator: Any) -> None:
        if denominator:  # (as counting case by case: no case, no figure)
            table[metric] = Ratio(int(numerator or 0), int(denominator))

    with views.engine.connect() as conn:
        kinds = _unit_kinds(conn, views)
        on_time = _on_time_rates(conn, views, period, n, with_cases=False)
        mine = (c.c.view_set == vs, c.c.registered_s <= n)
        for unit, cases, repeat, skip, collective in conn.execute(
            sa.select(
                c.c.registering_office,
                sa.func.count(),
                _yes(is_repeat),
                _yes(c.c.skip_level),
                _yes(c.c.collective),
            )
            .select_from(with_repeat)
            .where(*mine, c.c.registered_period == period)
            .group_by(c.c.registering_office)
        ):
            office = offices[unit]
            put(office, "repeat_petition_rate", repeat, cases)
            put(office, "skip_level_rate", skip, cases)
            put(office, "collective_visit_rate", collective, cases)
        for unit, cases, repeat, skip, collective, first, settled in conn.execute(
            sa.select(
                c.c.accepted_by,
                sa.func.count(),
                _yes(is_repeat),
                _yes(c.c.skip_level),
                _yes(c.c.collective),
                _yes(~is_repeat),
                _yes(sa.and_(~is_repeat, c.c.first_contact_settled)),
            )
            .select_from(with_repeat)
            .where(*mine, c.c.accepted_period == period, c.c.accepted_by.is_not(None))
            .group_by(c.c.accepted_by)
        ):
            if not unit:
                continue
            table = handling[unit]
            put(table, "repeat_petition_rate", repeat, cases)
            put(table, "skip_level_rate", skip, cases)
            put(table, "collective_visit_rate", collective, cases)
            put(table, "first_contact_settlement_rate", settled, first)
        is_rated = c.c.rating.in_(rated)
        for unit, cases, rated_cases, satisfied_cases, ceased in conn.execute(
            sa.select(
                c.c.replied_by,
                sa.func.count(),
                _yes(is_rated),
                _yes(sa.and_(is_rated, c.c.rating.in_(satisfied))),
                _yes(sa.and_(c.c.appeals == 0, ~came_back)),
            )
            .where(
                *mine,
                c.c.replied_period == period,
                c.c.replied_by.is_not(None),
                c.c.replied_s <= n,
            )
            .group_by(c.c.replied_by)
        ):
            if not unit:
                continue
            table = handling[unit]
            put(table, "participation_rate", rated_cases, cases)
            put(table, "satisfaction_rate", satisfied_cases, rated_cases)
            put(table, "cease_rate", ceased, cases)
    return _assemble(views, period, kinds, offices, handling, on_time)


def rank(views: Views, units: dict[str, dict[str, Ratio]]) -> list[dict[str, Any]]:
    """排名 by the rulebook's weighted score; a metric a unit has no data for is left out of
    its score and the remaining weights are scaled up; the bottom ``bottom_n`` are flagged
    for special management (重点管理)."""
    ranking = views.rules.rulebook.definitions.ranking
    scored = []
    for unit_id, metrics in units.items():
        total_weight = 0
        score = Decimal(0)
        keys = []
        for m in ranking.metrics:
            ratio = metrics.get(m.metric)
            rate = ratio.rate if ratio is not None else None
            if rate is None:
                keys.append(Decimal(0))
                continue
            value = rate if m.better == "higher" else 1 - rate
            score += value * m.weight
            total_weight += m.weight
            keys.append(value)
        if total_weight == 0:
            continue
        final = (score * 100 / total_weight).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        scored.append((final, keys, unit_id))
    scored.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
    bottom = {s[2] for s in scored[-ranking.bottom_n :]} if ranking.bottom_n else set()
    return [
        {"rank": i + 1, "unit": unit_id, "score": score, "special_management": unit_id in bottom}
        for i, (score, _, unit_id) in enumerate(scored)
    ]
