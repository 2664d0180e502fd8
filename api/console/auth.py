"""Signing in to the console: the same bearer token as the API, kept in an HttpOnly cookie.

The cookie holds the token itself and nothing else; every request verifies it exactly as the
API verifies its Authorization header (``security.verify``: signature, expiry, claims), so a
console user is the same Principal, with the same role and scope, as an API caller.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from api.security import Principal, Unauthenticated, verify

COOKIE = "petition_console"
PREFIX = "/console"


class SignInRequired(Exception):
    """No valid console cookie: the user is sent to the sign-in page."""

    def __init__(self, reason: str, next_path: str) -> None:
        super().__init__(reason)
        self.next_path = next_path


def console_principal(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise SignInRequired("请先登录", here)
    try:
        return verify(request.app.state.token_secret, token)
    except Unauthenticated as e:
        raise SignInRequired(str(e), here) from None


ConsoleUser = Annotated[Principal, Depends(console_principal)]


async def form_fields(request: Request, limit: int = 16_384) -> dict[str, str]:
    """An url-encoded form body as a dict (first value of each field); a body past ``limit``
    bytes is not read as a form."""
    body = await request.body()
    if len(body) > limit:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a console page of this site, never another site."""
    if path and path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX + "/"
