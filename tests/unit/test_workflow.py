"""The process table, tested from the outside: at every stage, every action the table does not
allow is refused by the aggregate, and every action it allows gets past the stage check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.case import Case
from domain.errors import ProcessRuleViolation
from domain.petitioners import Petitioner
from domain.provenance import Provenance
from domain.workflow import ALLOWED_STAGES, Stage

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
OFFICE, UNIT, REVIEWER, REREVIEWER, SUPERVISOR = (uuid4() for _ in range(5))
CLERK, HANDLER, LEADER = (uuid4() for _ in range(3))
PETITIONER = Petitioner(uuid4(), name="张秀英")
_n = 0


def by(unit: UUID | None, person: UUID = CLERK, days: int = 1) -> Provenance:
    global _n
    _n += 1
    at = T0 + timedelta(days=days)
    return Provenance(
        actor=person, actor_unit=unit, occurred_at=at, recorded_at=at, command_id=f"c{_n}"
    )


def petitioner() -> Provenance:
    return by(None, PETITIONER.petitioner_id)


def registered() -> Case:
    return Case.register(
        by(OFFICE, days=0),
        case_id=uuid4(),
        case_number="XF-2025-00001",
        channel="来信",
        received_at=T0,
        matter_kind="申诉求决",
        category="住房",
        summary="漏水",
        petitioner_kind="实名",
        petitioners=[PETITIONER],
        headcount=1,
    )


def reply(case: Case) -> None:
    case.reply(by(UNIT), outcome="支持", text="已处理", delivered_at=T0 + timedelta(days=2))


STEPS: dict[Stage, list[Callable[[Case], Any]]] = {
    Stage.REGISTERED: [],
    Stage.ROUTED: [lambda c: c.route(by(OFFICE), to_unit=UNIT)],
    Stage.OBJECTED: [
        lambda c: c.route(by(OFFICE), to_unit=UNIT),
        lambda c: c.object_jurisdiction(by(UNIT), reason="非本单位职责"),
    ],
    Stage.ACCEPTED: [lambda c: c.route(by(OFFICE), to_unit=UNIT), lambda c: c.accept(by(UNIT))],
    Stage.REFUSED: [
        lambda c: c.route(by(OFFICE), to_unit=UNIT),
        lambda c: c.refuse(by(UNIT), reason="r"),
    ],
}
STEPS[Stage.REPLIED] = [*STEPS[Stage.ACCEPTED], reply]
STEPS[Stage.IN_REVIEW] = [
    *STEPS[Stage.REPLIED],
    lambda c: c.file_appeal(petitioner(), level="复查", to_unit=REVIEWER, reason="r"),
]
STEPS[Stage.REVIEWED] = [
    *STEPS[Stage.IN_REVIEW],
    lambda c: c.decide_appeal(
        by(REVIEWER), decision="维持", text="t", delivered_at=T0 + timedelta(days=3)
    ),
]
STEPS[Stage.IN_REREVIEW] = [
    *STEPS[Stage.REVIEWED],
    lambda c: c.file_appeal(petitioner(), level="复核", to_unit=REREVIEWER, reason="r"),
]
STEPS[Stage.FINAL] = [
    *STEPS[Stage.IN_REREVIEW],
    lambda c: c.decide_appeal(
        by(REREVIEWER), decision="维持", text="t", delivered_at=T0 + timedelta(days=4)
    ),
]
STEPS[Stage.CLOSED] = [*STEPS[Stage.REPLIED], lambda c: c.close(by(UNIT))]
STEPS[Stage.MERGED] = [lambda c: c.merge_into(by(OFFICE), target_case=uuid4())]
STEPS[Stage.WITHDRAWN] = [lambda c: c.withdraw(petitioner(), reason="r")]


def case_at(stage: Stage) -> Case:
    case = registered()
    for step in STEPS[stage]:
        step(case)
    assert case.stage is stage
    return case


# One plausible call per action, made by the unit holding the case (or the petitioner).
def attempt(case: Case, action: str) -> None:
    holder = case.holder_unit
    calls: dict[str, Callable[[], Any]] = {
        "route": lambda: case.route(by(holder), to_unit=uuid4()),
        "object_jurisdiction": lambda: case.object_jurisdiction(by(holder), reason="r"),
        "decide_objection": lambda: case.decide_objection(by(case.routed_by), agreed=False),
        "accept": lambda: case.accept(by(holder)),
        "refuse": lambda: case.refuse(by(holder), reason="r"),
        "assign_handler": lambda: case.assign_handler(by(holder), handler=HANDLER),
        "assign_lead": lambda: case.assign_lead(by(holder), leader=LEADER),
        "release_lead": lambda: case.release_lead(by(holder)),
        "request_extension": lambda: case.request_extension(by(holder), days=10, reason="r"),
        "decide_extension": lambda: case.decide_extension(
            by(holder), decision="批准", approver=LEADER, days_granted=10
        ),
        "pause_clock": lambda: case.pause_clock(by(holder), reason="听证"),
        "resume_clock": lambda: case.resume_clock(by(holder)),
        "issue_supervision": lambda: case.issue_supervision(
            by(SUPERVISOR), level="市级", deadline=date(2025, 4, 1), instructions="i"
        ),
        "answer_supervision": lambda: case.answer_supervision(by(holder), notice_no=1, answer="a"),
        "reply": lambda: reply(case),
        "rate": lambda: case.rate(petitioner(), rating="满意"),
        "file_appeal": lambda: case.file_appeal(
            petitioner(), level="复查", to_unit=uuid4(), reason="r"
        ),
        "decide_appeal": lambda: case.decide_appeal(
            by(holder), decision="维持", text="t", delivered_at=T0 + timedelta(days=5)
        ),
        "close": lambda: case.close(by(holder)),
        "reopen": lambda: case.reopen(by(OFFICE), reason="r"),
        "merge_into": lambda: case.merge_into(by(OFFICE), target_case=uuid4()),
        "withdraw": lambda: case.withdraw(petitioner(), reason="r"),
        "correct": lambda: case.correct(
            by(OFFICE), corrects_version=1, field="category", new_value="物业", reason="r"
        ),
    }
    assert set(calls) == set(ALLOWED_STAGES), "every action of the table has a call here"
    calls[action]()


NOT_ALLOWED = [
    (stage, action)
    for action, stages in ALLOWED_STAGES.items()
    for stage in Stage
    if stage not in stages
]


@pytest.mark.parametrize(("stage", "action"), NOT_ALLOWED)
def test_an_action_the_process_does_not_allow_at_a_stage_is_refused(
    stage: Stage, action: str
) -> None:
    case = case_at(stage)
    version = case.version
    with pytest.raises(ProcessRuleViolation):
        attempt(case, action)
    assert case.version == version and len(case.pending_events) == len(STEPS[stage]) + 1


# Actions that need a prior fact (a pending request, a paused clock, a notice, a leader) are
# refused for that reason, not the stage's; the table's promise is about the stage alone.
NEEDS_A_PRIOR_FACT = {
    "decide_extension",
    "resume_clock",
    "answer_supervision",
    "release_lead",
    "decide_objection",
    "rate",
    "file_appeal",
}


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        (stage, action)
        for action, stages in ALLOWED_STAGES.items()
        for stage in sorted(stages)
        if action not in NEEDS_A_PRIOR_FACT
    ],
)
def test_an_action_the_process_allows_is_recorded(stage: Stage, action: str) -> None:
    case = case_at(stage)
    version = case.version
    attempt(case, action)
    assert case.version == version + 1
