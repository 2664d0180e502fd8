"""The views over HTTP, each within the caller's scope, as of now or any instant, and as
CSV or XLSX for the reports assessors write."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from api import access
from api.deps import After, AsOf, LedgerDep, PrincipalDep
from api.exports import XLSX_MEDIA_TYPE, export_response
from api.routes_cases import named, views_for
from projections.statistics import unit_statistics

_FILE = {"schema": {"type": "string", "format": "binary"}}
# format=csv|xlsx answers with a file: documented next to the JSON.
router = APIRouter(
    prefix="/views", responses={200: {"content": {"text/csv": _FILE, XLSX_MEDIA_TYPE: _FILE}}}
)

Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or a file for reports")]


def _respond(
    rows: list[dict[str, Any]], fmt: str, filename: str
) -> list[dict[str, Any]] | Response:
    if fmt == "json":
        return rows
    return export_response(rows, fmt=fmt, filename=filename)  # type: ignore[arg-type]


@router.get("/delay", operation_id="getWhoDelayedWhat", response_model=None)
def delay(
    ledger: LedgerDep,
    principal: PrincipalDep,
    by: Literal["unit", "person", "leader"] = "unit",
    as_of: AsOf = None,
    after: After = None,
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    """Who delayed what: per unit, person or leader, with the cases behind every number."""
    access.require_view(principal, "delay")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    rows = scope.filter_parties(views.who_delayed_what(by, now), "party")
    return _respond([named(views, r) for r in rows], format, f"who-delayed-what-{by}")


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
    access.require_view(principal, "patterns")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    rows = [r for r in views.patterns(kind, now) if scope.covers(r["unit"]) or r["unit"] is None]
    return _respond([named(views, r) for r in rows], format, "patterns")


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
    rows = [named(views, r) for r in views.desk(now, unit=unit_id)]
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
    access.require_view(principal, "statistics")
    views, now = views_for(ledger, as_of, after)
    scope = access.Scope(principal, views)
    result = unit_statistics(views, period, now).as_dict()
    for key in ("petition_offices", "handling_units", "ranking"):
        result[key] = [named(views, r) for r in scope.filter_parties(result[key], "unit")]
    if format == "json":
        return result
    rows = [
        {"group": key, "unit": r["unit"], "metric": metric, **values}
        for key in ("petition_offices", "handling_units")
        for r in result[key]
        for metric, values in r["metrics"].items()
    ]
    return export_response(rows, fmt=format, filename=f"statistics-{period}")
