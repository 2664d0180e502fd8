"""A bulk data set for benchmarks: the exact events the commands would write, saved many
aggregates at a time.

Cases are built with the domain's own command methods (so every event passed the same rules
as through the ledger) and saved a hundred at a time, which is what makes millions of events
affordable. Stories: on time, late, transferred (A→B→A), extended, supervised, appealed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.case import Case
from domain.numbering import CaseNumbering
from domain.petitioners import Petitioner
from domain.provenance import Provenance
from ledger.application import Actor, Ledger
from tests.world import World, build_world

SAVE_EVERY = 100


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def write_cases(
    ledger: Ledger,
    *,
    cases: int,
    seed: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> World:
    """Write ``cases`` cases (about ten events each) and return the directory they use."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 1, tzinfo=UTC)
    world = build_world(ledger, start)
    staff = {
        world.office: world.clerk,
        world.housing: world.housing_handler,
        world.labour: world.labour_handler,
    }
    numbering = CaseNumbering.start(world.office, "XF", 2024, at=start)
    pending: list[Case] = []
    n = 0

    def p(actor: Actor, at: datetime) -> Provenance:
        nonlocal n
        n += 1
        return Provenance(
            actor=actor.person,
            actor_unit=actor.unit,
            occurred_at=at,
            recorded_at=at + timedelta(minutes=rng.randint(1, 240)),
            command_id=f"bench-{seed}-{n}",
        )

    def unit_actor(unit: UUID) -> Actor:
        return Actor(staff[unit], unit)

    for i in range(cases):
        received = start + timedelta(days=rng.randint(0, 700), hours=rng.randint(0, 23))
        petitioner = Petitioner(_uuid(rng), name="信访人")
        case_id = _uuid(rng)
        number = numbering.issue(case_id, at=received)
        case = Case.register(
            p(world.at_office, received + timedelta(hours=2)),
            case_id=case_id,
            case_number=number,
            channel=rng.choice(["来信", "来访", "网上", "电话"]),
            received_at=received,
            matter_kind="申诉求决",
            category=rng.choice(["住房保障", "劳动工资", "社会保险", "土地征收"]),
            summary="诉求",
            petitioner_kind="实名",
            petitioners=[petitioner],
            headcount=1,
        )
        t = received + timedelta(days=rng.randint(1, 10))
        first, second = rng.sample([world.housing, world.labour], 2)
        case.route(p(world.at_office, t), to_unit=first)
        t += timedelta(days=rng.randint(1, 12))
        case.accept(p(unit_actor(first), t))
        holder = first
        if rng.random() < 0.2:  # passed on, and sometimes back (A→B→A)
            t += timedelta(days=rng.randint(5, 40))
            case.route(p(unit_actor(holder), t), to_unit=second)
            holder = second
            if rng.random() < 0.5:
                t += timedelta(days=rng.randint(5, 20))
                case.route(p(unit_actor(holder), t), to_unit=first)
                holder = first
        if rng.random() < 0.15:
            t += timedelta(days=rng.randint(20, 50))
            case.request_extension(p(unit_actor(holder), t), days=30, reason="需调查")
            case.decide_extension(
                p(unit_actor(holder), t + timedelta(days=1)),
                decision="批准",
                approver=staff[holder],
                days_granted=30,
            )
        if rng.random() < 0.1:
            t += timedelta(days=5)
            case.issue_supervision(
                p(Actor(world.supervisor, world.supervision), t),
                level="市级",
                deadline=(t + timedelta(days=10)).date(),
                instructions="限期办结",
            )
            if rng.random() < 0.6:
                case.answer_supervision(
                    p(unit_actor(holder), t + timedelta(days=rng.randint(3, 20))),
                    notice_no=1,
                    answer="已办理",
                )
        t += timedelta(days=rng.choice([10, 30, 50, 70, 95]))
        case.reply(
            p(unit_actor(holder), t),
            outcome=rng.choice(["支持", "解释说明", "不予支持"]),
            text="答复",
            delivered_at=t + timedelta(days=1),
        )
        petitioner_actor = Actor(petitioner.petitioner_id, None)
        if rng.random() < 0.8:
            case.rate(
                p(petitioner_actor, t + timedelta(days=3)),
                rating=rng.choice(["满意", "基本满意", "不满意"]),
            )
        if rng.random() < 0.1:
            case.file_appeal(
                p(petitioner_actor, t + timedelta(days=10)),
                level="复查",
                to_unit=world.city,
                reason="不服",
            )
            case.decide_appeal(
                p(Actor(world.city_reviewer, world.city), t + timedelta(days=35)),
                decision=rng.choice(["维持", "撤销"]),
                text="复查意见",
                delivered_at=t + timedelta(days=36),
            )
            t += timedelta(days=36)
        closer = (
            unit_actor(holder)
            if case.holder_unit == holder
            else Actor(world.city_reviewer, world.city)
        )
        case.close(p(closer, t + timedelta(days=40)))
        pending.append(case)
        if len(pending) >= SAVE_EVERY:
            ledger.save(*pending, numbering)
            pending = []
            if on_progress:
                on_progress(i + 1)
    if pending:
        ledger.save(*pending, numbering)
    return world
