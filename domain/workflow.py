"""Which action is possible at which stage of a case: the process as data, checked in one place.

A stage is derived state, never stored in an event. The table says what the *process*
allows; it says nothing about deadlines, because a late action must always be recordable.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    REGISTERED = "已登记"  # held by the registering office, awaiting routing
    ROUTED = "已转送"  # with the receiving unit, awaiting acceptance (受理) or refusal
    OBJECTED = "管辖异议"  # the receiving unit said "not ours"; the sender decides
    ACCEPTED = "办理中"  # accepted (受理): the handling clock runs
    REFUSED = "不予受理"
    REPLIED = "已答复"
    IN_REVIEW = "复查中"
    REVIEWED = "已复查"
    IN_REREVIEW = "复核中"
    FINAL = "已复核"  # the 复核 decision is final: 不再受理
    CLOSED = "已办结"
    MERGED = "已合并"
    WITHDRAWN = "已撤回"


INACTIVE = frozenset({Stage.CLOSED, Stage.MERGED, Stage.WITHDRAWN})
ACTIVE = frozenset(Stage) - INACTIVE
HELD = frozenset(
    {
        Stage.REGISTERED,
        Stage.ROUTED,
        Stage.OBJECTED,
        Stage.ACCEPTED,
        Stage.IN_REVIEW,
        Stage.IN_REREVIEW,
    }
)
"""Stages in which some unit holds the case and a clock may run against it."""

ALLOWED_STAGES: dict[str, frozenset[Stage]] = {
    "route": frozenset({Stage.REGISTERED, Stage.ROUTED, Stage.ACCEPTED}),
    "object_jurisdiction": frozenset({Stage.ROUTED}),
    "decide_objection": frozenset({Stage.OBJECTED}),
    "accept": frozenset({Stage.REGISTERED, Stage.ROUTED}),
    "refuse": frozenset({Stage.REGISTERED, Stage.ROUTED}),
    "assign_handler": HELD,
    "assign_lead": ACTIVE,
    "release_lead": ACTIVE,
    "request_extension": frozenset({Stage.ACCEPTED}),
    "decide_extension": frozenset({Stage.ACCEPTED}),
    "pause_clock": frozenset({Stage.ACCEPTED, Stage.IN_REVIEW, Stage.IN_REREVIEW}),
    "resume_clock": frozenset({Stage.ACCEPTED, Stage.IN_REVIEW, Stage.IN_REREVIEW}),
    "issue_supervision": HELD,
    "answer_supervision": ACTIVE,
    "reply": frozenset({Stage.ACCEPTED}),
    "rate": frozenset(
        {Stage.REPLIED, Stage.IN_REVIEW, Stage.REVIEWED, Stage.IN_REREVIEW, Stage.FINAL}
    ),
    "file_appeal": frozenset({Stage.REPLIED, Stage.REVIEWED}),
    "decide_appeal": frozenset({Stage.IN_REVIEW, Stage.IN_REREVIEW}),
    "close": frozenset({Stage.REFUSED, Stage.REPLIED, Stage.REVIEWED, Stage.FINAL}),
    "reopen": INACTIVE,
    "merge_into": ACTIVE,
    "withdraw": ACTIVE,
    "correct": frozenset(Stage),
}

ACTION_NAMES: dict[str, str] = {
    "route": "route (转送/交办)",
    "object_jurisdiction": "object to jurisdiction (管辖异议)",
    "decide_objection": "decide a jurisdiction objection",
    "accept": "accept (受理)",
    "refuse": "refuse (不予受理)",
    "assign_handler": "assign a handler",
    "assign_lead": "assign a leader in charge (领导包案)",
    "release_lead": "release the leader in charge",
    "request_extension": "request an extension (延期)",
    "decide_extension": "decide an extension",
    "pause_clock": "pause the clock (中止)",
    "resume_clock": "resume the clock",
    "issue_supervision": "issue supervision (督办)",
    "answer_supervision": "answer supervision",
    "reply": "reply (答复)",
    "rate": "rate the reply (满意度评价)",
    "file_appeal": "file an appeal (复查/复核)",
    "decide_appeal": "decide an appeal",
    "close": "close (办结)",
    "reopen": "reopen",
    "merge_into": "merge into another case",
    "withdraw": "withdraw (撤回)",
    "correct": "correct a recorded fact",
}
