"""The HTTP API, built by a factory (nothing opens a database at import).

The live projector runs in a background thread of the same process. Every error a client can
cause becomes an RFC 9457 problem document here, in one place, with a stable type per domain
error: 401 no valid token, 403 outside role or scope, 404 unknown, 409 a process rule or a
race, 412 a stale If-Match (with the current version), 422 malformed input.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api import routes_cases, routes_directory, routes_petitioner, routes_views
from api.console import pages as console
from api.deps import LedgerDep
from api.observability import install as install_observability
from api.readmodel import ViewsBehind, live_lag, live_runner, replica_position
from api.routes_cases import PreconditionFailed
from api.security import Forbidden, Unauthenticated, token_secret
from api.unavailable import install as install_unavailable
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
from projections.runner import Runner

log = logging.getLogger("petition.http")

PROBLEM_BASE = "https://petition-ledger.example/problems/"
STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (InvalidInput, 422),
    (PreconditionFailed, 412),
    (ConcurrentUpdate, 409),
    (ProcessRuleViolation, 409),
]


class Problem(BaseModel):
    """An RFC 9457 problem document, the body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    current_version: int | None = Field(default=None, description="409/412: the case's version.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="422: what, and where.")


# Documented on every route, so the schema describes the error bodies actually sent (FastAPI's
# default 422 documents a body this app never sends).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/problem+json": {"schema": Problem.model_json_schema()}},
    }
    for status, description in (
        (400, "The body could not be read (not UTF-8 JSON)."),
        (401, "No valid token (or receipt code)."),
        (403, "Outside the caller's role or scope."),
        (404, "Unknown case, unit, person or log position."),
        (409, "A process rule, or a concurrent change."),
        (412, "If-Match is stale; current_version is the case's version."),
        (422, "Malformed input."),
        (503, "The projector has stopped (see /healthz), or the views replica is behind."),
    )
}


def problem_status(error: DomainError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
        content={
            "type": PROBLEM_BASE + code,
            "title": title,
            "status": status,
            "detail": detail,
            **extra,
        },
    )


API_THREADS = int(os.environ.get("LEDGER_API_THREADS", "4"))
"""How many requests an API process works on at once; the rest wait their turn in its event
loop (Starlette's default is 40 threads). Commands contend for the interpreter's lock and for
the events table's lock: in the HTTP bench on PostgreSQL (two processes, 32 clients at an
offered 200 commands/s) 40 or 8 threads per process served 181–188/s with a median of 156–166
ms in the server, 4 threads the whole 200/s with a median of 18 ms."""

PROJECTOR_ENV = "LEDGER_SERVE_PROJECTOR"
"""Set to 0 in API worker processes whose projector runs elsewhere."""


def tune_collector() -> None:
    """Garbage collection for a long-running server (``petition serve``): what is alive when
    it starts (modules, the app, its routes and schemas) is frozen out of the collector's
    passes, and a young collection waits for 20,000 new objects, not 700. A page that reads
    tens of thousands of rows otherwise sets off full passes over the whole heap: at 100k
    cases the statistics page's slowest of 30 requests went from 256 to about 140 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def app_from_environment() -> FastAPI:
    """The app as a uvicorn worker process builds it (settings from the environment). A
    worker is a fresh (spawned) process: its logging is set up here, or its request logs are
    lost."""
    from api.observability import json_logging

    json_logging()
    app = create_app(Settings(), run_projector=os.environ.get(PROJECTOR_ENV, "1") != "0")
    tune_collector()
    return app


def create_app(settings: Settings | None = None, *, run_projector: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        ledger = Ledger(settings)
        app.state.ledger = ledger
        app.state.token_secret = token_secret(settings)
        runner = live_runner(ledger)
        app.state.view_set = runner.view_set
        thread = None
        if run_projector:
            thread = threading.Thread(target=_follow, args=(runner,), daemon=True)
            thread.start()
        try:
            yield
        finally:
            runner.stop()
            if thread is not None:
                thread.join(timeout=10)
            ledger.close()

    app = FastAPI(
        title="Petition Ledger",
        summary="An honest, replayable record of 信访 case work.",
        lifespan=lifespan,
    )
    app.include_router(routes_cases.router, responses=PROBLEMS)
    app.include_router(routes_views.router, responses=PROBLEMS)
    app.include_router(routes_petitioner.router, responses=PROBLEMS)
    app.include_router(routes_directory.router, responses=PROBLEMS)
    console.install(app)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        if console.is_console(request):
            return console.error_page(
                request, problem_status(error), type(error).__name__, error.message
            )
        extra = {}
        if isinstance(error, ConcurrentUpdate | PreconditionFailed):
            extra["current_version"] = error.current_version
        return problem(
            problem_status(error), error.code, type(error).__name__, error.message, **extra
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if console.is_console(request):
            detail = "; ".join(
                f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}"
                for e in error.errors()
            )
            return console.error_page(request, 422, "InvalidInput", detail)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in error.errors()
        ]
        return problem(
            422, "invalid-input", "InvalidInput", "the request is malformed", errors=errors
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if console.is_console(request):
            return console.error_page(request, error.status_code, "HTTPError", str(error.detail))
        return problem(error.status_code, "http", "HTTPError", str(error.detail))

    @app.exception_handler(ViewsBehind)
    async def views_behind(request: Request, error: ViewsBehind) -> JSONResponse:
        response = problem(503, "views-behind", "ViewsBehind", str(error))
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(ProjectorStopped)
    async def projector_stopped(request: Request, error: ProjectorStopped) -> Response:
        if console.is_console(request):
            return console.error_page(request, 503, "ProjectorStopped", str(error))
        return problem(503, "projector-stopped", "ProjectorStopped", str(error))

    @app.get("/healthz", operation_id="health")
    def health(ledger: LedgerDep, request: Request) -> dict[str, Any]:
        """Liveness, and the projector's position and error, if any."""
        projector = live_lag(ledger, request.app.state.view_set)
        status = "ok" if not projector["error"] else "projector-stopped"
        health: dict[str, Any] = {"status": status, "projector": projector}
        if ledger.settings.views_database_url is not None:  # how far the replica trails
            position = replica_position(ledger)
            health["views_replica"] = {
                "position": position,
                "events_behind_projector": int(projector["position"] or 0) - position,
            }
        return health

    def projector_lag() -> Mapping[str, object]:
        state = app.state
        if not hasattr(state, "ledger"):
            raise LookupError("the app is not started")
        return live_lag(state.ledger, state.view_set)

    install_observability(app, lag=projector_lag)
    install_unavailable(app, PROBLEM_BASE)
    return app


def _follow(runner: Runner) -> None:
    with suppress(ProjectorStopped):  # recorded on the view set; /healthz reports it
        runner.run()
