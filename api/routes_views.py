"""The views over HTTP, each within the caller's scope, as of now or any instant, and as
CSV or XLSX for the reports assessors write.

Each view is one function (``delay_rows``, ``pattern_rows``, ``statistics_result``,
``rule_diff``) that checks access and scope and names ids; the JSON routes and the console's
pages both call it, so what a user may see is decided once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from api import access
from api.deps import After, AsOf, LedgerDep, PrincipalDep
from api.exports import XLSX_MEDIA_TYPE, export_response
from api.presenters import plain
from api.readmodel import built_views
from api.routes_cases import named, named_rows, views_for
from api.security import Principal
from ledger.application import Ledger
from projections.queries import BoardPage, Views, names
from projections.rebuild import (
    Figure,
    diff_ranking,
    differing_figures,
    metric_change,
    moved_cases,
    moved_page,
    periods,
)
from projections.statistics import Ratio, unit_statistics

_FILE = {"schema": {"type": "string", "format": "binary"}}
# format=csv|xlsx answers with a file: documented next to the JSON.
router = APIRouter(
    prefix="/views", responses={200: {"content": {"text/csv": _FILE, XLSX_MEDIA_TYPE: _FILE}}}
)

Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or a file for reports")]
Party = Literal["unit", "person", "leader"]


def _respond(
    rows: list[dict[str, Any]], fmt: str, filename: str
) -> list[dict[str, Any]] | Response:
    if fmt == "json":
        return rows
    return export_response(rows, fmt=fmt, filename=filename)  # type: ignore[arg-type]


def delay_rows(
    ledger: Ledger,
    principal: Principal,
    by: Party,
    as_of: datetime | None = None,
    after: int | None = None,
    *,
    only: str | None = None,
) -> list[dict[str, Any]]:
    """Who delayed what, per party in the caller's scope (``only``: one party, by id); each
    row keeps the party's id beside its name, for a drill-down."""
    access.require_view(principal, "delay")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    rows = views.who_delayed_what(by, now, only=None if only is None else [only])
    rows = scope.filter_parties(rows, "party")
    return named_rows(views, [{**r, "party_id": r["party"]} for r in rows])


def delay_board_page(
    ledger: Ledger,
    principal: Principal,
    by: Party,
    as_of: datetime | None,
    *,
    top: int,
    limit: int,
    offset: int,
) -> BoardPage:
    """One page of the delay board (worst parties first) in the caller's scope: each party's
    totals and only its ``top`` worst cases."""
    access.require_view(principal, "delay")
    views, now = views_for(ledger, as_of, None)
    scope = access.Scope(principal, views)
    page = views.delay_board_page(
        by, now, top=top, within=scope.parties(), limit=limit, offset=offset
    )
    return page._replace(rows=named_rows(views, [{**r, "party_id": r["party"]} for r in page.rows]))


def pattern_rows(
    ledger: Ledger,
    principal: Principal,
    kind: str | None = None,
    as_of: datetime | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    """The patterns found in the caller's scope: a pattern's unit in scope, or, for a pattern
    with no unit, its case."""
    access.require_view(principal, "patterns")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    found = views.patterns(kind, now)
    # A pattern with no unit (a repeat petition) is shown where its case is.
    visible = scope.visible_cases({r["case_id"] for r in found if r["unit"] is None})
    rows = [r for r in found if scope.covers(r["unit"]) or r["case_id"] in visible]
    return named_rows(views, rows)


def pattern_page(
    ledger: Ledger,
    principal: Principal,
    kinds: tuple[str, ...],
    as_of: datetime | None,
    *,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the patterns of these kinds in the caller's scope (the rule of
    ``pattern_rows``, applied in the database), latest first, and how many there are."""
    access.require_view(principal, "patterns")
    views, now = views_for(ledger, as_of, None)
    scope = access.Scope(principal, views)
    units = None if scope.everything() else scope.units
    rows, total = views.pattern_page(kinds, now, units=units, limit=limit, offset=offset)
    return named_rows(views, rows), total


def statistics_result(
    ledger: Ledger,
    principal: Principal,
    period: str,
    as_of: datetime | None = None,
    after: int | None = None,
) -> dict[str, Any]:
    """The assessment rates of a period for the units in scope, and their ranking."""
    access.require_view(principal, "statistics")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    result = unit_statistics(views, period, now, with_cases=False).as_dict()
    allowed, known = scope.units, names(views)  # read once for the three lists
    for key in ("petition_offices", "handling_units", "ranking"):
        result[key] = [named(views, r, known) for r in result[key] if r["unit"] in allowed]
    return result


def statistics_page(
    ledger: Ledger,
    principal: Principal,
    period: str,
    as_of: datetime | None,
    *,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    """What the console shows of a period's statistics: ``page_size`` units a page of the
    ranking, the handling units (in ranking order, so a page shows the same units in both)
    and the petition offices, how many in all (``counts``), and which metrics have figures.
    Only the page's rows are named and shaped."""
    access.require_view(principal, "statistics")
    views, now = views_for(ledger, as_of, None)
    allowed = access.Scope(principal, views).units
    stats = unit_statistics(views, period, now, with_cases=False)
    ranking = [r for r in stats.ranking if r["unit"] in allowed]
    place = {r["unit"]: r["rank"] for r in ranking}
    unranked = len(place) + 1  # (after the ranked units, in the order they come)
    handling = sorted(
        (u for u in sorted(stats.handling) if u in allowed), key=lambda u: place.get(u, unranked)
    )
    offices = [u for u in sorted(stats.offices) if u in allowed]
    counts = {
        "ranking": len(ranking),
        "handling_units": len(handling),
        "petition_offices": len(offices),
    }
    pages = max(1, -(-max(counts.values()) // page_size))
    page = min(max(page, 1), pages)
    shown = slice((page - 1) * page_size, page * page_size)
    ranking, handling, offices = ranking[shown], handling[shown], offices[shown]
    known = names(views, {r["unit"] for r in ranking} | set(handling) | set(offices))

    def rows(table: dict[str, dict[str, Ratio]], units: list[str]) -> list[dict[str, Any]]:
        shaped = (
            {"unit": u, "metrics": {m: r.as_dict() for m, r in sorted(table[u].items())}}
            for u in units
        )
        return [named(views, row, known) for row in shaped]

    return {
        "period": period,
        "rulebook": stats.rulebook,
        "ranking": [named(views, r, known) for r in ranking],
        "handling_units": rows(stats.handling, handling),
        "petition_offices": rows(stats.offices, offices),
        "metrics": {
            m for table in (stats.handling, stats.offices) for ms in table.values() for m in ms
        },
        "counts": counts,
        "page": page,
        "pages": pages,
    }


def rule_diff(
    ledger: Ledger, principal: Principal, a: str, b: str, period: str | None = None
) -> dict[str, Any]:
    """Two built view sets (two rulebooks) compared: for each period, every statistic and
    ranking of a unit in scope that differs, with the cases behind it; and the cases in scope
    whose deadlines or lateness differ, clock by clock."""
    access.require_view(principal, "statistics")
    va, vb = built_views(ledger, a), built_views(ledger, b)
    scope = access.Scope(principal, va)
    now = datetime.now(UTC)
    report: dict[str, Any] = {
        "a": {"view_set": va.view_set, "rulebook": va.rules.rulebook.name},
        "b": {"view_set": vb.view_set, "rulebook": vb.rules.rulebook.name},
        "periods": {},
    }
    for p in [period] if period else sorted(set(periods(va)) | set(periods(vb))):
        found = _period_diff(va, vb, scope, p, now)
        if found["statistics"] or found["ranking"]:
            report["periods"][p] = found
    moved = moved_cases(va, vb)
    visible = scope.visible_cases({m["case_id"] for m in moved})
    report["moved_cases"] = [plain(m) for m in moved if m["case_id"] in visible]
    return report


def _period_changes(
    va: Views, vb: Views, scope: access.Scope, period: str, now: datetime, *, with_cases: bool
) -> tuple[list[Figure], list[dict[str, Any]]]:
    """The figures and the ranking places of the units in scope that differ in one period,
    by unit id (``with_cases``: with the cases behind each figure)."""
    sa_ = unit_statistics(va, period, now, with_cases=with_cases)
    sb = unit_statistics(vb, period, now, with_cases=with_cases)
    allowed = scope.units
    figures = [f for f in differing_figures(sa_, sb) if f[0] in allowed]
    ranking = [
        {"unit": r["unit"], "before": _place(r["before"]), "after": _place(r["after"])}
        for r in diff_ranking(sa_, sb)
        if r["unit"] in allowed
    ]
    return figures, ranking


def _period_diff(
    va: Views, vb: Views, scope: access.Scope, period: str, now: datetime
) -> dict[str, Any]:
    """One period's differences with the cases each figure gained and lost, units by name."""
    figures, ranking = _period_changes(va, vb, scope, period, now, with_cases=True)
    known = names(va)
    return {
        "statistics": [named(va, metric_change(f).__dict__, known) for f in figures],
        "ranking": [named(va, r, known) for r in ranking],
    }


def rule_diff_of_period(
    ledger: Ledger,
    principal: Principal,
    a: str,
    b: str,
    period: str,
    *,
    limit: int,
    after: str | None,
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    """What the console shows of two view sets: one period's differing figures and ranking
    places, ``page_size`` rows of each a page (how many in all in ``counts``), and a page of
    the runs whose deadline or lateness moved (from the case after ``after``), with the case
    the next page starts after."""
    access.require_view(principal, "statistics")
    va, vb = built_views(ledger, a), built_views(ledger, b)
    scope = access.Scope(principal, va)
    moved, next_after = moved_page(
        va,
        vb,
        limit=limit,
        after=after,
        visible=None if scope.everything() else scope.visible_cases,
    )
    # The figures only: which cases each one gained or lost is the API's (the count case by
    # case, for both rulebooks, is what a page cannot afford at 100k cases).
    figures, ranking = _period_changes(va, vb, scope, period, datetime.now(UTC), with_cases=False)
    counts = {"statistics": len(figures), "ranking": len(ranking)}
    pages = max(1, -(-max(counts.values()) // page_size))
    page = min(max(page, 1), pages)
    shown = slice((page - 1) * page_size, page * page_size)
    figures, ranking = figures[shown], ranking[shown]
    known = names(va, {f[0] for f in figures} | {r["unit"] for r in ranking})  # (the page's)
    return {
        "a": {"view_set": va.view_set, "rulebook": va.rules.rulebook.name},
        "b": {"view_set": vb.view_set, "rulebook": vb.rules.rulebook.name},
        "period": period,
        "statistics": [named(va, metric_change(f).__dict__, known) for f in figures],
        "ranking": [named(va, r, known) for r in ranking],
        "counts": counts,
        "page": page,
        "pages": pages,
        "moved_cases": [plain(m) for m in moved],
        "next_after": next_after,
    }


def _place(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A unit's place in a ranking, without its id (the row names the unit)."""
    return None if entry is None else {k: v for k, v in entry.items() if k != "unit"}


@router.get("/delay", operation_id="getWhoDelayedWhat", response_model=None)
def delay(
    ledger: LedgerDep,
    principal: PrincipalDep,
    by: Party = "unit",
    as_of: AsOf = None,
    after: After = None,
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    """Who delayed what: per unit, person or leader, with the cases behind every number."""
    rows = delay_rows(ledger, principal, by, as_of, after)
    return _respond(rows, format, f"who-delayed-what-{by}")


@router.get("/patterns", operation_id="getPatterns", response_model=None)
def patterns(
    ledger: LedgerDep,
    principal: PrincipalDep,
    kind: str | None = None,
    as_of: AsOf = None,
    after: After = None,
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    """推诿, backdating, late objections, ignored 督办, overturned replies, repeats."""
    return _respond(pattern_rows(ledger, principal, kind, as_of, after), format, "patterns")


@router.get("/desk/{unit}", operation_id="getDesk", response_model=None)
def desk(
    unit: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    after: After = None,
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    """What is on a unit's desk, with deadlines and the early-warning flag (预警)."""
    access.require_view(principal, "desk")
    views, now = views_for(ledger, as_of, after)
    unit_id = unit.replace("-", "")
    access.Scope(principal, views).require_unit(unit_id)
    rows = named_rows(views, views.desk(now, unit=unit_id))
    return _respond(rows, format, "desk")


@router.get("/statistics/{period}", operation_id="getStatistics", response_model=None)
def statistics(
    period: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    after: After = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """The assessment rates of a period per unit (offices and handling units apart), and the
    ranking; as a file, one row per unit and metric."""
    result = statistics_result(ledger, principal, period, as_of, after)
    if format == "json":
        return result
    rows = [
        {"group": key, "unit": r["unit"], "metric": metric, **values}
        for key in ("petition_offices", "handling_units")
        for r in result[key]
        for metric, values in r["metrics"].items()
    ]
    return export_response(rows, fmt=format, filename=f"statistics-{period}")


@router.get("/rule-diff", operation_id="getRuleDiff")
def rule_diff_view(
    ledger: LedgerDep,
    principal: PrincipalDep,
    a: Annotated[str, Query(max_length=80, description="A built view set (rulebook A).")],
    b: Annotated[str, Query(max_length=80, description="A built view set (rulebook B).")],
    period: Annotated[str | None, Query(max_length=16, description="One period.")] = None,
) -> dict[str, Any]:
    """What changes under another rulebook: statistics, ranking and the cases that moved
    (build a view set with ``petition rebuild --rulebook FILE`` first)."""
    return rule_diff(ledger, principal, a, b, period)
