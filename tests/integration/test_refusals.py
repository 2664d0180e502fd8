"""What the process makes impossible is refused, with a typed error that says what and why,
and a refused command writes nothing. Lateness is never a reason to refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AppealNotAllowed,
    CaseNotActive,
    DomainError,
    InvalidInput,
    NoStanding,
    NotFound,
    ProcessRuleViolation,
    TimeOutOfOrder,
)
from tests.conftest import Clock
from tests.integration.conftest import stored_event_count
from tests.world import World

D = datetime(2025, 3, 3, 9, tzinfo=UTC)


def day(n: int) -> datetime:
    return D + timedelta(days=n)


@pytest.fixture
def accepted(world: World, clock: Clock) -> UUID:
    clock.now = day(400)
    cid = world.register(D).aggregate_id
    world.act(cid, "route", world.at_office, day(1), to_unit=world.housing)
    world.act(cid, "accept", world.at_housing, day(2))
    return cid


def replied(world: World, cid: UUID) -> UUID:
    world.act(
        cid, "reply", world.at_housing, day(30), outcome="支持", text="已处理", delivered_at=day(31)
    )
    return cid


def refused_and_nothing_written(world: World, error: type[DomainError], call: object) -> str:
    before = stored_event_count(world.ledger)
    with pytest.raises(error) as caught:
        call()  # type: ignore[operator]
    assert stored_event_count(world.ledger) == before
    return caught.value.message


def test_a_reply_to_a_case_never_accepted_is_refused(world: World, clock: Clock) -> None:
    clock.now = day(100)
    cid = world.register(D).aggregate_id
    world.act(cid, "route", world.at_office, day(1), to_unit=world.housing)
    message = refused_and_nothing_written(
        world,
        ProcessRuleViolation,
        lambda: world.act(
            cid, "reply", world.at_housing, day(3), outcome="支持", text="x", delivered_at=day(3)
        ),
    )
    assert "reply" in message and "已转送" in message


def test_a_rereview_before_any_review_decision_is_refused(world: World, accepted: UUID) -> None:
    replied(world, accepted)
    message = refused_and_nothing_written(
        world,
        AppealNotAllowed,
        lambda: world.act(
            accepted,
            "file_appeal",
            world.as_petitioner,
            day(40),
            level="复核",
            to_unit=world.province,
            reason="不服",
        ),
    )
    assert "复核 can only follow a 复查 decision" in message


def test_no_appeal_after_the_final_rereview_decision(world: World, accepted: UUID) -> None:
    w = world
    replied(w, accepted)
    w.act(
        accepted, "file_appeal", w.as_petitioner, day(40), level="复查", to_unit=w.city, reason="r"
    )
    w.act(
        accepted,
        "decide_appeal",
        w.as_(w.city_reviewer, w.city),
        day(60),
        decision="维持",
        text="t",
        delivered_at=day(61),
    )
    w.act(
        accepted,
        "file_appeal",
        w.as_petitioner,
        day(70),
        level="复核",
        to_unit=w.province,
        reason="r",
    )
    w.act(
        accepted,
        "decide_appeal",
        w.as_(w.province_reviewer, w.province),
        day(90),
        decision="维持",
        text="t",
        delivered_at=day(91),
    )
    for level in ("复查", "复核"):
        message = refused_and_nothing_written(
            w,
            AppealNotAllowed,
            lambda level=level: w.act(  # type: ignore[misc]
                accepted,
                "file_appeal",
                w.as_petitioner,
                day(95),
                level=level,
                to_unit=w.province,
                reason="再次申请",
            ),
        )
        assert "final" in message


@pytest.mark.parametrize("ending", ["close", "withdraw", "merge_into"])
def test_an_ended_case_takes_nothing_but_reopen_or_correct(
    world: World, accepted: UUID, ending: str
) -> None:
    w = world
    other = w.register(day(3)).aggregate_id
    if ending == "close":
        replied(w, accepted)
        w.act(accepted, "close", w.at_housing, day(35))
    elif ending == "withdraw":
        w.act(accepted, "withdraw", w.as_petitioner, day(5), reason="协商解决")
    else:
        w.act(accepted, "merge_into", w.at_housing, day(5), target_case=other)
    message = refused_and_nothing_written(
        w,
        CaseNotActive,
        lambda: w.act(accepted, "assign_lead", w.as_(w.leader, w.city), day(40), leader=w.leader),
    )
    assert "only reopen or correct" in message
    # ...but a correction and a reopening are still possible.
    w.act(
        accepted,
        "correct",
        w.at_office,
        day(41),
        corrects_version=1,
        field="category",
        new_value="物业管理",
        reason="登记时类别选错",
    )
    w.act(accepted, "reopen", w.at_office, day(42), reason="当事人反映问题未解决")
    assert w.ledger.get_case(accepted).stage.value != "已办结"


def test_a_unit_that_does_not_hold_the_case_has_no_standing(world: World, accepted: UUID) -> None:
    w = world
    labour = w.as_(w.labour_handler, w.labour)
    for action, arguments in [
        ("reply", {"outcome": "支持", "text": "x", "delivered_at": day(5)}),
        ("request_extension", {"days": 10, "reason": "x"}),
        ("route", {"to_unit": w.city}),
        ("pause_clock", {"reason": "听证"}),
    ]:
        message = refused_and_nothing_written(
            w, NoStanding, lambda a=action, k=arguments: w.act(accepted, a, labour, day(5), **k)
        )
        assert "only the unit holding the case" in message


def test_a_person_acting_for_a_unit_they_do_not_belong_to_has_no_standing(
    world: World, accepted: UUID
) -> None:
    impostor = world.as_(world.labour_handler, world.housing)
    message = refused_and_nothing_written(
        world,
        NoStanding,
        lambda: world.act(accepted, "request_extension", impostor, day(5), days=10, reason="x"),
    )
    assert "not a member" in message


def test_only_a_petitioner_rates_or_appeals(world: World, accepted: UUID) -> None:
    replied(world, accepted)
    stranger = world.as_(uuid4(), None)
    refused_and_nothing_written(
        world, NoStanding, lambda: world.act(accepted, "rate", stranger, day(35), rating="满意")
    )


def test_times_that_cannot_be_are_refused(world: World, accepted: UUID, clock: Clock) -> None:
    w = world
    message = refused_and_nothing_written(
        w,
        TimeOutOfOrder,
        lambda: w.act(
            accepted, "request_extension", w.at_housing, D - timedelta(days=1), days=5, reason="x"
        ),
    )
    assert "before the matter was received" in message
    message = refused_and_nothing_written(
        w,
        TimeOutOfOrder,
        lambda: w.act(
            accepted,
            "request_extension",
            w.at_housing,
            clock.now + timedelta(minutes=1),
            days=5,
            reason="x",
        ),
    )
    assert "in the future" in message
    message = refused_and_nothing_written(
        w, TimeOutOfOrder, lambda: w.register(D, registered_after=timedelta(hours=-1))
    )
    assert "before the matter was received" in message


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"channel": "飞鸽传书"}, "channel"),
        ({"matter_kind": "其他"}, "matter_kind"),
        ({"summary": "   "}, "summary"),
        ({"headcount": 0}, "headcount"),
        ({"petitioner_kind": "集体", "headcount": 3}, "representatives"),
        ({"received_at": datetime(2025, 3, 3, 9)}, "received_at"),
        ({"matter_kind": "检举控告"}, "report"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_malformed_registrations_are_refused_naming_the_field(
    world: World, clock: Clock, override: dict[str, object], field: str
) -> None:
    from domain.petitioners import Petitioner

    clock.now = day(10)
    if field == "representatives":
        override["petitioners"] = [Petitioner(uuid4(), name=f"代表{i}") for i in range(6)]
    message = refused_and_nothing_written(
        world, InvalidInput, lambda: world.register(D, **override)
    )
    assert field in message


def test_unknown_records_are_not_found(world: World, accepted: UUID) -> None:
    w = world
    refused_and_nothing_written(
        w, NotFound, lambda: w.act(accepted, "route", w.at_housing, day(5), to_unit=uuid4())
    )
    refused_and_nothing_written(w, NotFound, lambda: w.act(uuid4(), "accept", w.at_housing, day(5)))
    refused_and_nothing_written(
        w, InvalidInput, lambda: w.act(accepted, "teleport", w.at_housing, day(5))
    )
    refused_and_nothing_written(
        w, InvalidInput, lambda: w.act(accepted, "accept", w.at_housing, day(5), colour="red")
    )


def test_supervision_deadline_must_be_a_date_and_answered_by_the_supervised_unit(
    world: World, accepted: UUID
) -> None:
    w = world
    supervisor = w.as_(w.supervisor, w.supervision)
    refused_and_nothing_written(
        w,
        InvalidInput,
        lambda: w.act(
            accepted,
            "issue_supervision",
            supervisor,
            day(10),
            level="市级",
            deadline="soon",
            instructions="x",
        ),
    )
    w.act(
        accepted,
        "issue_supervision",
        supervisor,
        day(10),
        level="市级",
        deadline=date(2025, 3, 25),
        instructions="限期办理",
    )
    refused_and_nothing_written(
        w,
        NoStanding,
        lambda: w.act(
            accepted,
            "answer_supervision",
            w.as_(w.labour_handler, w.labour),
            day(11),
            notice_no=1,
            answer="x",
        ),
    )
    refused_and_nothing_written(
        w,
        ProcessRuleViolation,
        lambda: w.act(
            accepted, "answer_supervision", w.at_housing, day(11), notice_no=2, answer="x"
        ),
    )


def test_dates_no_ledger_could_hold_are_refused_through_every_door(
    world: World, accepted: UUID
) -> None:
    """A typo of 9999 for 2025 would stop the projector (its day arithmetic overflows)."""
    w = world
    supervisor = w.as_(w.supervisor, w.supervision)
    message = refused_and_nothing_written(
        w,
        InvalidInput,
        lambda: w.act(
            accepted,
            "issue_supervision",
            supervisor,
            day(10),
            level="市级",
            deadline=date(9999, 12, 31),
            instructions="x",
        ),
    )
    assert "9999" in message
    refused_and_nothing_written(
        w,
        InvalidInput,
        lambda: w.act(
            accepted,
            "reply",
            w.at_housing,
            day(10),
            outcome="支持",
            text="x",
            delivered_at=datetime(9999, 1, 1, tzinfo=UTC),
        ),
    )
