"""Bearer tokens: a token checked once is remembered, but only as valid until it expires; a
forged one is refused every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from api import security
from api.security import Role, Unauthenticated, issue, verify

SECRET = "s" * 40


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    user, unit = uuid4(), uuid4()
    now = datetime.now(UTC)
    token = issue(SECRET, user=user, role=Role.HANDLER, unit=unit, now=now, ttl=timedelta(hours=1))
    assert verify(SECRET, token).user == user
    assert verify(SECRET, token).unit == unit  # (remembered)
    later = (now + timedelta(hours=1, seconds=1)).timestamp()
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        verify(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused_every_time() -> None:
    token = issue("x" * 40, user=uuid4(), role=Role.ADMIN, unit=uuid4(), now=datetime.now(UTC))
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="not valid"):
            verify(SECRET, token)


def test_a_token_already_expired_is_refused() -> None:
    token = issue(
        SECRET,
        user=uuid4(),
        role=Role.ADMIN,
        unit=uuid4(),
        now=datetime.now(UTC) - timedelta(days=2),
        ttl=timedelta(days=1),
    )
    with pytest.raises(Unauthenticated, match="expired"):
        verify(SECRET, token)
