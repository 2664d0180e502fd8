"""Dependencies every route shares: the ledger, who is asking, and their scope."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from api.security import Principal, Unauthenticated, verify
from ledger.application import Ledger

bearer = HTTPBearer(auto_error=False, description="A token from `petition token issue`.")


# The dependencies are ``async`` because they never block (a JWT check is microseconds of CPU):
# FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off per dependency
# per request, which cost more than the work.


async def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("a bearer token is required")
    return verify(request.app.state.token_secret, credentials.credentials)


# Every date or instant a client sends lies in these years (as written, in its own offset):
# far-off values (0001-01-01+14:00, 9999-12-31) were accepted and then overflowed date
# arithmetic, in the request (a 500) or in the projector (every live read a 503 from then on).
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
T = TypeVar("T", bound=date | None)


def plausible(value: T) -> T:
    if value is not None:
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST <= day <= LATEST:
            raise ValueError(f"must lie between {EARLIEST} and {LATEST}")
    return value


Instant = Annotated[datetime, AfterValidator(plausible)]
Day = Annotated[date, AfterValidator(plausible)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AsOf = Annotated[
    Instant | None,
    Query(description="As the record stood at this instant (ISO 8601 with offset)."),
]
After = Annotated[
    int | None,
    Query(
        ge=0,
        description="Read-your-writes: a log position a command returned; the view "
        "waits (bounded) until it includes it.",
    ),
]
