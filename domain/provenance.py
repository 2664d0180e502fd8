"""Who did a thing, for whom, and when: the facts every event carries.

``occurred_at`` is when it happened in the world, supplied by the command; ``recorded_at`` is
when the ledger wrote it down, supplied by the application's clock. The domain never reads a
clock: both arrive with the command, and the gap between them is itself evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import InvalidInput, TimeOutOfOrder

MAX_ID_LENGTH = 200

STORED_PROVENANCE = (
    "timestamp",
    "originator_topic",
    "occurred_at",
    "actor",
    "actor_unit",
    "on_behalf_of",
    "command_id",
    "correlation_id",
    "causation_id",
)
"""The stored keys every event has besides its own fields (the library's and ours)."""


def require_aware(value: datetime, field: str) -> datetime:
    """Instants are kept in UTC; a naive datetime is ambiguous and refused."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field}: expected a date and time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field}: {value.isoformat()} has no time zone")
    require_plausible_year(value.year, field)
    return value


EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def require_plausible_year(year: int, field: str) -> None:
    """A ledger of case work has no facts before 1900 or after 2999; such a date is a typo, and
    one the day arithmetic downstream could not even represent."""
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InvalidInput(f"{field}: year {year} is outside {EARLIEST_YEAR}–{LATEST_YEAR}")


@dataclass(frozen=True)
class Provenance:
    """The who/when/why-of-retry part of a command, copied onto the event it produces.

    - ``actor``: the person who acted (a directory person, or a petitioner acting for
      themselves).
    - ``actor_unit``: the unit the actor acted for; ``None`` for a petitioner.
    - ``on_behalf_of``: the person the actor acted for, e.g. a clerk signing for a leader.
    - ``command_id``: the client's id for this command; a retry with the same id is the
      same command and writes nothing more.
    - ``correlation_id`` / ``causation_id``: tie a command to the conversation and to the
      message that caused it.
    """

    actor: UUID
    actor_unit: UUID | None
    occurred_at: datetime
    recorded_at: datetime
    command_id: str
    on_behalf_of: UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("actor",):
            if not isinstance(getattr(self, name), UUID):
                raise InvalidInput(f"{name}: expected an id, got {getattr(self, name)!r}")
        for name in ("actor_unit", "on_behalf_of"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, UUID):
                raise InvalidInput(f"{name}: expected an id, got {value!r}")
        require_aware(self.occurred_at, "occurred_at")
        require_aware(self.recorded_at, "recorded_at")
        if not isinstance(self.command_id, str) or not self.command_id.strip():
            raise InvalidInput("command_id: must be a non-empty string")
        for name in ("command_id", "correlation_id", "causation_id"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_ID_LENGTH:
                raise InvalidInput(f"{name}: longer than {MAX_ID_LENGTH} characters")
        if self.occurred_at > self.recorded_at:
            raise TimeOutOfOrder(
                f"occurred_at {self.occurred_at.isoformat()} is in the future "
                f"(the ledger's time is {self.recorded_at.isoformat()})"
            )

    def event_fields(self) -> dict[str, Any]:
        """The keyword arguments every ledger event takes (``timestamp`` is recorded_at)."""
        return {
            "timestamp": self.recorded_at,
            "actor": self.actor,
            "actor_unit": self.actor_unit,
            "on_behalf_of": self.on_behalf_of,
            "occurred_at": self.occurred_at,
            "command_id": self.command_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


@dataclass(frozen=True)
class EventProvenance:
    """Dataclass base that makes the provenance fields fields of every stored event.

    ``recorded_at`` is the library's ``timestamp``: the instant the ledger wrote the event.
    """

    actor: UUID
    actor_unit: UUID | None
    on_behalf_of: UUID | None
    occurred_at: datetime
    command_id: str
    correlation_id: str | None
    causation_id: str | None

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp  # type: ignore[attr-defined, no-any-return]
