"""A claim's whole life, told as the record would tell it to an inspector."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.workflow import Stage
from tests.conftest import Clock
from tests.world import World


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def test_a_claim_travels_from_intake_through_review_to_a_final_decision(
    world: World, clock: Clock
) -> None:
    clock.now = at("2025-03-10")
    w, led = world, world.ledger
    case = w.register(at("2025-03-03"), registered_after=timedelta(days=6))
    assert case.case_number == "XF-2025-00001"
    cid = case.aggregate_id

    clock.now = at("2025-09-30")
    w.act(cid, "route", w.at_office, at("2025-03-11"), to_unit=w.housing, mode="交办")
    w.act(cid, "accept", w.at_housing, at("2025-03-20"))
    w.act(cid, "assign_lead", w.as_(w.leader, w.city), at("2025-03-21"), leader=w.leader)
    w.act(cid, "request_extension", w.at_housing, at("2025-05-10"), days=30, reason="需现场勘验")
    w.act(
        cid,
        "decide_extension",
        w.as_(w.housing_head, w.housing),
        at("2025-05-12"),
        decision="批准",
        approver=w.housing_head,
        days_granted=30,
        petitioner_told_at=at("2025-05-13"),
    )
    notice = w.act(
        cid,
        "issue_supervision",
        w.as_(w.supervisor, w.supervision),
        at("2025-06-01"),
        level="市级",
        deadline=date(2025, 6, 15),
        instructions="请于6月15日前报送办理情况",
    ).value
    assert notice == 1
    w.act(cid, "answer_supervision", w.at_housing, at("2025-06-14"), notice_no=1, answer="已维修")
    w.act(
        cid,
        "reply",
        w.at_housing,
        at("2025-06-20"),
        outcome="支持",
        text="已完成屋顶防水维修",
        delivered_at=at("2025-06-22"),
    )
    w.act(cid, "rate", w.as_petitioner, at("2025-06-25"), rating="不满意", comment="仍渗水")
    w.act(
        cid,
        "file_appeal",
        w.as_petitioner,
        at("2025-07-05"),
        level="复查",
        to_unit=w.city,
        reason="维修后仍渗水",
    )
    reviewer = w.as_(w.city_reviewer, w.city)
    w.act(
        cid,
        "decide_appeal",
        reviewer,
        at("2025-08-01"),
        decision="维持",
        text="维持原处理意见",
        delivered_at=at("2025-08-02"),
    )
    w.act(
        cid,
        "file_appeal",
        w.as_petitioner,
        at("2025-08-20"),
        level="复核",
        to_unit=w.province,
        reason="不服复查意见",
    )
    w.act(
        cid,
        "decide_appeal",
        w.as_(w.province_reviewer, w.province),
        at("2025-09-10"),
        decision="维持",
        text="复核维持",
        delivered_at=at("2025-09-11"),
    )
    w.act(cid, "release_lead", w.as_(w.leader, w.city), at("2025-09-12"))
    w.act(cid, "close", w.as_(w.province_reviewer, w.province), at("2025-09-12"))

    final = led.get_case(cid)
    assert final.stage is Stage.CLOSED
    assert final.version == 16
    history = led.history(cid)
    assert [e.type for e in history] == [
        "Registered",
        "Routed",
        "Accepted",
        "LeadAssigned",
        "ExtensionRequested",
        "ExtensionDecided",
        "SupervisionIssued",
        "SupervisionAnswered",
        "Replied",
        "Rated",
        "AppealFiled",
        "AppealDecided",
        "AppealFiled",
        "AppealDecided",
        "LeadReleased",
        "Closed",
    ]
    # Facts only: when it happened in the world and when it was written are both kept.
    registered = history[0]
    assert registered.data["received_at"] == at("2025-03-03")
    assert registered.occurred_at == at("2025-03-09")
    assert registered.recorded_at == at("2025-03-10")
    assert history[-1].recorded_at == at("2025-09-30")
    assert registered.actor == w.clerk and registered.actor_unit == w.office


def test_a_transfer_after_acceptance_keeps_the_case_accepted_with_the_new_unit(
    world: World, clock: Clock
) -> None:
    clock.now = at("2025-06-01")
    w = world
    cid = w.register(at("2025-03-03")).aggregate_id
    w.act(cid, "route", w.at_office, at("2025-03-04"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, at("2025-03-05"))
    w.act(cid, "route", w.at_housing, at("2025-05-05"), to_unit=w.labour, note="属社保问题")
    case = w.ledger.get_case(cid)
    assert case.stage is Stage.ACCEPTED
    assert case.holder_unit == w.labour
    assert case.routed_by == w.housing


def test_a_jurisdiction_objection_sends_the_case_back_only_if_the_sender_agrees(
    world: World, clock: Clock
) -> None:
    clock.now = at("2025-06-01")
    w, led = world, world.ledger
    cid = w.register(at("2025-03-03")).aggregate_id
    w.act(cid, "route", w.at_office, at("2025-03-04"), to_unit=w.housing)
    w.act(cid, "object_jurisdiction", w.at_housing, at("2025-03-06"), reason="应由人社局办理")
    w.act(cid, "decide_objection", w.at_office, at("2025-03-07"), agreed=False, note="请先行办理")
    assert led.get_case(cid).holder_unit == w.housing
    assert led.get_case(cid).stage is Stage.ROUTED

    w.act(cid, "object_jurisdiction", w.at_housing, at("2025-03-10"), reason="确属人社局职责")
    w.act(cid, "decide_objection", w.at_office, at("2025-03-11"), agreed=True)
    case = led.get_case(cid)
    assert case.holder_unit == w.office
    assert case.stage is Stage.REGISTERED


def test_a_late_reply_is_recorded_as_late_not_refused(world: World, clock: Clock) -> None:
    """Day 150 of a 60-day clock: the ledger records it; judging it is the projections' job."""
    clock.now = at("2025-09-01")
    w = world
    cid = w.register(at("2025-03-03")).aggregate_id
    w.act(cid, "route", w.at_office, at("2025-03-04"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, at("2025-03-05"))
    w.act(
        cid,
        "reply",
        w.at_housing,
        at("2025-08-01"),
        outcome="解释说明",
        text="已解释政策",
        delivered_at=at("2025-08-02"),
    )
    assert w.ledger.get_case(cid).stage is Stage.REPLIED


def test_a_group_visit_keeps_its_headcount_and_representatives(world: World, clock: Clock) -> None:
    from uuid import uuid4

    from domain.petitioners import Petitioner

    clock.now = at("2025-04-02")
    reps = [Petitioner(uuid4(), name=f"代表{i}") for i in range(1, 6)]
    w = world
    result = w.register(
        at("2025-04-01"),
        channel="来访",
        petitioner_kind="集体",
        petitioners=reps,
        headcount=40,
        category="企业改制",
        summary="改制职工安置补偿",
    )
    registered = w.ledger.history(result.aggregate_id)[0]
    assert registered.data["headcount"] == 40
    assert len(registered.data["petitioners"]) == 5


def test_a_merged_duplicate_and_a_withdrawn_case_can_be_reopened(
    world: World, clock: Clock
) -> None:
    clock.now = at("2025-04-10")
    w, led = world, world.ledger
    first = w.register(at("2025-04-01")).aggregate_id
    second = w.register(at("2025-04-03")).aggregate_id
    w.act(second, "merge_into", w.at_office, at("2025-04-04"), target_case=first)
    assert led.get_case(second).stage is Stage.MERGED
    assert led.get_case(second).merged_into == first
    w.act(second, "reopen", w.at_office, at("2025-04-05"), reason="并非同一事项")
    assert led.get_case(second).stage is Stage.REGISTERED

    w.act(first, "withdraw", w.as_petitioner, at("2025-04-06"), reason="已自行协商解决")
    assert led.get_case(first).stage is Stage.WITHDRAWN


def test_a_clerk_records_a_rating_for_the_petitioner(world: World, clock: Clock) -> None:
    """A petitioner rates by phone; the clerk records it on their behalf (on_behalf_of)."""
    from ledger.application import Actor

    clock.now = at("2025-06-01")
    w = world
    cid = w.register(at("2025-03-03")).aggregate_id
    w.act(cid, "route", w.at_office, at("2025-03-04"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, at("2025-03-05"))
    w.act(
        cid,
        "reply",
        w.at_housing,
        at("2025-04-01"),
        outcome="支持",
        text="已修",
        delivered_at=at("2025-04-02"),
    )
    clerk_for_petitioner = Actor(w.clerk, w.office, on_behalf_of=w.petitioner.petitioner_id)
    w.act(cid, "rate", clerk_for_petitioner, at("2025-04-05"), rating="基本满意")
    rated = w.ledger.history(cid)[-1]
    assert rated.type == "Rated"
    assert (rated.actor, rated.on_behalf_of) == (w.clerk, w.petitioner.petitioner_id)
