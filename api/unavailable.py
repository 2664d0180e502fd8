"""When the database is down or busy: 503 with Retry-After, never a 500, and nothing
acknowledged. The engine's pre-ping reconnects by itself once the database is back."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("petition.http")

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    StoreOperationalError,
    StoreInterfaceError,
)


def install(app: FastAPI, problem_base: str) -> None:
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        busy = "locked" in str(error) or "busy" in str(error)
        log.warning("database unavailable: %s", str(error).splitlines()[0])
        detail = (
            "the database is busy; nothing was written, try again"
            if busy
            else "the database is unreachable; nothing was written, try again"
        )
        return JSONResponse(
            status_code=503,
            media_type="application/problem+json",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            content={
                "type": problem_base + "unavailable",
                "title": "Unavailable",
                "status": 503,
                "detail": detail,
            },
        )

    for error in UNAVAILABLE:
        app.add_exception_handler(error, unavailable)
