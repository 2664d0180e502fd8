"""Who brought the matter: a named person, an anonymous one, or a group with representatives.

Petitioners are kept in events as plain dictionaries (JSON), so that the personal fields can
later be encrypted or erased without changing the shape of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import InvalidInput
from domain.values import PetitionerKind

MAX_REPRESENTATIVES = 5
"""多人采用走访形式提出信访事项的，应当推选代表，代表人数不超过5人 (条例 Art 18)."""

PERSONAL_FIELDS = ("name", "id_number", "phone", "address")
MAX_FIELD_LENGTH = 200
SEALED_PREFIX = "enc1:"
MAX_SEALED_LENGTH = 1200
"""Personal fields are stored encrypted (``enc1:…``, see ledger/personal.py); a sealed value
of a field of at most MAX_FIELD_LENGTH characters is at most this long."""


@dataclass(frozen=True)
class Petitioner:
    """One person who brought the matter. Anonymous petitioners have only an id."""

    petitioner_id: UUID
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.petitioner_id, UUID):
            raise InvalidInput(f"petitioner_id: expected an id, got {self.petitioner_id!r}")
        for field in PERSONAL_FIELDS:
            value = getattr(self, field)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"petitioner {field}: must be a non-empty string or absent")
            limit = MAX_SEALED_LENGTH if value.startswith(SEALED_PREFIX) else MAX_FIELD_LENGTH
            if len(value) > limit:
                raise InvalidInput(f"petitioner {field}: longer than {MAX_FIELD_LENGTH}")

    def as_record(self) -> dict[str, Any]:
        return {"petitioner_id": self.petitioner_id} | {
            f: getattr(self, f) for f in PERSONAL_FIELDS if getattr(self, f) is not None
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Petitioner:
        return cls(**{k: v for k, v in record.items() if k in ("petitioner_id", *PERSONAL_FIELDS)})


def validate_petitioners(
    kind: PetitionerKind, petitioners: list[Petitioner], headcount: int
) -> None:
    """The shape each kind of petition must have; raises InvalidInput naming what is wrong."""
    if not isinstance(headcount, int) or isinstance(headcount, bool) or headcount < 1:
        raise InvalidInput(f"headcount: must be a whole number of at least 1, got {headcount!r}")
    if not petitioners:
        raise InvalidInput("petitioners: at least one petitioner (or representative) is required")
    ids = [p.petitioner_id for p in petitioners]
    if len(set(ids)) != len(ids):
        raise InvalidInput("petitioners: the same petitioner is listed twice")
    if kind is PetitionerKind.ANONYMOUS:
        if len(petitioners) != 1 or any(
            getattr(petitioners[0], f) is not None for f in PERSONAL_FIELDS
        ):
            raise InvalidInput("petitioners: an anonymous petition has one petitioner and no name")
        if headcount != 1:
            raise InvalidInput("headcount: an anonymous petition has a headcount of 1")
    elif kind is PetitionerKind.NAMED:
        if any(p.name is None for p in petitioners):
            raise InvalidInput("petitioners: a named petition needs every petitioner's name")
        if headcount != len(petitioners):
            raise InvalidInput(
                "headcount: a named petition counts its petitioners; "
                "use a group petition for a crowd with representatives"
            )
        if len(petitioners) > MAX_REPRESENTATIVES:
            raise InvalidInput(
                f"petitioners: more than {MAX_REPRESENTATIVES} named co-petitioners; "
                "register it as a group petition with representatives"
            )
    else:
        if len(petitioners) > MAX_REPRESENTATIVES:
            raise InvalidInput(
                f"petitioners: a group chooses at most {MAX_REPRESENTATIVES} representatives, "
                f"got {len(petitioners)}"
            )
        if any(p.name is None for p in petitioners):
            raise InvalidInput("petitioners: every representative of a group must be named")
        if headcount < len(petitioners):
            raise InvalidInput(
                f"headcount: {headcount} is fewer than the {len(petitioners)} representatives"
            )
