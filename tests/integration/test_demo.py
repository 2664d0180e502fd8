"""The demo data set: every story is told, each is what it says, and the seed decides it all."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from api.demo import DemoSummary, write_demo
from domain.workflow import Stage
from ledger.application import Ledger
from ledger.settings import Settings

CASES = 60
NEW_YEAR = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))

STORIES = {
    "on_time", "late", "very_late", "ping_pong", "transfer_chain",
    "objection_timely", "objection_late", "objection_agreed", "objection_rejected",
    "leader_held", "extension_approved", "extension_beyond_max", "extension_rejected",
    "paused", "supervision_answered", "supervision_answered_late", "supervision_ignored",
    "reply_supported", "reply_explained", "reply_not_supported",
    "rated_satisfied", "rated_basically_satisfied", "rated_dissatisfied", "unrated",
    "review_upheld", "review_overturned", "review_partly",
    "rereview_upheld", "rereview_overturned", "rereview_partly",
    "repeat_petition", "group_visit", "anonymous", "refused", "withdrawn", "merged_duplicate",
    "corrected_received_at", "corrected_category", "corrected_rating",
    "backdated", "late_registration", "skip_level",
    "open_overdue", "open_due_soon", "open_new", "report", "suggestion",
}  # fmt: skip


def event_states(url: str) -> list[bytes]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT state FROM ledger_events ORDER BY id"))
            return [bytes(row[0]) for row in rows]
    finally:
        engine.dispose()


def test_the_demo_tells_every_story_and_each_story_is_what_it_says(database_url: str) -> None:
    progress: list[tuple[int, int]] = []
    summary = write_demo(
        Settings(database_url=database_url),
        seed=2025,
        cases=CASES,
        on_progress=lambda done, total: progress.append((done, total)),
    )

    assert summary.cases == CASES
    assert set(summary.stories) >= STORIES, STORIES - set(summary.stories)
    assert progress[-1] == (summary.events, summary.events)
    assert [done for done, _ in progress] == list(range(1, summary.events + 1))

    recorded = [
        datetime.fromisoformat(json.loads(state)["timestamp"]["_data_"])
        for state in event_states(database_url)
    ]
    assert recorded == sorted(recorded)  # written in the order an office would have written it
    assert recorded[-1] < NEW_YEAR

    ledger = Ledger(Settings(database_url=database_url))
    try:
        check_the_log_reads_like_an_office_log(ledger, summary)
        check_ping_pong(ledger, summary)
        check_repeat_petitions(ledger, summary)
        check_group_visits(ledger, summary)
        check_reports_and_anonymous_letters(ledger, summary)
        check_appeals_and_extensions(ledger, summary)
        check_open_and_closed(ledger, summary)
    finally:
        ledger.close()


def case_of(ledger: Ledger, number: str) -> UUID:
    return ledger.find_case_id(number)


def check_the_log_reads_like_an_office_log(ledger: Ledger, summary: DemoSummary) -> None:
    ids = list(ledger.iter_case_ids())
    assert len(ids) == summary.cases
    last = None
    for case_id in ids:
        for event in ledger.history(case_id):
            assert event.occurred_at is not None
            assert event.occurred_at <= event.recorded_at < NEW_YEAR
        registered = ledger.history(case_id)[0].recorded_at
        assert last is None or last <= registered  # case numbers follow the log
        last = registered
    for number in summary.stories["backdated"]:  # written down weeks after it happened
        history = ledger.history(case_of(ledger, number))
        assert max(e.recorded_at - e.occurred_at for e in history if e.occurred_at).days >= 14
    for number in summary.stories["late_registration"]:
        late = ledger.get_case(case_of(ledger, number))  # with any correction applied
        assert (late.registered_at - late.received_at).days >= 2
    for number in summary.stories["corrected_received_at"]:
        history = ledger.history(case_of(ledger, number))
        correction = next(e for e in history if e.type == "Corrected")
        assert correction.data["field"] == "received_at" and correction.data["reason"]
        assert correction.data["new_value"] < history[0].data["received_at"]


def check_ping_pong(ledger: Ledger, summary: DemoSummary) -> None:
    for number in summary.stories["ping_pong"]:
        routes = [e.data["to_unit"] for e in ledger.history(case_of(ledger, number))
                  if e.type == "Routed"]  # fmt: skip
        assert any(routes[i] == routes[i + 2] != routes[i + 1] for i in range(len(routes) - 2)), (
            number,
            routes,
        )
    for number in summary.stories["transfer_chain"]:
        routes = [e.data["to_unit"] for e in ledger.history(case_of(ledger, number))
                  if e.type == "Routed"]  # fmt: skip
        assert len(routes) >= 4 and len(set(routes)) == len(routes)


def check_repeat_petitions(ledger: Ledger, summary: DemoSummary) -> None:
    cases = {c.case_number: c for c in map(ledger.get_case, ledger.iter_case_ids())}
    for number in summary.stories["repeat_petition"]:
        repeat = cases[number]
        earlier = [
            c
            for c in cases.values()
            if c.id != repeat.id
            and set(c.petitioner_ids) & set(repeat.petitioner_ids)
            and c.category == repeat.category
            and c.stage is Stage.CLOSED
            and ledger.history(c.id)[-1].recorded_at < repeat.received_at  # closed before
        ]
        assert earlier, number
    for number in summary.stories["merged_duplicate"]:
        duplicate = cases[number]
        assert duplicate.stage is Stage.MERGED and duplicate.merged_into is not None
        target = ledger.get_case(duplicate.merged_into)
        assert target.petitioner_ids == duplicate.petitioner_ids
        assert target.received_at < duplicate.received_at


def check_group_visits(ledger: Ledger, summary: DemoSummary) -> None:
    for number in summary.stories["group_visit"]:
        case = ledger.get_case(case_of(ledger, number))
        assert case.petitioner_kind == "集体"
        assert case.headcount >= 30
        assert 1 <= len(case.petitioner_ids) <= 5
        types = [e.type for e in ledger.history(case.id)]
        assert "LeadAssigned" in types and "LeadReleased" in types


def check_reports_and_anonymous_letters(ledger: Ledger, summary: DemoSummary) -> None:
    for number in summary.stories["report"]:
        registered = ledger.history(case_of(ledger, number))[0]
        assert registered.data["matter_kind"] == "检举控告"
        assert registered.data["concerned_unit"] is not None
        assert registered.data["concerned_person"]
        routed = next(e for e in ledger.history(case_of(ledger, number)) if e.type == "Routed")
        assert ledger.get_unit(routed.data["to_unit"]).kind == "纪检监察"
    for number in summary.stories["anonymous"]:
        registered = ledger.history(case_of(ledger, number))[0]
        assert registered.data["petitioner_kind"] == "匿名"
        assert list(registered.data["petitioners"][0]) == ["petitioner_id"]


def check_appeals_and_extensions(ledger: Ledger, summary: DemoSummary) -> None:
    for number in summary.stories["rereview_upheld"]:
        decided = [e for e in ledger.history(case_of(ledger, number)) if e.type == "AppealDecided"]
        assert [e.data["level"] for e in decided] == ["复查", "复核"]
        assert decided[-1].data["decision"] == "维持"
    (number,) = summary.stories["extension_beyond_max"][:1]
    decision = next(
        e for e in ledger.history(case_of(ledger, number)) if e.type == "ExtensionDecided"
    )
    assert decision.data["days_granted"] == 45
    for number in summary.stories["extension_rejected"]:
        decision = next(
            e for e in ledger.history(case_of(ledger, number)) if e.type == "ExtensionDecided"
        )
        assert decision.data["decision"] == "不批准"
    for number in summary.stories["supervision_ignored"]:
        types = [e.type for e in ledger.history(case_of(ledger, number))]
        assert "SupervisionIssued" in types and "SupervisionAnswered" not in types


def check_open_and_closed(ledger: Ledger, summary: DemoSummary) -> None:
    still_open = {n for s in ("open_overdue", "open_due_soon", "open_new")
                  for n in summary.stories[s]}  # fmt: skip
    for number in still_open:
        assert ledger.get_case(case_of(ledger, number)).stage not in (
            Stage.CLOSED, Stage.MERGED, Stage.WITHDRAWN,
        )  # fmt: skip
    for number in summary.stories["open_overdue"]:
        assert "Replied" not in [e.type for e in ledger.history(case_of(ledger, number))]
    stages = [ledger.get_case(i).stage for i in ledger.iter_case_ids()]
    assert stages.count(Stage.CLOSED) > len(stages) / 2  # most cases end closed
    for number in summary.stories["withdrawn"]:
        assert ledger.get_case(case_of(ledger, number)).stage is Stage.WITHDRAWN


def test_the_same_seed_writes_the_same_events_and_another_seed_does_not(
    database_url: str, tmp_path: Path
) -> None:
    first = write_demo(Settings(database_url=database_url), seed=7, cases=CASES)
    second_url = f"sqlite:///{tmp_path}/second.sqlite3"
    second = write_demo(Settings(database_url=second_url), seed=7, cases=CASES)
    other_url = f"sqlite:///{tmp_path}/other.sqlite3"
    other = write_demo(Settings(database_url=other_url), seed=8, cases=CASES)

    assert first == second
    states = event_states(database_url)
    assert states == event_states(second_url)
    assert len(states) > first.events  # case numbering writes its own events too
    assert other.stories != first.stories
    other_states = event_states(other_url)
    assert not set(other_states) & set(states)
