"""A judgment as read-model rows, and the directory as rows: one place that knows the mapping."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.rulebook import RuleSet
from projections.directory import Directory
from projections.judge import Judgment
from projections.periods import period_label


def seconds(instant: datetime | None) -> float | None:
    return instant.timestamp() if instant is not None else None


def case_rows(view_set: str, judgment: Judgment, rules: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """Rows of every case table for one judged case."""
    s = judgment.summary
    cid = judgment.case_id
    period = rules.rulebook.definitions.period
    tz = rules.rulebook.tz

    def period_of(instant: datetime | None) -> str | None:
        return None if instant is None else period_label(period, instant.astimezone(tz).date())

    case = {
        "view_set": view_set,
        "case_id": cid,
        **{
            k: s[k]
            for k in (
                "case_number",
                "registering_office",
                "matter_kind",
                "channel",
                "category",
                "petitioner_kind",
                "headcount",
                "concerned_unit",
                "registered_position",
                "stage",
                "holder_unit",
                "handler",
                "leader",
                "clock",
                "deadline",
                "unknown_year",
                "excluded",
                "collective",
                "confidential",
                "skip_level",
                "first_contact_settled",
                "transfers",
                "reopened",
                "appeals",
                "accepted_by",
                "replied_by",
                "reply_outcome",
                "rating",
                "last_appeal_decision",
                "competent_unit",
                "merged_into",
                "received_period",
                "registered_period",
                "accepted_period",
                "replied_period",
                "closed_period",
            )
        },
        "received_s": seconds(s["received_at"]),
        "registered_s": seconds(s["registered_at"]),
        "registered_recorded_s": seconds(s["registered_recorded_at"]),
        "deadline_end_s": seconds(s["deadline_end"]),
        "accepted_s": seconds(s["accepted_at"]),
        "replied_s": seconds(s["replied_at"]),
        "closed_s": seconds(s["closed_at"]),
    }
    return {
        "rm_cases": [case],
        "rm_case_petitioners": [
            {
                "view_set": view_set,
                "case_id": cid,
                "petitioner_id": p,
                "category": s["category"],
                "received_s": case["received_s"],
                "closed_s": case["closed_s"],
            }
            for p in dict.fromkeys(judgment.petitioners)
        ],
        "rm_custody": [
            {
                "view_set": view_set,
                "case_id": cid,
                "seq": i.seq,
                "holder_unit": i.holder_unit,
                "handler": i.handler,
                "leader": i.leader,
                "stage": i.stage,
                "start_s": seconds(i.start),
                "end_s": seconds(i.end),
                "clock": i.clock,
                "deadline": i.deadline,
                "deadline_end_s": seconds(i.deadline_end),
                "unknown_year": i.unknown_year,
                "excluded": i.excluded,
                "extension_days": i.extension_days,
                "pause_days": i.pause_days,
            }
            for i in judgment.intervals
        ],
        "rm_clock_runs": [
            {
                "view_set": view_set,
                "case_id": cid,
                "seq": n,
                "clock": r.clock,
                "notice_no": r.key,
                "held_by": r.held_by,
                "unit": r.unit,
                "accrues_overdue": r.accrues_overdue,
                "started_s": seconds(r.started_at),
                "stopped_s": seconds(r.stopped_at),
                "ended_by": r.ended_by,
                "cancelled": r.cancelled,
                "deadline": r.deadline,
                "deadline_end_s": seconds(r.deadline_end),
                "unknown_year": r.unknown_year,
                "extension_days": r.extension_days,
                "pause_days": r.pause_days,
                "late": r.late,
                "started_period": period_of(r.started_at),
                "stopped_period": period_of(r.stopped_at),
                "deadline_period": None if r.deadline is None else period_label(period, r.deadline),
            }
            for n, r in enumerate(judgment.runs)
        ],
        "rm_patterns": [
            {
                "view_set": view_set,
                "case_id": cid,
                "seq": n,
                "kind": p.kind,
                "unit": p.unit,
                "person": p.person,
                "at_s": seconds(p.at),
                "detail": json.dumps(p.detail, ensure_ascii=False, sort_keys=True),
            }
            for n, p in enumerate(judgment.patterns)
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
