"""A judgment as read-model rows, and the directory as rows: one place that knows the mapping."""

from __future__ import annotations

import json
from datetime import datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from domain.rulebook import RuleSet
from projections import schema
from projections.directory import Directory
from projections.judge import Judgment
from projections.periods import period_labels


def _columns(table: sa.Table, names: tuple[str, ...]) -> tuple[str, ...]:
    """The column order rows are built in; it must be the table's (checked at import, so a
    column added to one and not the other fails at once instead of shifting values)."""
    if names != tuple(c.name for c in table.columns):
        raise RuntimeError(f"rows for {table.name} are not built in its column order")
    return names


# rm_cases: summary values copied as they are, in runs between the instants (which are
# stored as seconds).
_PLAIN = (
    "case_number",
    "registering_office",
    "matter_kind",
    "channel",
    "category",
    "petitioner_kind",
    "headcount",
    "concerned_unit",
)
_HELD = ("registered_position", "stage", "holder_unit", "handler", "leader", "clock", "deadline")
_FLAGS = (
    "unknown_year",
    "excluded",
    "collective",
    "confidential",
    "skip_level",
    "first_contact_settled",
    "transfers",
    "reopened",
    "appeals",
)
_OUTCOME = ("replied_by", "reply_outcome", "rating")
_CLOSING = (
    "last_appeal_decision",
    "competent_unit",
    "merged_into",
    "received_period",
    "registered_period",
    "accepted_period",
    "replied_period",
    "closed_period",
)
_columns(
    schema.cases,
    (
        "view_set",
        "case_id",
        *_PLAIN,
        "received_s",
        "registered_s",
        "registered_recorded_s",
        *_HELD,
        "deadline_end_s",
        *_FLAGS,
        "accepted_s",
        "accepted_by",
        "replied_s",
        *_OUTCOME,
        "closed_s",
        *_CLOSING,
    ),
)
_columns(
    schema.case_petitioners,
    ("view_set", "case_id", "petitioner_id", "category", "received_s", "closed_s"),
)
_columns(
    schema.custody,
    (
        "view_set",
        "case_id",
        "seq",
        "holder_unit",
        "handler",
        "leader",
        "stage",
        "start_s",
        "end_s",
        "clock",
        "deadline",
        "deadline_end_s",
        "unknown_year",
        "excluded",
        "extension_days",
        "pause_days",
    ),
)
_columns(
    schema.clock_runs,
    (
        "view_set",
        "case_id",
        "seq",
        "clock",
        "notice_no",
        "held_by",
        "unit",
        "accrues_overdue",
        "started_s",
        "stopped_s",
        "ended_by",
        "cancelled",
        "deadline",
        "deadline_end_s",
        "unknown_year",
        "extension_days",
        "pause_days",
        "late",
        "started_period",
        "stopped_period",
        "deadline_period",
    ),
)
_columns(
    schema.patterns,
    ("view_set", "case_id", "seq", "kind", "unit", "person", "at_s", "detail"),
)
_columns(
    schema.delay_parts,
    ("view_set", "case_id", "kind", "party", "stage", "overdue_s", "ended_s"),
)
_columns(
    schema.delay_cases,
    ("view_set", "case_id", "kind", "party", "overdue_s", "ended_s", "settled", "case_number"),
)
_plain, _held, _flags = itemgetter(*_PLAIN), itemgetter(*_HELD), itemgetter(*_FLAGS)
_outcome, _closing = itemgetter(*_OUTCOME), itemgetter(*_CLOSING)

Row = tuple[Any, ...]


def case_rows(view_set: str, judgment: Judgment, rules: RuleSet) -> dict[str, list[Row]]:
    """Rows of every case table for one judged case, each a tuple in its table's column
    order (a rebuild writes millions: no per-row dicts)."""
    s = judgment.summary
    cid = judgment.case_id
    labels = period_labels(rules.rulebook.definitions.period)
    local_day = judgment.local_day

    # A case's instants recur (an interval's end is the next one's start, a fact starts
    # several clocks): each is converted once.
    stamps: dict[datetime, float] = {}

    def seconds(instant: datetime | None) -> float | None:
        if instant is None:
            return None
        found = stamps.get(instant)
        if found is None:
            found = stamps[instant] = instant.timestamp()
        return found

    def period_of(instant: datetime | None) -> str | None:
        return None if instant is None else labels[local_day(instant)]

    received_s = seconds(s["received_at"])
    closed_s = seconds(s["closed_at"])
    case = (
        view_set,
        cid,
        *_plain(s),
        received_s,
        seconds(s["registered_at"]),
        seconds(s["registered_recorded_at"]),
        *_held(s),
        seconds(s["deadline_end"]),
        *_flags(s),
        seconds(s["accepted_at"]),
        s["accepted_by"],
        seconds(s["replied_at"]),
        *_outcome(s),
        closed_s,
        *_closing(s),
    )
    category = s["category"]
    return {
        "rm_cases": [case],
        "rm_case_petitioners": [
            (view_set, cid, p, category, received_s, closed_s)
            for p in dict.fromkeys(judgment.petitioners)
        ],
        "rm_custody": [
            (
                view_set,
                cid,
                i.seq,
                i.holder_unit,
                i.handler,
                i.leader,
                i.stage,
                seconds(i.start),
                seconds(i.end),
                i.clock,
                i.deadline,
                seconds(i.deadline_end),
                i.unknown_year,
                i.excluded,
                i.extension_days,
                i.pause_days,
            )
            for i in judgment.intervals
        ],
        "rm_clock_runs": [
            (
                view_set,
                cid,
                n,
                r.clock,
                r.key,
                r.held_by,
                r.unit,
                r.accrues_overdue,
                seconds(r.started_at),
                seconds(r.stopped_at),
                r.ended_by,
                r.cancelled,
                r.deadline,
                seconds(r.deadline_end),
                r.unknown_year,
                r.extension_days,
                r.pause_days,
                r.late,
                period_of(r.started_at),
                period_of(r.stopped_at),
                None if r.deadline is None else labels[r.deadline],
            )
            for n, r in enumerate(judgment.runs)
        ],
        "rm_patterns": [
            (
                view_set,
                cid,
                n,
                p.kind,
                p.unit,
                p.person,
                seconds(p.at),
                json.dumps(p.detail, ensure_ascii=False, sort_keys=True),
            )
            for n, p in enumerate(judgment.patterns)
        ],
        **settled_delay(view_set, judgment),
    }


def settled_delay(view_set: str, judgment: Judgment) -> dict[str, list[Row]]:
    """The delay board's rows of a case: the overdue time of its *closed* custody intervals
    (and stopped 督办 notice runs, against the supervised unit), which no longer depends on
    "now", per party kind, party and stage where there is any (``rm_delay_parts``) and per
    party (``rm_delay_cases``, every party the case was held by, marked ``settled`` when
    nothing of the case is still open). Each
    interval's overdue part is what ``queries.overdue_expr`` gives at any instant after its
    end; the board adds the open ones at its instant."""
    parts: dict[tuple[str, str | None, str], float] = {}
    ends: list[float] = []
    settled = True
    for i in judgment.intervals:
        if i.end is None:
            settled = False
            continue
        end = i.end.timestamp()
        ends.append(end)
        overdue = 0.0
        if i.excluded is None and i.deadline_end is not None:
            overdue = max(end - max(i.start.timestamp(), i.deadline_end.timestamp()), 0.0)
        stage = i.clock if i.clock is not None else i.stage
        for kind, holder in (("unit", i.holder_unit), ("person", i.handler), ("leader", i.leader)):
            if holder is not None:
                parts[kind, holder, stage] = parts.get((kind, holder, stage), 0.0) + overdue
    for r in judgment.runs:
        if r.held_by != "supervised_unit":
            continue
        if r.stopped_at is None:
            settled = False
            continue
        end = r.stopped_at.timestamp()
        ends.append(end)
        overdue = 0.0
        if r.deadline_end is not None and not r.cancelled:
            overdue = max(end - r.deadline_end.timestamp(), 0.0)
        parts["unit", r.unit, r.clock] = parts.get(("unit", r.unit, r.clock), 0.0) + overdue
    if not parts:
        return {"rm_delay_parts": [], "rm_delay_cases": []}
    ended = max(ends)
    cid, number = judgment.case_id, judgment.summary["case_number"]
    per_party: dict[tuple[str, str | None], float] = {}
    for (kind, party, _), overdue in parts.items():
        per_party[kind, party] = per_party.get((kind, party), 0.0) + overdue
    return {
        # (a part with no overdue time adds nothing the case's row per party does not say)
        "rm_delay_parts": [
            (view_set, cid, kind, party, stage, overdue, ended)
            for (kind, party, stage), overdue in parts.items()
            if overdue > 0
        ],
        "rm_delay_cases": [
            (view_set, cid, kind, party, overdue, ended, settled, number)
            for (kind, party), overdue in per_party.items()
        ],
    }


def directory_rows(view_set: str, directory: Directory) -> dict[str, list[dict[str, Any]]]:
    return {
        "rm_units": [
            {
                "view_set": view_set,
                "unit_id": uid,
                "name": u["name"],
                "code": u["code"],
                "kind": u["kind"],
                "parent": u["parent"],
                "merged_into": u["merged_into"],
            }
            for uid, u in directory.units.items()
        ],
        "rm_people": [
            {"view_set": view_set, "person_id": pid, "name": p["name"]}
            for pid, p in directory.people.items()
        ],
        "rm_memberships": [
            {"view_set": view_set, "person_id": pid, "unit_id": unit, "role": role}
            for pid, p in directory.people.items()
            for unit, role in p["roles"].items()
        ],
    }
