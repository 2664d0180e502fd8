"""Who is asking: signed bearer tokens naming a person, their role and the unit they act for.

Tokens are HS256 JWTs (PyJWT) signed with the ledger's token secret: ``LEDGER_TOKEN_SECRET``,
or, for the embedded SQLite default only, a random secret kept beside the database file
(created on first use, readable by its owner only). A PostgreSQL deployment without a secret
refuses to start rather than run with a guessable one.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import jwt

from domain.errors import DomainError
from ledger.settings import Settings

ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(days=30)


class Role(StrEnum):
    REGISTRAR = "registrar"  # 信访办
    HANDLER = "handler"  # 承办单位
    LEADER = "leader"  # 包案领导
    SUPERVISOR = "supervisor"  # 督查
    INSPECTOR = "inspector"  # 纪委
    ASSESSOR = "assessor"  # 考核
    ADMIN = "admin"


class Unauthenticated(DomainError):
    """No valid token: missing, malformed, forged or expired."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The token's role or unit scope does not allow this."""

    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    """An authenticated user: a directory person acting in a role for a unit (and its
    subtree, which is their scope)."""

    user: UUID
    role: Role
    unit: UUID


def token_secret(settings: Settings) -> str:
    configured = os.environ.get("LEDGER_TOKEN_SECRET")
    if configured:
        if len(configured) < 32:
            raise ValueError("LEDGER_TOKEN_SECRET must be at least 32 characters")
        return configured
    path = settings.sqlite_path()
    if path is None:
        raise ValueError("LEDGER_TOKEN_SECRET is required with PostgreSQL")
    secret_file = path.with_name(path.name + ".token-secret")
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return secret_file.read_text().strip()


def issue(
    secret: str, *, user: UUID, role: Role, unit: UUID, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> str:
    claims = {
        "sub": user.hex,
        "role": role.value,
        "unit": unit.hex,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Principal:
    principal, expires = _verified(secret, token)
    if expires <= time.time():  # (as PyJWT judges it, with no leeway)
        raise Unauthenticated("the token has expired")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    """A token's principal and expiry once its signature and claims check out. A client sends
    the same token with every request, and checking it again was 6 % of an API process's
    time under load; a token is only ever remembered as valid until its expiry, which
    ``verify`` checks on every use. A refused token is not remembered (it is checked again)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        principal = Principal(
            user=UUID(hex=claims["sub"]), role=Role(claims["role"]), unit=UUID(hex=claims["unit"])
        )
        return principal, float(claims["exp"])
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired") from None
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise Unauthenticated("the token is not valid") from None


def utcnow() -> datetime:
    return datetime.now(UTC)
