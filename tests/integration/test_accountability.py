"""Who delayed what: DOMAIN.md's stories with concrete dates and exact attributions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger.application import Ledger
from projections.projector import Projector
from projections.queries import Views
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, ensure_live, load
from tests.conftest import Clock
from tests.world import World

SHANGHAI = "+08:00"


def local(text: str) -> datetime:
    """A Beijing-time instant, e.g. local("2025-03-10 09:00")."""
    return datetime.fromisoformat(text.replace(" ", "T") + SHANGHAI).astimezone(UTC)


@pytest.fixture(scope="module")
def national() -> LoadedRules:
    return load(DEFAULT_RULEBOOK)


def project(ledger: Ledger, loaded: LoadedRules) -> Views:
    view_set = ensure_live(ledger.engine, loaded)
    Projector(ledger.engine, ledger.engine, loaded.rules, view_set).catch_up()
    return Views(ledger.engine, view_set, loaded.rules)


def test_the_unit_holding_a_case_when_its_deadline_passed_answers_for_the_delay(
    world: World, clock: Clock, national: LoadedRules
) -> None:
    """Accepted 10 March: the 60-day handling deadline is 9 May (start day not counted).
    住建局 (B) held it until 14 May and passed it to 人社局 (C), who replied on 29 May.
    B answers for 10 May 00:00 → 14 May 09:00 (4.4 days), C for 14 May 09:00 → 29 May
    09:00 (15.0 days), and the leader in charge throughout jointly for all 19.4."""
    w = world
    clock.now = local("2025-06-30 12:00")
    cid = w.register(local("2025-03-03 09:00")).aggregate_id
    w.act(cid, "route", w.at_office, local("2025-03-05 09:00"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, local("2025-03-10 09:00"))
    w.act(cid, "assign_lead", w.as_(w.leader, w.city), local("2025-03-10 10:00"), leader=w.leader)
    w.act(
        cid,
        "route",
        w.at_housing,
        local("2025-05-14 09:00"),
        to_unit=w.labour,
        to_handler=w.labour_handler,
    )
    labour = w.as_(w.labour_handler, w.labour)
    w.act(
        cid,
        "reply",
        labour,
        local("2025-05-29 09:00"),
        outcome="支持",
        text="已补发",
        delivered_at=local("2025-05-30 09:00"),
    )
    views = project(w.ledger, national)
    now = clock.now

    by_unit = {p["party"]: p for p in views.who_delayed_what("unit", now)}
    assert by_unit[w.housing.hex]["overdue_days"] == Decimal("4.4")
    assert by_unit[w.labour.hex]["overdue_days"] == Decimal("15.0")
    assert by_unit[w.office.hex]["overdue_days"] == Decimal("0.0")
    leader = {p["party"]: p for p in views.who_delayed_what("leader", now)}[w.leader.hex]
    assert leader["overdue_days"] == Decimal("19.4")
    assert leader["cases_overdue"] == 1
    person = {p["party"]: p for p in views.who_delayed_what("person", now)}
    assert person[w.labour_handler.hex]["overdue_days"] == Decimal("15.0")
    assert by_unit[w.labour.hex]["cases"][0]["case_number"] == "XF-2025-00001"

    chain = views.chain(cid.hex, now)
    handling = [i for i in chain if i["clock"] == "handling"]
    assert {i["deadline"] for i in handling} == {date(2025, 5, 9)}
    assert [(i["holder_unit"], i["overdue_days"]) for i in handling if i["overdue_s"]] == [
        (w.housing.hex, Decimal("4.4")),
        (w.labour.hex, Decimal("15.0")),
    ]
    # After the reply the time is the petitioner's: held by nobody, counted against nobody.
    assert chain[-1]["holder_unit"] is None and chain[-1]["excluded"] == "petitioner"


def test_an_approved_extension_and_a_hearing_move_the_deadline(
    world: World, clock: Clock, national: LoadedRules
) -> None:
    """Accepted 2 June 2025: 60 days → 1 August. A 30-day extension (approved 20 July):
    90 days end on Sunday 31 August → rolls to Monday 1 September. A hearing from 5 to 8
    August covers the whole days 6 and 7 August: 60 + 30 + 2 = 92 days, counted once and
    only then rolled → Tuesday 2 September."""
    w = world
    clock.now = local("2025-09-30 12:00")
    cid = w.register(local("2025-06-01 09:00")).aggregate_id
    w.act(cid, "route", w.at_office, local("2025-06-01 15:00"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, local("2025-06-02 09:00"))
    w.act(
        cid, "request_extension", w.at_housing, local("2025-07-15 09:00"), days=30, reason="需鉴定"
    )
    head = w.as_(w.housing_head, w.housing)
    w.act(
        cid,
        "decide_extension",
        head,
        local("2025-07-20 09:00"),
        decision="批准",
        approver=w.housing_head,
        days_granted=30,
    )
    w.act(cid, "pause_clock", w.at_housing, local("2025-08-05 09:00"), reason="听证")
    w.act(cid, "resume_clock", w.at_housing, local("2025-08-08 09:00"))
    w.act(
        cid,
        "reply",
        w.at_housing,
        local("2025-09-05 09:00"),
        outcome="支持",
        text="t",
        delivered_at=local("2025-09-05 10:00"),
    )
    views = project(w.ledger, national)
    handling = [i for i in views.chain(cid.hex, clock.now) if i["clock"] == "handling"]
    assert [i["deadline"] for i in handling] == [
        date(2025, 8, 1),
        date(2025, 9, 1),
        date(2025, 9, 1),
        date(2025, 9, 2),
    ]
    assert [i["excluded"] for i in handling] == [None, None, "paused:听证", None]
    assert handling[-1]["extension_days"] == 30 and handling[-1]["pause_days"] == 2
    # Replied 5 September 09:00 Beijing time; overdue from 3 September 00:00: 2.4 days.
    unit = {p["party"]: p for p in views.who_delayed_what("unit", clock.now)}[w.housing.hex]
    assert unit["overdue_days"] == Decimal("2.4")


def test_a_deadline_in_a_year_without_a_calendar_is_not_computable_and_says_so(
    world: World, clock: Clock, tmp_path: object, national: LoadedRules
) -> None:
    """Under working-day rules a case accepted in December 2026 runs into 2027, whose
    schedule is not loaded: its deadline is reported as not yet computable, naming 2027."""
    w = world
    clock.now = local("2026-12-20 12:00")
    cid = w.register(local("2026-12-10 09:00")).aggregate_id
    w.act(cid, "route", w.at_office, local("2026-12-10 15:00"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, local("2026-12-11 09:00"))
    views = project(w.ledger, load(DEFAULT_RULEBOOK.parent / "local-working-days.toml"))
    summary = views.case_summary(cid.hex, clock.now)
    assert summary is not None
    assert summary["deadline"] is None and summary["unknown_year"] == 2027
    assert "2027" in summary["deadline_status"]
    # The same case under the national rules (calendar days, ending 9 February 2027, which
    # needs no working-day lookup unless it rolls) — and the projector kept going.
    assert views.chain(cid.hex, clock.now)[-1]["deadline_status"].startswith("not yet computable")


def test_the_same_log_across_the_spring_festival_under_both_rulebooks(
    world: World, clock: Clock, national: LoadedRules
) -> None:
    """Accepted Friday 17 January 2025. National rules: 60 calendar days → Tuesday 18 March.
    Local working-day rules: 40 working days, skipping the Spring Festival holiday (28 Jan –
    4 Feb) but counting the 调休 working Sunday 26 January and Saturday 8 February → Thursday
    20 March. A reply on 19 March 09:00 is 0.4 days late under the first, on time under the
    second."""
    from projections.rebuild import rebuild

    w = world
    clock.now = local("2025-03-31 12:00")
    cid = w.register(local("2025-01-16 09:00")).aggregate_id
    w.act(cid, "route", w.at_office, local("2025-01-16 15:00"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, local("2025-01-17 09:00"))
    w.act(
        cid,
        "reply",
        w.at_housing,
        local("2025-03-19 09:00"),
        outcome="支持",
        text="t",
        delivered_at=local("2025-03-19 10:00"),
    )
    working = load(DEFAULT_RULEBOOK.parent / "local-working-days.toml")
    under_national = project(w.ledger, national)
    under_working = Views(w.ledger.engine, rebuild(w.ledger.engine, working), working.rules)

    def handling(views: Views) -> tuple[date, Decimal]:
        chain = [i for i in views.chain(cid.hex, clock.now) if i["clock"] == "handling"]
        return chain[-1]["deadline"], sum((i["overdue_days"] for i in chain), Decimal(0))

    assert handling(under_national) == (date(2025, 3, 18), Decimal("0.4"))
    assert handling(under_working) == (date(2025, 3, 20), Decimal("0.0"))
