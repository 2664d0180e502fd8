"""Plain views of the ledger's records for people: names instead of ids, one redaction rule.

Both entrypoints (CLI and HTTP) present cases through this module, so what a reader may see is
decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.case import Case
from domain.errors import NotFound
from domain.values import MatterKind
from ledger.application import Ledger, RecordedEvent

INFORMANT_WITHHELD = "（举报人身份保密）"
"""What stands in place of an informant's identity (条例 Art 30, 46)."""
PETITIONER = "信访人"


@dataclass
class Names:
    """Looks up and remembers the names of units and people."""

    ledger: Ledger
    _cache: dict[UUID, str] = field(default_factory=dict)

    def __call__(self, entry_id: UUID | None) -> str | None:
        if entry_id is None:
            return None
        if entry_id not in self._cache:
            self._cache[entry_id] = self._lookup(entry_id)
        return self._cache[entry_id]

    def _lookup(self, entry_id: UUID) -> str:
        for getter in (self.ledger.get_unit, self.ledger.get_person):
            try:
                return getter(entry_id).name
            except NotFound:
                continue
        return str(entry_id)  # a petitioner, or an actor outside the directory


def redact_petitioners(
    petitioners: list[dict[str, Any]], *, is_report: bool
) -> list[dict[str, Any]]:
    """An informant's identity never leaves the ledger through an ordinary view."""
    if not is_report:
        return [dict(p) for p in petitioners]
    return [{"petitioner_id": None, "name": INFORMANT_WITHHELD} for _ in petitioners]


def case_view(
    ledger: Ledger, case: Case, names: Names | None = None, *, reveal: bool = False
) -> dict[str, Any]:
    """What the record says about a case now (or at the version/instant it was loaded at).
    An informant's identity is withheld unless ``reveal`` (the caller checked clearance and
    records the disclosure)."""
    names = names or Names(ledger)
    registered = ledger.history(case.id)[0]
    is_report = case.matter_kind == MatterKind.REPORT and not reveal
    return {
        "id": str(case.id),
        "case_number": case.case_number,
        "version": case.version,
        "last_recorded_at": case.modified_on,
        "stage": case.stage.value,
        "matter_kind": case.matter_kind,
        "channel": case.channel,
        "category": case.category,
        "summary": case.summary,
        "received_at": case.received_at,
        "registered_at": case.registered_at,
        "registering_office": names(case.registering_office),
        "holder_unit": names(case.holder_unit),
        "handler": names(case.handler),
        "leader_in_charge": names(case.leader),
        "petitioner_kind": case.petitioner_kind,
        "headcount": case.headcount,
        "petitioners": redact_petitioners(
            [ledger.personal.open(p) for p in registered.data["petitioners"]], is_report=is_report
        ),
        "concerned_unit": names(case.concerned_unit),
        "open_supervision_notices": sorted(case.open_supervisions),
        "appeals": [dict(a) for a in case.appeals],
        "extension_pending": case.extension_pending,
        "clock_paused_for": case.paused_for,
        "merged_into": str(case.merged_into) if case.merged_into else None,
        "corrections": case.correction_count,
    }


def event_view(
    event: RecordedEvent, names: Names, *, is_report: bool, petitioner_ids: set[UUID]
) -> dict[str, Any]:
    """One recorded fact. A petitioner appears as 信访人, never by id: an id would link an
    informant's report to their other cases."""
    data = dict(event.data)
    if "petitioners" in data:
        data["petitioners"] = redact_petitioners(data["petitioners"], is_report=is_report)
    if "petitioner_ids" in data and is_report:
        data["petitioner_ids"] = [INFORMANT_WITHHELD] * len(data["petitioner_ids"])

    def who(person: UUID | None) -> str | None:
        return PETITIONER if person in petitioner_ids else names(person)

    return {
        "version": event.version,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": who(event.actor),
        "actor_unit": names(event.actor_unit),
        "on_behalf_of": who(event.on_behalf_of),
        "command_id": event.command_id,
        "data": {k: plain(v, names) for k, v in data.items()},
    }


def history_view(
    ledger: Ledger, case_id: UUID, names: Names | None = None, *, reveal: bool = False
) -> list[dict[str, Any]]:
    names = names or Names(ledger)
    history = ledger.history(case_id)
    for event in history:
        if "petitioners" in event.data:
            event.data["petitioners"] = [ledger.personal.open(p) for p in event.data["petitioners"]]
    registered = history[0].data
    is_report = registered["matter_kind"] == MatterKind.REPORT and not reveal
    petitioner_ids = {p["petitioner_id"] for p in registered["petitioners"]}
    return [
        event_view(e, names, is_report=is_report, petitioner_ids=petitioner_ids) for e in history
    ]


_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def plain(value: Any, names: Names | None = None) -> Any:
    """JSON-friendly: ids become names where the directory knows them, times ISO strings."""
    kind = type(value)
    if kind in _AS_THEY_ARE:  # most values: checked first (a statistics page has 25,000)
        return value
    if kind is dict:
        return {k: plain(v, names if k != "petitioner_id" else None) for k, v in value.items()}
    if isinstance(value, UUID):
        return names(value) if names else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)  # rates and days are rounded already; JSON wants a number
    if isinstance(value, dict):
        return {k: plain(v, names if k != "petitioner_id" else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, names) for v in value]
    return value


def instant_from_text(text: str, zone: ZoneInfo) -> datetime:
    """An instant from ISO text. A bare date means the end of that day in the ledger's zone
    (as the record stood when the day was over); a time without an offset is local time.
    Raises ValueError naming the text."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(
                microseconds=1
            )
        instant = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not an ISO date (2025-03-31) or date-time") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=zone)
