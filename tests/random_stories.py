"""Random but valid case histories: a random walk over the process table.

Each step picks a case and one of the actions its stage allows, with plausible arguments and
an actor from the unit that would take it; the aggregate still decides, and a refusal (a typed
domain error) just means that step did not happen. Anything else is a bug and propagates.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.errors import DomainError
from domain.workflow import ALLOWED_STAGES
from ledger.application import Actor
from tests.conftest import Clock
from tests.world import World

RARE = {"correct": 0.1, "merge_into": 0.05, "withdraw": 0.05, "refuse": 0.15, "reopen": 0.3}
"""Actions that end or sidetrack a case are drawn less often, so histories get far."""


def people(w: World) -> dict[UUID, UUID]:
    return {
        w.office: w.clerk,
        w.housing: w.housing_handler,
        w.labour: w.labour_handler,
        w.city: w.city_reviewer,
        w.province: w.province_reviewer,
        w.supervision: w.supervisor,
    }


def write_random_history(
    w: World, clock: Clock, rng: random.Random, *, cases: int, steps: int
) -> None:
    staff = people(w)
    start = datetime(2025, 1, 6, 1, tzinfo=clock.now.tzinfo)
    case_ids: list[UUID] = []
    times: dict[UUID, datetime] = {}
    clock.now = start
    for _ in range(cases):
        received = start + timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))
        registered = received + timedelta(hours=rng.choice([1, 5, 30, 80]))
        clock.now = max(clock.now, registered + timedelta(minutes=rng.randint(1, 600)))
        over: dict[str, Any] = {}
        if rng.random() < 0.3:
            over = {
                "petitioner_kind": "集体",
                "headcount": rng.choice([3, 4, 5, 12]),
                "petitioners": [w.petitioner],
            }
        case_ids.append(
            w.register(received, registered_after=registered - received, **over).aggregate_id
        )
        times[case_ids[-1]] = registered
    units = list(staff)
    for _ in range(steps):
        cid = rng.choice(case_ids)
        case = w.ledger.get_case(cid)
        actions = [a for a, stages in ALLOWED_STAGES.items() if case.stage in stages]
        action = rng.choices(actions, weights=[RARE.get(a, 1.0) for a in actions])[0]
        at = times[cid] + timedelta(hours=rng.choice([1, 20, 200, 800, 1500]))
        clock.now = max(clock.now, at + timedelta(hours=rng.choice([0, 1, 100])))
        holder = case.holder_unit
        holder_actor = Actor(staff.get(holder, w.clerk), holder) if holder else w.at_office
        petitioner = Actor(w.petitioner.petitioner_id, None)
        choices: dict[str, tuple[Actor, dict[str, Any]]] = {
            "route": (holder_actor, {"to_unit": rng.choice(units)}),
            "object_jurisdiction": (holder_actor, {"reason": "非本单位职责"}),
            "decide_objection": (
                Actor(staff.get(case.routed_by, w.clerk), case.routed_by),
                {"agreed": rng.random() < 0.5},
            ),
            "accept": (holder_actor, {}),
            "refuse": (holder_actor, {"reason": "不属于信访事项"}),
            "assign_handler": (holder_actor, {"handler": staff.get(holder, w.clerk)}),
            "assign_lead": (Actor(w.leader, w.city), {"leader": w.leader}),
            "release_lead": (Actor(w.leader, w.city), {}),
            "request_extension": (holder_actor, {"days": rng.choice([10, 30, 45]), "reason": "r"}),
            "decide_extension": (
                holder_actor,
                rng.choice(
                    [
                        {
                            "decision": "批准",
                            "approver": w.housing_head,
                            "days_granted": rng.choice([10, 30, 45]),
                        },
                        {"decision": "不批准", "approver": w.housing_head},
                    ]
                ),
            ),
            "pause_clock": (holder_actor, {"reason": rng.choice(["听证", "鉴定", "其他"])}),
            "resume_clock": (holder_actor, {}),
            "issue_supervision": (
                Actor(w.supervisor, w.supervision),
                {
                    "level": "市级",
                    "deadline": (at + timedelta(days=rng.randint(1, 30))).date(),
                    "instructions": "限期办理",
                },
            ),
            "answer_supervision": (
                holder_actor,
                {"notice_no": case.supervision_count or 1, "answer": "已办理"},
            ),
            "reply": (
                holder_actor,
                {
                    "outcome": rng.choice(["支持", "解释说明", "不予支持"]),
                    "text": "答复",
                    "delivered_at": at + timedelta(hours=2),
                },
            ),
            "rate": (petitioner, {"rating": rng.choice(["满意", "基本满意", "不满意"])}),
            "file_appeal": (
                petitioner,
                {
                    "level": rng.choice(["复查", "复核"]),
                    "to_unit": rng.choice([w.city, w.province]),
                    "reason": "不服",
                },
            ),
            "decide_appeal": (
                holder_actor,
                {
                    "decision": rng.choice(["维持", "撤销", "部分变更"]),
                    "text": "意见",
                    "delivered_at": at + timedelta(hours=3),
                },
            ),
            "close": (holder_actor if holder else w.at_office, {}),
            "reopen": (w.at_office, {"reason": "问题未解决"}),
            "merge_into": (w.at_office, {"target_case": rng.choice(case_ids)}),
            "withdraw": (petitioner, {"reason": "自行解决"}),
            "correct": (
                w.at_office,
                rng.choice(
                    [
                        {
                            "corrects_version": 1,
                            "field": "category",
                            "new_value": "物业管理",
                            "reason": "更正",
                        },
                        {
                            "corrects_version": 1,
                            "field": "received_at",
                            "new_value": case.received_at - timedelta(days=1),
                            "reason": "邮戳",
                        },
                    ]
                ),
            ),
        }
        actor, arguments = choices[action]
        try:
            w.act(cid, action, actor, at, **arguments)
        except DomainError:
            continue
        times[cid] = at
