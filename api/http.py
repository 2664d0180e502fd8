"""The HTTP API: cases, their history and past states, and every view.

Built by a factory (nothing opens a database at import). The live projector runs in a
background thread of the same process; a view request first lets it catch up. Domain errors
become RFC 9457 problem documents in one place, with a stable type per error class.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from api.presenters import Names, case_view, history_view, plain
from api.readmodel import default_rules, views_at
from domain.errors import (
    ConcurrentUpdate,
    DomainError,
    InvalidInput,
    NotFound,
    ProcessRuleViolation,
)
from ledger.application import Ledger
from ledger.settings import Settings
from projections.projector import ProjectorStopped
from projections.queries import Views, names
from projections.runner import Runner, lag
from projections.statistics import unit_statistics

PROBLEM_BASE = "https://petition-ledger.example/problems/"
STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (InvalidInput, 422),
    (ConcurrentUpdate, 409),
    (ProcessRuleViolation, 409),
]


def problem_status(error: DomainError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def _problem(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        media_type="application/problem+json",
        content={"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail},
    )


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
AsOf = Annotated[
    datetime | None,
    Query(description="As the record stood at this instant (ISO 8601 with offset)."),
]


def create_app(settings: Settings | None = None, *, run_projector: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = Ledger(settings)
        app.state.ledger = ledger
        runner = Runner(ledger.engine, default_rules()) if run_projector else None
        thread = None
        if runner is not None:
            app.state.view_set = runner.view_set
            thread = threading.Thread(target=_follow, args=(runner,), daemon=True)
            thread.start()
        try:
            yield
        finally:
            if runner is not None and thread is not None:
                runner.stop()
                thread.join(timeout=10)
            ledger.close()

    app = FastAPI(
        title="Petition Ledger",
        summary="An honest, replayable record of 信访 case work.",
        lifespan=lifespan,
    )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> JSONResponse:
        return _problem(problem_status(error), error.code, type(error).__name__, error.message)

    @app.exception_handler(ProjectorStopped)
    async def projector_stopped(request: Request, error: ProjectorStopped) -> JSONResponse:
        return _problem(503, "projector-stopped", "ProjectorStopped", str(error))

    def instant(as_of: datetime | None) -> datetime | None:
        if as_of is not None and as_of.tzinfo is None:
            raise InvalidInput("as_of: give a time zone offset, e.g. 2025-03-31T24:00+08:00")
        return as_of

    def views_for(ledger: Ledger, as_of: datetime | None) -> tuple[Views, datetime]:
        at = instant(as_of)
        return views_at(ledger, at), at or datetime.now(UTC)

    @app.get("/healthz", operation_id="health")
    def health(ledger: LedgerDep, request: Request) -> dict[str, Any]:
        view_set = getattr(request.app.state, "view_set", None)
        projector = lag(ledger.engine, view_set) if view_set else None
        status = "ok" if not projector or not projector["error"] else "projector-stopped"
        return {"status": status, "projector": projector}

    @app.get("/cases/{reference}", operation_id="getCase")
    def get_case(reference: str, ledger: LedgerDep, as_of: AsOf = None) -> dict[str, Any]:
        """A case by number (XF-2025-00123) or id; with ``as_of``, as the record stood then."""
        case_id = ledger.find_case_id(reference)
        at = instant(as_of)
        case = ledger.get_case(case_id) if at is None else ledger.case_as_of(case_id, at)
        return plain(case_view(ledger, case))  # type: ignore[no-any-return]

    @app.get("/cases/{reference}/history", operation_id="getCaseHistory")
    def get_history(reference: str, ledger: LedgerDep) -> list[dict[str, Any]]:
        """Every fact recorded on the case, in order."""
        case_id = ledger.find_case_id(reference)
        return plain(history_view(ledger, case_id, Names(ledger)))  # type: ignore[no-any-return]

    @app.get("/cases/{reference}/summary", operation_id="getCaseSummary")
    def get_summary(reference: str, ledger: LedgerDep, as_of: AsOf = None) -> dict[str, Any]:
        """Stage, holder, the deadline in force and time left or overdue, flags."""
        case_id = ledger.find_case_id(reference).hex
        views, now = views_for(ledger, as_of)
        summary = views.case_summary(case_id, now)
        if summary is None:
            raise NotFound(f"case {reference} was not yet recorded then")
        return _named(views, summary)

    @app.get("/cases/{reference}/chain", operation_id="getResponsibilityChain")
    def get_chain(reference: str, ledger: LedgerDep, as_of: AsOf = None) -> list[dict[str, Any]]:
        """The responsibility chain: custody intervals with deadlines and overdue parts."""
        case_id = ledger.find_case_id(reference).hex
        views, now = views_for(ledger, as_of)
        return [_named(views, row) for row in views.chain(case_id, now)]

    @app.get("/views/delay", operation_id="getWhoDelayedWhat")
    def get_delay(
        ledger: LedgerDep,
        by: Literal["unit", "person", "leader"] = "unit",
        as_of: AsOf = None,
    ) -> list[dict[str, Any]]:
        """Who delayed what, per unit, person or leader, with the cases behind every number."""
        views, now = views_for(ledger, as_of)
        return [_named(views, row) for row in views.who_delayed_what(by, now)]

    @app.get("/views/patterns", operation_id="getPatterns")
    def get_patterns(
        ledger: LedgerDep, kind: str | None = None, as_of: AsOf = None
    ) -> list[dict[str, Any]]:
        """推诿, backdating, late objections, ignored 督办, overturned replies, repeats."""
        views, now = views_for(ledger, as_of)
        return [_named(views, row) for row in views.patterns(kind, now)]

    @app.get("/views/desk/{unit}", operation_id="getDesk")
    def get_desk(unit: str, ledger: LedgerDep, as_of: AsOf = None) -> list[dict[str, Any]]:
        """What is on a unit's desk, with deadlines and the early-warning flag (预警)."""
        views, now = views_for(ledger, as_of)
        return [_named(views, row) for row in views.desk(now, unit=unit.replace("-", ""))]

    @app.get("/views/statistics/{period}", operation_id="getStatistics")
    def get_statistics(period: str, ledger: LedgerDep, as_of: AsOf = None) -> dict[str, Any]:
        """The assessment rates of a period per unit, and the ranking."""
        views, now = views_for(ledger, as_of)
        return plain(unit_statistics(views, period, now).as_dict())  # type: ignore[no-any-return]

    return app


def _follow(runner: Runner) -> None:
    with suppress(ProjectorStopped):  # recorded on the view set; /healthz reports it
        runner.run()


def _named(views: Views, row: dict[str, Any]) -> dict[str, Any]:
    known = names(views)
    keys = (
        "holder_unit",
        "handler",
        "leader",
        "party",
        "unit",
        "person",
        "registering_office",
        "accepted_by",
        "replied_by",
        "competent_unit",
        "concerned_unit",
    )
    named = {k: known.get(v, v) if k in keys and isinstance(v, str) else v for k, v in row.items()}
    return plain(named)  # type: ignore[no-any-return]
