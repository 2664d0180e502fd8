"""Readable case numbers (e.g. XF-2025-00123): one gap-free sequence per office and year.

A 台账 with a missing number looks like a deleted case, so numbers are issued by an
aggregate saved in the same transaction as the case it numbers: a registration that fails
leaves no gap, and two clerks registering at once cannot get the same number.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

NUMBER_WIDTH = 5


class CaseNumbering(Aggregate):
    """The sequence of numbers one office has issued in one year."""

    class Started(Aggregate.Created):
        office: UUID
        prefix: str
        year: int

    class Issued(Aggregate.Event):
        serial: int
        case_id: UUID

        def apply(self, numbering: CaseNumbering) -> None:
            numbering.last_serial = self.serial

    def __init__(self, office: UUID, prefix: str, year: int) -> None:
        self.office = office
        self.prefix = prefix
        self.year = year
        self.last_serial = 0

    @staticmethod
    def id_for(prefix: str, year: int) -> UUID:
        """Keyed by the office's code, so a number alone finds its sequence (and its case)."""
        return uuid5(NAMESPACE_URL, f"petition-ledger:case-numbering:{prefix}:{year}")

    @staticmethod
    def version_of(serial: int) -> int:
        """The version of the ``Issued`` event of a serial (version 1 is ``Started``)."""
        return serial + 1

    @classmethod
    def start(cls, office: UUID, prefix: str, year: int, *, at: datetime) -> CaseNumbering:
        return cls._create(
            cls.Started,
            id=cls.id_for(prefix, year),
            timestamp=at,
            office=office,
            prefix=prefix,
            year=year,
        )

    def issue(self, case_id: UUID, *, at: datetime) -> str:
        """Issue the next number to a case, e.g. ``XF-2025-00123``."""
        serial = self.last_serial + 1
        self.trigger_event(self.Issued, timestamp=at, serial=serial, case_id=case_id)
        return f"{self.prefix}-{self.year}-{serial:0{NUMBER_WIDTH}d}"
