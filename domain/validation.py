"""Checks of plain values at the domain's edge, each naming the field it refused."""

from __future__ import annotations

from uuid import UUID

from domain.errors import InvalidInput

MAX_TEXT = 20_000
MAX_SHORT_TEXT = 500
MAX_DAYS = 3650


def text(value: object, field: str, *, limit: int = MAX_TEXT, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: expected text, got {value!r}")
    if required and not value.strip():
        raise InvalidInput(f"{field}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters")
    return value


def an_id(value: object, field: str) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidInput(f"{field}: expected an id, got {value!r}")
    return value


def days(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise InvalidInput(
            f"{field}: expected a whole number of days from 1 to {MAX_DAYS}, got {value!r}"
        )
    return value
