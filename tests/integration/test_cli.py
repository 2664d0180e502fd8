"""The operator's command line, on both databases: reading cases, views, rule changes, and
clear refusals that write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import Clock
from tests.integration.conftest import stored_event_count
from tests.world import World

runner = CliRunner()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").astimezone(UTC)


@pytest.fixture
def story(world: World, clock: Clock) -> str:
    """A claim passed from 住建局 to 人社局 and back (A→B→A), replied late."""
    w = world
    clock.now = local("2025-03-03 12:00")
    case = w.register(local("2025-03-03 09:00"))
    cid = case.aggregate_id
    clock.now = local("2025-08-01 12:00")
    w.act(cid, "route", w.at_office, local("2025-03-04 09:00"), to_unit=w.housing)
    w.act(cid, "accept", w.at_housing, local("2025-03-05 09:00"))
    w.act(cid, "route", w.at_housing, local("2025-03-20 09:00"), to_unit=w.labour)
    labour = w.as_(w.labour_handler, w.labour)
    w.act(cid, "route", labour, local("2025-04-10 09:00"), to_unit=w.housing)
    w.act(
        cid,
        "reply",
        w.at_housing,
        local("2025-07-01 09:00"),
        outcome="支持",
        text="已处理",
        delivered_at=local("2025-07-02 09:00"),
    )
    assert case.case_number is not None
    return case.case_number


def invoke(database_url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"DATABASE_URL": database_url})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_case_show_history_and_as_of(story: str, database_url: str) -> None:
    code, output = invoke(database_url, "case", "show", story, "--json")
    assert code == 0, output
    shown = json.loads(output)
    assert shown["stage"] == "已答复" and shown["holder_unit"] == "市住建局"
    code, output = invoke(database_url, "case", "show", story, "--as-of", "2025-03-03", "--json")
    assert code == 0, output
    assert json.loads(output)["stage"] == "已登记"
    code, output = invoke(database_url, "case", "history", story, "--json")
    assert code == 0, output
    assert [e["type"] for e in json.loads(output)] == [
        "Registered",
        "Routed",
        "Accepted",
        "Routed",
        "Routed",
        "Replied",
    ]


def test_views_tell_who_delayed_what_and_the_ping_pong(story: str, database_url: str) -> None:
    code, output = invoke(database_url, "views", "chain", story, "--json")
    assert code == 0, output
    chain = json.loads(output)
    assert [i["holder_unit"] for i in chain][2:6] == [
        "市住建局",
        "市住建局",
        "市人社局",
        "市住建局",
    ]
    code, output = invoke(database_url, "views", "delay", "--by", "unit", "--json")
    assert code == 0, output
    delays = {d["party"]: d for d in json.loads(output)}
    # Accepted 5 March: 60 days end on 4 May, inside the Labour Day holiday (1–5 May), so
    # the deadline rolls to Tuesday 6 May; replied 1 July 09:00 → 55.4 days, all at 住建局,
    # which held the case when the deadline passed.
    assert delays["市住建局"]["overdue_days"] == 55.4
    assert delays["市住建局"]["cases"] == [story]
    code, output = invoke(database_url, "views", "patterns", "--kind", "ping_pong", "--json")
    assert code == 0, output
    assert [p["case_number"] for p in json.loads(output)] == [story]
    code, output = invoke(database_url, "views", "stats", "2025-07", "--json")
    assert code == 0, output
    assert json.loads(output)["handling_units"]


def test_a_rule_change_is_built_beside_compared_and_activated(
    story: str, database_url: str, world: World
) -> None:
    code, output = invoke(database_url, "views", "delay", "--json")
    assert code == 0, output
    before = stored_event_count(world.ledger)
    code, output = invoke(
        database_url, "rebuild", "--rulebook", "rulebooks/local-working-days.toml"
    )
    assert code == 0, output
    diff = ("rules", "diff", "rulebooks/2022-national.toml", "rulebooks/local-working-days.toml")
    code, output = invoke(database_url, *diff, "--json")
    assert code == 0, output
    moved = json.loads(output)["moved_cases"]
    assert moved
    code, output = invoke(database_url, *diff)
    assert code == 0, output
    # The table counts the moved runs range by range: as many as the JSON lists.
    assert f"{len(moved)} clock runs have another deadline or lateness under B" in output
    code, output = invoke(database_url, "rules", "activate", "rulebooks/local-working-days.toml")
    assert code == 0, output
    code, output = invoke(database_url, "rules", "list")
    assert "local-working-days" in output and "live" in output
    assert stored_event_count(world.ledger) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("case", "show", "XF-2025-99999"), "no case numbered XF-2025-99999"),
        (("case", "show", "hello"), "neither a case number"),
        (("case", "show", "XF-2025-00001", "--as-of", "yesterday"), "--as-of"),
        (("views", "delay", "--by", "planet"), "--by must be"),
        (("rules", "activate", "no-such-view-set"), "no view set"),
    ],
)
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    story: str, database_url: str, world: World, args: tuple[str, ...], says: str
) -> None:
    before = stored_event_count(world.ledger)
    code, output = invoke(database_url, *args)
    assert code == 2, output
    assert says in output
    assert stored_event_count(world.ledger) == before
