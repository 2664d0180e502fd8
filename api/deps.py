"""Dependencies every route shares: the ledger, who is asking, and their scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import Principal, Unauthenticated, verify
from ledger.application import Ledger

bearer = HTTPBearer(auto_error=False, description="A token from `petition token issue`.")


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("a bearer token is required")
    return verify(request.app.state.token_secret, credentials.credentials)


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AsOf = Annotated[
    datetime | None,
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
