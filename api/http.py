"""The HTTP API: read a case, its history and its past states.

Built by a factory (nothing opens a database at import). Domain errors become RFC 9457
problem documents in one place, with a stable type per error class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from api.presenters import Names, case_view, history_view, plain
from domain.errors import (
    ConcurrentUpdate,
    DomainError,
    InvalidInput,
    NotFound,
    ProcessRuleViolation,
)
from ledger.application import Ledger
from ledger.settings import Settings

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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = Ledger(settings)
        try:
            yield
        finally:
            app.state.ledger.close()

    app = FastAPI(
        title="Petition Ledger",
        summary="An honest, replayable record of 信访 case work.",
        lifespan=lifespan,
    )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> JSONResponse:
        status = problem_status(error)
        return JSONResponse(
            status_code=status,
            media_type="application/problem+json",
            content={
                "type": PROBLEM_BASE + error.code,
                "title": type(error).__name__,
                "status": status,
                "detail": error.message,
            },
        )

    def ledger(request: Request) -> Ledger:
        return request.app.state.ledger  # type: ignore[no-any-return]

    LedgerDep = Annotated[Ledger, Depends(ledger)]

    @app.get("/healthz", operation_id="health")
    def health(ledger: LedgerDep) -> dict[str, Any]:
        return {"status": "ok", "events": ledger.recorder.max_notification_id() or 0}

    @app.get("/cases/{reference}", operation_id="getCase")
    def get_case(
        reference: str,
        ledger: LedgerDep,
        as_of: Annotated[
            datetime | None, Query(description="Instant (ISO 8601, with offset).")
        ] = None,
    ) -> dict[str, Any]:
        """A case by number (XF-2025-00123) or id; with ``as_of``, as the record stood then."""
        case_id = ledger.find_case_id(reference)
        if as_of is None:
            case = ledger.get_case(case_id)
        else:
            if as_of.tzinfo is None:
                raise InvalidInput("as_of: give a time zone offset, e.g. 2025-03-31T24:00+08:00")
            case = ledger.case_as_of(case_id, as_of)
        return plain(case_view(ledger, case))  # type: ignore[no-any-return]

    @app.get("/cases/{reference}/history", operation_id="getCaseHistory")
    def get_history(reference: str, ledger: LedgerDep) -> list[dict[str, Any]]:
        """Every fact recorded on the case, in order."""
        case_id = ledger.find_case_id(reference)
        return plain(history_view(ledger, case_id, Names(ledger)))  # type: ignore[no-any-return]

    return app
