"""The same log judged under two rulebooks: rebuilt beside the live views, compared, and
switched, without touching a byte of the events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa

from domain.petitioners import Petitioner
from projections import projector, schema
from projections.facts import hex_id
from projections.projector import ProjectorStopped
from projections.queries import Views
from projections.rebuild import diff_ranking, diff_statistics, moved_cases, rebuild
from projections.statistics import unit_statistics
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, activate, live_view_set, load
from tests.conftest import Clock
from tests.integration.projection_helpers import dump, events_digest, project
from tests.world import World


def local(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").astimezone(UTC)


@pytest.fixture(scope="module")
def national() -> LoadedRules:
    return load(DEFAULT_RULEBOOK)


@pytest.fixture(scope="module")
def working_days() -> LoadedRules:
    return load(DEFAULT_RULEBOOK.parent / "local-working-days.toml")


def a_month_of_cases(w: World, clock: Clock) -> dict[str, str]:
    """September 2025 at the housing bureau: a group of four, a claim across National Day."""
    clock.now = local("2025-12-31 12:00")
    reps = [Petitioner(uuid4(), name=f"代表{i}") for i in range(1, 3)]
    group = w.register(
        local("2025-09-03 09:00"),
        channel="来访",
        petitioner_kind="集体",
        petitioners=reps,
        headcount=4,
        category="物业管理",
        summary="小区电梯长期停运",
    )
    claim = w.register(local("2025-09-01 09:00"))
    for case, accepted, replied in (
        (group, "2025-09-04 09:00", "2025-10-20 09:00"),
        (claim, "2025-09-02 09:00", "2025-10-30 09:00"),
    ):
        cid = case.aggregate_id
        w.act(cid, "route", w.at_office, local(accepted) - timedelta(hours=12), to_unit=w.housing)
        w.act(cid, "accept", w.at_housing, local(accepted))
        w.act(
            cid,
            "reply",
            w.at_housing,
            local(replied),
            outcome="支持",
            text="已处理",
            delivered_at=local(replied) + timedelta(hours=1),
        )
        w.act(
            cid,
            "rate",
            w.as_(reps[0].petitioner_id if case is group else w.petitioner.petitioner_id, None),
            local(replied) + timedelta(days=2),
            rating="满意",
        )
    return {"group": group.case_number or "", "claim": claim.case_number or ""}


def test_the_same_log_judged_under_two_rulebooks(
    world: World, clock: Clock, national: LoadedRules, working_days: LoadedRules
) -> None:
    numbers = a_month_of_cases(world, clock)
    live = project(world.ledger, national)
    before = events_digest(world.ledger)

    views = world.ledger.projection_engine
    name = rebuild(world.ledger.engine, working_days, views=views)
    assert name != live.view_set
    # The live views kept answering under the national rules.
    with views.connect() as conn:
        assert live_view_set(conn) == live.view_set
    rebuilt = Views(views, name, working_days.rules)

    a = unit_statistics(live, "2025-09", clock.now)
    b = unit_statistics(rebuilt, "2025-09", clock.now)
    changes = {(c.unit, c.metric): c for c in diff_statistics(a, b)}
    office = world.office.hex
    # Four people are not a collective visit under the national rule (5), but are under 3.
    collective = changes[(office, "collective_visit_rate")]
    assert collective.before["numerator"] == 0 and collective.after["numerator"] == 1
    assert collective.cases_gained == [numbers["group"]]
    # Working days move deadlines: every case whose clocks moved is named.
    moved = moved_cases(live, rebuilt)
    assert {m["case_number"] for m in moved} == {numbers["group"], numbers["claim"]}
    assert all(m["before"]["deadline"] != m["after"]["deadline"] for m in moved)
    assert isinstance(diff_ranking(a, b), list)

    activate(views, name)
    with views.connect() as conn:
        assert live_view_set(conn) == name
    assert events_digest(world.ledger) == before


def test_an_interrupted_rebuild_resumes_and_equals_an_uninterrupted_one(
    world: World, clock: Clock, national: LoadedRules, working_days: LoadedRules
) -> None:
    a_month_of_cases(world, clock)
    for _ in range(3):
        world.register(local("2025-09-10 09:00"))
    engine = world.ledger.engine
    name = rebuild(engine, working_days, cases_per_commit=1, stop_after=2)
    with engine.connect() as conn:
        status, resume = conn.execute(
            sa.select(schema.view_sets.c.status, schema.view_sets.c.resume_after).where(
                schema.view_sets.c.id == name
            )
        ).one()
    assert status == "building" and resume is not None
    assert rebuild(engine, working_days, cases_per_commit=1) == name
    resumed = dump(engine, name)
    with engine.begin() as conn:
        for table in (*schema.VIEW_TABLES, schema.view_sets):
            column = table.c.view_set if table is not schema.view_sets else table.c.id
            conn.execute(table.delete().where(column == name))
    rebuild(engine, working_days)
    assert dump(engine, name) == resumed
    assert len(resumed["rm_cases"]) == 5


def test_workers_commit_in_order_so_a_case_that_cannot_be_judged_keeps_all_before_it(
    world: World, clock: Clock, working_days: LoadedRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes build ranges of cases side by side but commit them in log order: when
    one case cannot be judged, the rebuild stops naming it, what is kept is exactly the cases
    before it (nothing after it is written), and once it can be judged the rebuild resumes
    and ends as if it had never stopped."""
    a_month_of_cases(world, clock)
    for hour in range(14):
        world.register(local("2025-09-10 09:00") + timedelta(hours=hour))
    engine = world.ledger.engine
    with engine.connect() as conn:
        ids = sorted(
            hex_id(i)
            for (i,) in conn.execute(
                sa.text("SELECT originator_id FROM ledger_events WHERE topic = :t"),
                {"t": "domain.case:Case.Registered"},
            )
        )
    unjudgeable = ids[9]
    judge = projector.judge_case

    def judge_all_but_one(facts: Any, rules: Any, directory: Any) -> Any:
        if facts[0].aggregate_id == unjudgeable:
            time.sleep(1)  # long enough for the other worker to finish later ranges first
            raise KeyError("a field the judge expected")
        return judge(facts, rules, directory)

    monkeypatch.setattr(projector, "judge_case", judge_all_but_one)
    with pytest.raises(ProjectorStopped, match=f"case {unjudgeable}: cannot project fact"):
        rebuild(engine, working_days, cases_per_commit=1, workers=2)
    name = working_days.view_set_name
    kept = sorted(row[0] for row in dump(engine, name)["rm_cases"])
    assert kept == ids[: len(kept)]  # a prefix of the log: no gap...
    assert unjudgeable not in kept and len(kept) >= 5  # ...that ends before the failed case
    with engine.connect() as conn:
        resume = conn.execute(
            sa.select(schema.view_sets.c.resume_after).where(schema.view_sets.c.id == name)
        ).scalar_one()
    assert resume is not None and kept[-1] <= resume < unjudgeable

    monkeypatch.undo()
    assert rebuild(engine, working_days, cases_per_commit=1, workers=2) == name
    assert dump(engine, name) == dump(engine, rebuild(engine, working_days, name="in-one-go"))


def test_the_cases_that_moved_in_pages_are_the_whole_list(
    database_url: str, national: LoadedRules, working_days: LoadedRules
) -> None:
    """The console lists the runs that moved a page at a time, read a range of cases at a time:
    page after page, the same runs in the same order as the whole list, whole cases on each
    page, and a narrower scope keeps only the cases it sees."""
    from api.demo import write_demo
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections.rebuild import moved_page

    write_demo(Settings(database_url=database_url), seed=11, cases=40)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        live = project(ledger, national)
        other = Views(ledger.engine, rebuild(ledger.engine, working_days), working_days.rules)
        whole = moved_cases(live, other)
        assert len(whole) > 10
        pages: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            rows, after = moved_page(live, other, limit=7, after=after, most_cases=9)
            assert rows or after is None
            if pages and rows:
                assert rows[0]["case_id"] > pages[-1]["case_id"]  # whole cases on a page
            pages.extend(rows)
            if after is None:
                break
        assert pages == whole
        u = schema.units
        with ledger.engine.connect() as conn:
            some = list(
                conn.execute(
                    sa.select(u.c.unit_id).where(u.c.view_set == live.view_set).limit(4)
                ).scalars()
            )
            seen = set(conn.execute(sa.select(live._involving(some).subquery())).scalars())
        rows, after = moved_page(live, other, limit=1000, visible=lambda cases: cases & seen)
        assert after is None
        assert rows == [m for m in whole if m["case_id"] in seen]
    finally:
        ledger.close()


def test_the_console_pages_statistics_and_differing_figures_a_few_units_at_a_time(
    database_url: str, national: LoadedRules, working_days: LoadedRules
) -> None:
    """What the statistics and rule-diff pages show, page after page, is what the API lists
    whole: every unit once, the handling units in ranking order, every differing figure
    and ranking place once, and how many in all."""
    from api.demo import write_demo
    from api.routes_views import (
        rule_diff,
        rule_diff_of_period,
        statistics_page,
        statistics_result,
    )
    from api.security import Principal, Role
    from ledger.application import Ledger
    from ledger.settings import Settings

    write_demo(Settings(database_url=database_url), seed=11, cases=60)
    ledger = Ledger(Settings(database_url=database_url))
    try:
        live = project(ledger, national)
        other = rebuild(ledger.engine, working_days, views=ledger.projection_engine)
        u, m = schema.units, schema.memberships
        with ledger.projection_engine.connect() as conn:
            top = conn.execute(
                sa.select(u.c.unit_id).where(u.c.view_set == live.view_set, u.c.parent.is_(None))
            ).scalar_one()
            person = conn.execute(
                sa.select(m.c.person_id).where(m.c.view_set == live.view_set, m.c.unit_id == top)
            ).first()[0]  # type: ignore[index]
        inspector = Principal(user=hex_uuid(person), role=Role.INSPECTOR, unit=hex_uuid(top))
        whole = rule_diff(ledger, inspector, live.view_set, other)
        period = max(whole["periods"], key=lambda p: len(whole["periods"][p]["statistics"]))
        size = 3

        api = statistics_result(ledger, inspector, period)
        shown: dict[str, list[dict[str, Any]]] = {}
        first = statistics_page(ledger, inspector, period, None, page=1, page_size=size)
        assert first["pages"] > 1
        for number in range(1, first["pages"] + 2):  # (one past the last: the last again)
            found = statistics_page(ledger, inspector, period, None, page=number, page_size=size)
            assert found["page"] == min(number, first["pages"])
            if number > first["pages"]:
                break
            for key in ("ranking", "handling_units", "petition_offices"):
                assert len(found[key]) <= size
                shown.setdefault(key, []).extend(found[key])
        assert shown["ranking"] == api["ranking"]
        for key in ("handling_units", "petition_offices"):
            assert first["counts"][key] == len(api[key])
            assert sorted(map(repr, shown[key])) == sorted(map(repr, api[key]))
        place = {r["unit"]: r["rank"] for r in api["ranking"]}
        ranked = [place[r["unit"]] for r in shown["handling_units"] if r["unit"] in place]
        assert ranked == sorted(ranked) and ranked

        def figure(c: dict[str, Any]) -> tuple[Any, ...]:
            return (c["unit"], c["metric"], repr(c["before"]), repr(c["after"]))

        differing = whole["periods"][period]
        figures: list[tuple[Any, ...]] = []
        places: list[dict[str, Any]] = []
        number = 1
        while True:
            found = rule_diff_of_period(
                ledger, inspector, live.view_set, other, period,
                limit=100, after=None, page=number, page_size=size,
            )  # fmt: skip
            assert found["counts"]["statistics"] == len(differing["statistics"])
            figures += [figure(c) for c in found["statistics"]]
            places += found["ranking"]
            if found["page"] == found["pages"]:
                break
            number += 1
        assert len(differing["statistics"]) > size
        assert figures == [figure(c) for c in differing["statistics"]]
        assert places == differing["ranking"]
    finally:
        ledger.close()


def hex_uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(hex=value)


def test_the_runs_that_moved_are_compared_a_range_of_cases_at_a_time_and_miss_no_case(
    world: World, clock: Clock, national: LoadedRules, working_days: LoadedRules
) -> None:
    """A rule diff of a million cases cannot hold both view sets' every clock run: the runs
    are compared a few cases at a time, and come out as the whole comparison does — including
    the cases only the later view set has (built from a longer log)."""
    from projections.rebuild import iter_moved_cases, moved_page

    a_month_of_cases(world, clock)
    for day in range(1, 8):
        world.register(local(f"2025-09-{day:02d} 09:00"))
    engine = world.ledger.engine
    earlier = Views(engine, rebuild(engine, national, name="earlier"), national.rules)
    later_cases = [world.register(local("2025-09-12 09:00")).aggregate_id.hex for _ in range(3)]
    later = Views(engine, rebuild(engine, working_days, name="later"), working_days.rules)

    whole = moved_cases(earlier, later)
    assert set(later_cases) <= {m["case_id"] for m in whole}  # cases only B has: compared
    assert all(m["case_number"] for m in whole)  # and numbered, from B
    assert [m["case_id"] for m in whole] == sorted(m["case_id"] for m in whole)
    for few in (1, 2, 3, 5):
        assert list(iter_moved_cases(earlier, later, range_cases=few)) == whole
    # The console's pages, read a range at a time too, end with the same cases.
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        rows, after = moved_page(earlier, later, limit=2, after=after, most_cases=3)
        pages.extend(rows)
        if after is None:
            break
    assert pages == whole
