"""Importing a petition office's historical 台账: good rows become the cases their dates tell,
every bad row is reported with its column and reason, nothing is written twice — on both
databases, from CSV and from XLSX."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.importer import ImportRefused, ImportReport, import_ledger
from api.taizhang import Cell, FileProblem, write_table
from domain.errors import ProcessRuleViolation
from ledger.application import Actor, Ledger
from projections.viewsets import DEFAULT_RULEBOOK, LoadedRules, load
from tests.conftest import Clock
from tests.integration.conftest import stored_event_count
from tests.integration.projection_helpers import project
from tests.world import World

Row = dict[str, Cell]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00").astimezone(UTC)


GOOD: list[Row] = [
    {  # on time; registered with a time of day, routed the same day
        "台账编号": "2024-001",
        "收到日期": "2024-04-01",
        "登记日期": "2024-04-01 16:30",
        "渠道": "来信",
        "信访人": "张秀英",
        "联系电话": "13800000000",
        "事项类别": "住房保障",
        "内容摘要": "公租房屋顶漏水，多次报修无人处理",
        "转送日期": "2024-04-01",
        "办理单位": "ZJ",
        "承办人": "李明",
        "受理日期": "2024-04-03",
        "答复日期": "2024-04-20",
        "答复结果": "支持",
        "满意度评价": "满意",
        "评价日期": "2024-04-22",
        "办结日期": "2024-04-22",
    },
    {  # replied 19.5 days after the handling deadline, with a leader in charge
        "台账编号": "2024-002",
        "登记日期": "2024-03-04",
        "渠道": "来访",
        "信访人": "李桂兰",
        "事项类别": "住房保障",
        "内容摘要": "拆迁安置房迟迟未交付",
        "转送日期": "2024-03-05",
        "办理单位": "市住建局",
        "承办人": "李明",
        "受理日期": "2024-03-10",
        "包案领导": "陈志华",
        "包案日期": "2024-03-10",
        "答复日期": "2024-05-29",
        "答复结果": "支持",
        "办结日期": "2024-06-03",
    },
    {  # answered, rated 不满意, through 复查 and the final 复核
        "台账编号": "2024-003",
        "登记日期": "2024/2/1",
        "渠道": "来信",
        "信访人": "王建国",
        "事项类别": "社会保险",
        "内容摘要": "养老保险缴费年限认定有误",
        "转送日期": "2024/2/2",
        "办理单位": "RS",
        "承办人": "张伟",
        "受理日期": "2024/2/5",
        "答复日期": "2024/2/20",
        "答复结果": "不予支持",
        "满意度评价": "不满意",
        "评价日期": "2024/2/25",
        "复查申请日期": "2024年3月1日",
        "复查机关": "市人民政府",
        "复查决定日期": "2024年3月20日",
        "复查结果": "维持",
        "复核申请日期": "2024年4月1日",
        "复核机关": "SXF",
        "复核决定日期": "2024年4月25日",
        "复核结果": "维持",
        "办结日期": "2024年4月26日",
    },
    {  # a group visit: two representatives of thirty, refused
        "台账编号": "2024-004",
        "登记日期": "2024-05-06",
        "渠道": "来访",
        "信访人": "刘强、王丽",
        "人数": "30",
        "事项类别": "工资待遇",
        "内容摘要": "企业改制后拖欠工资",
        "转送日期": "2024-05-06",
        "办理单位": "RS",
        "承办人": "张伟",
        "不予受理日期": "2024-05-08",
        "不予受理理由": "已进入劳动仲裁程序",
        "办结日期": "2024-05-09",
    },
    {  # an extension approved by the unit's head (nobody named: its 负责人)
        "台账编号": "2024-005",
        "登记日期": "2024-06-03",
        "渠道": "电话",
        "信访人": "陈红",
        "事项类别": "住房保障",
        "内容摘要": "廉租房资格审核不公",
        "转送日期": "2024-06-04",
        "办理单位": "ZJ",
        "承办人": "李明",
        "受理日期": "2024-06-05",
        "延期申请日期": "2024-07-25",
        "延期天数": "30",
        "延期理由": "需现场勘查",
        "延期批准日期": "2024-07-26",
        "答复日期": "2024-08-20",
        "答复结果": "解释说明",
    },
    {  # an anonymous report, handled by the office itself
        "台账编号": "2024-006",
        "登记日期": "2024-07-01",
        "渠道": "网上",
        "事项性质": "检举控告",
        "被反映单位": "市住建局",
        "事项类别": "干部作风",
        "内容摘要": "某科室工作人员吃拿卡要",
        "受理日期": "2024-07-02",
        "答复日期": "2024-07-30",
        "答复结果": "解释说明",
    },
]


def bad(reference: str, **over: Cell) -> Row:
    row = {**GOOD[1], "台账编号": reference, **over}
    return {k: v for k, v in row.items() if v is not None}


BAD: list[tuple[Row, str, str]] = [  # (row, the column blamed, words of the reason)
    (bad("2024-007", 登记日期=None), "登记日期", "required"),
    (bad("2024-008", 答复日期="2024-03-08"), "答复日期", "before 受理日期"),
    (bad("2024-009", 办理单位="市水务局"), "办理单位", "no unit"),
    (bad("2024-010", 受理日期="2024-02-30"), "受理日期", "not a date"),
    (  # the aggregate's own rule: the unit that replied cannot review itself
        bad("2024-011", 复查申请日期="2024-06-10", 复查机关="ZJ", 办结日期=None),
        "复查申请日期",
        "cannot review itself",
    ),
    (bad("2024-012", 承办人="钱多多"), "承办人", "no 钱多多 among the members of 市住建局"),
    ({**GOOD[0], "内容摘要": "重复录入"}, "台账编号", "also on row 2"),
    (bad("2024-014", 答复结果=None), "答复结果", "required with 答复日期"),
    (bad("2024-015", 渠道="微信"), "渠道", "not one of"),
    (  # a date without a time stands for its noon, still to come at the import (09:00)
        {k: GOOD[5][k] for k in ("渠道", "事项类别", "内容摘要")}
        | {"台账编号": "2024-016", "登记日期": "2025-03-03"},
        "登记日期",
        "in the future",
    ),
    (bad("2024-017", 包案日期="2024-03-01"), "包案日期", "before 登记日期"),
]
ROWS = GOOD + [row for row, _, _ in BAD]
BAD_CELLS = {(len(GOOD) + 2 + i, column) for i, (_, column, _) in enumerate(BAD)}
# Without the row that is only "in the future" for the tests' clock (for a real clock):
TIMELESS = [(row, column) for row, column, words in BAD if words != "in the future"]

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


def as_cells(row: Row, fmt: str) -> Row:
    """In an XLSX, dates are date cells as a spreadsheet program writes them."""
    if fmt == "csv":
        return row
    out: Row = {}
    for key, value in row.items():
        out[key] = value
        if key == "人数" and isinstance(value, str):
            out[key] = int(value)
        elif isinstance(value, str) and (_DAY.match(value) or _TIMED.match(value)):
            with suppress(ValueError):  # an impossible date stays text, as typed
                out[key] = datetime.fromisoformat(value)
    return out


@pytest.fixture(params=["csv", "xlsx"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def taizhang(tmp_path: Path, fmt: str) -> Callable[[list[Row]], Path]:
    def write(rows: list[Row], name: str = "台账") -> Path:
        path = tmp_path / f"{name}.{fmt}"
        write_table(path, [as_cells(r, fmt) for r in rows])
        return path

    return write


@pytest.fixture
def city(world: World, clock: Clock) -> World:
    """The world, with the heads in whose name 复查 and 复核 decisions are recorded."""
    admin = Actor(world.clerk, world.office)
    for name, unit in (("刘建军", world.city), ("何平", world.province)):
        person = world.ledger.create_person(
            actor=admin, occurred_at=clock.now, command_id=f"head-{name}", name=name
        ).aggregate_id
        world.ledger.update_person(
            person,
            "join",
            actor=admin,
            occurred_at=clock.now,
            command_id=f"head-{name}-join",
            unit=unit,
            role="负责人",
        )
    return world


@pytest.fixture(scope="module")
def national() -> LoadedRules:
    return load(DEFAULT_RULEBOOK)


def run(ledger: Ledger, path: Path, **options: Any) -> ImportReport:
    return import_ledger(ledger, path, office="XF", clerk="王芳", **options)


def number_of(report: ImportReport, reference: str) -> str:
    return next(i.case_number for i in report.imported if i.reference == reference)


def test_a_dry_run_reports_every_bad_row_and_why_and_writes_nothing(
    city: World, taizhang: Callable[[list[Row]], Path]
) -> None:
    before = stored_event_count(city.ledger)
    report = run(city.ledger, taizhang(ROWS), dry_run=True, create_people=False)
    assert {(r.row, r.column) for r in report.rejected} == BAD_CELLS
    for rejection, (_, _, words) in zip(report.rejected, BAD, strict=True):
        assert words in rejection.reason, rejection
    assert [i.reference for i in report.imported] == [r["台账编号"] for r in GOOD]
    assert stored_event_count(city.ledger) == before


def test_good_rows_are_imported_with_their_original_dates_and_bad_rows_not_at_all(
    city: World, clock: Clock, taizhang: Callable[[list[Row]], Path], national: LoadedRules
) -> None:
    ledger = city.ledger
    report = run(ledger, taizhang(ROWS))
    assert {(r.row, r.column) for r in report.rejected} == BAD_CELLS
    assert len(report.imported) == len(GOOD) and all(i.new_case for i in report.imported)
    assert sum(1 for _ in ledger.iter_case_ids()) == len(GOOD)  # no bad row left a case

    late = ledger.find_case_id(number_of(report, "2024-002"))
    history = ledger.history(late)
    assert [e.type for e in history] == [
        "Registered",
        "Routed",
        "Accepted",
        "LeadAssigned",
        "Replied",
        "Closed",
    ]
    accepted = history[2]
    assert accepted.occurred_at == local("2024-03-10 12:00")  # a day-only date: its noon
    assert {e.recorded_at for e in history} == {clock.now}  # written at import, honestly
    appeal = ledger.get_case(ledger.find_case_id(number_of(report, "2024-003")))
    assert appeal.stage == "已办结" and [a["level"] for a in appeal.appeals] == ["复查", "复核"]
    timed = ledger.history(ledger.find_case_id(number_of(report, "2024-001")))
    registered = ledger.get_case(ledger.find_case_id(number_of(report, "2024-001")))
    assert registered.received_at == local("2024-04-01 12:00")  # received that day
    assert timed[0].occurred_at == local("2024-04-01 16:30")
    assert timed[1].occurred_at == local("2024-04-01 16:30")  # routed that day, not before
    group = ledger.get_case(ledger.find_case_id(number_of(report, "2024-004")))
    assert (group.petitioner_kind, group.headcount, group.stage) == ("集体", 30, "已办结")

    views = project(ledger, national)
    who = {p["party"]: p for p in views.who_delayed_what("unit", clock.now)}
    assert who[city.housing.hex]["overdue_days"] == Decimal("19.5")  # 10 May 00:00 → 29 May noon
    assert who[city.labour.hex]["overdue_days"] == Decimal("0.0")
    leader = {p["party"]: p for p in views.who_delayed_what("leader", clock.now)}
    assert leader[city.leader.hex]["overdue_days"] == Decimal("19.5")
    chain = [
        (i["holder_unit"], i["stage"], i["from"], i["to"], i["deadline"], i["overdue_days"])
        for i in views.chain(late.hex, clock.now)
    ]
    office, housing = city.office.hex, city.housing.hex
    registered, routed = local("2024-03-04 12:00"), local("2024-03-05 12:00")
    accepted, replied = local("2024-03-10 12:00"), local("2024-05-29 12:00")
    assert chain == [  # the responsibility chain in the 台账's own dates
        (office, "已收件", registered, registered, date(2024, 3, 4), Decimal("0.0")),
        (office, "已登记", registered, routed, date(2024, 3, 19), Decimal("0.0")),
        (housing, "已转送", routed, accepted, date(2024, 3, 20), Decimal("0.0")),
        (housing, "办理中", accepted, replied, date(2024, 5, 9), Decimal("19.5")),
        (None, "已答复", replied, local("2024-06-03 12:00"), None, Decimal("0.0")),
    ]


def test_importing_the_same_file_again_adds_nothing(
    city: World, taizhang: Callable[[list[Row]], Path]
) -> None:
    path = taizhang(ROWS)
    first = run(city.ledger, path)
    events = stored_event_count(city.ledger)
    again = run(city.ledger, path)
    assert again.imported == []
    assert [u.case_number for u in again.unchanged] == [i.case_number for i in first.imported]
    assert {(r.row, r.column) for r in again.rejected} == BAD_CELLS
    assert stored_event_count(city.ledger) == events


def test_a_row_that_gained_steps_gets_only_those_and_a_changed_date_is_refused(
    city: World, taizhang: Callable[[list[Row]], Path]
) -> None:
    run(city.ledger, taizhang(GOOD))
    events = stored_event_count(city.ledger)
    kept_up = [dict(r) for r in GOOD]
    kept_up[4]["办结日期"] = "2024-08-25"  # the 台账 was kept: 2024-005 is now closed
    kept_up[0]["受理日期"] = "2024-04-04"  # and someone retyped a date already imported
    report = run(city.ledger, taizhang(kept_up, "台账-更新"))
    assert [(i.reference, i.steps_written, i.new_case) for i in report.imported] == [
        ("2024-005", 1, False)
    ]
    [refused] = report.rejected
    assert (refused.reference, refused.column) == ("2024-001", "受理日期")
    assert "already imported as 2024-04-03" in refused.reason
    assert stored_event_count(city.ledger) == events + 1


def test_an_import_cut_off_mid_row_finishes_when_run_again(
    city: World, taizhang: Callable[[list[Row]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third command of the appeal story fails (the connection drops): the case is half
    written. Running the import again replays what was written and writes the rest, once."""
    ledger = city.ledger
    path = taizhang([GOOD[2]])
    real_act = ledger.act
    calls = 0

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionError("server closed the connection unexpectedly")
        return real_act(*args, **kwargs)

    monkeypatch.setattr(ledger, "act", flaky)
    with pytest.raises(ConnectionError):
        run(ledger, path)
    [case_id] = ledger.iter_case_ids()
    assert [e.type for e in ledger.history(case_id)] == ["Registered", "Routed", "Accepted"]

    monkeypatch.setattr(ledger, "act", real_act)
    report = run(ledger, path)
    assert [(i.steps_written, i.new_case) for i in report.imported] == [(7, False)]
    types = [e.type for e in ledger.history(case_id)]
    assert types == [
        "Registered",
        "Routed",
        "Accepted",
        "Replied",
        "Rated",
        "AppealFiled",
        "AppealDecided",
        "AppealFiled",
        "AppealDecided",
        "Closed",
    ]
    assert len({e.command_id for e in ledger.history(case_id)}) == len(types)


def test_people_missing_from_the_directory_are_added_only_when_asked(
    city: World, taizhang: Callable[[list[Row]], Path]
) -> None:
    row = {**GOOD[1], "台账编号": "2024-020", "承办人": "钱多多"}
    path = taizhang([row])
    [refused] = run(city.ledger, path).rejected
    assert refused.column == "承办人"
    events = stored_event_count(city.ledger)
    dry = run(city.ledger, path, dry_run=True, create_people=True)
    assert dry.rejected == [] and stored_event_count(city.ledger) == events

    report = run(city.ledger, path, create_people=True)
    assert report.people_created == ["钱多多 (ZJ 承办人)"]
    case = city.ledger.get_case(city.ledger.find_case_id(report.imported[0].case_number))
    handler = city.ledger.get_person(case.handler) if case.handler else None
    assert handler is not None and handler.name == "钱多多"
    assert handler.is_member_of(city.housing)
    again = run(city.ledger, path, create_people=True)
    assert again.people_created == [] and again.imported == []


def test_an_unusable_file_or_office_is_refused_before_anything_is_written(
    city: World, tmp_path: Path, taizhang: Callable[[list[Row]], Path]
) -> None:
    events = stored_event_count(city.ledger)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("台账编号,登记日期,渠道,事项类别,内容摘要,经办科室\n1,2024-01-01,来信,x,y,z\n")
    with pytest.raises(FileProblem, match="unknown column"):
        run(city.ledger, wrong)
    missing = tmp_path / "missing.csv"
    missing.write_text("台账编号,登记日期\n1,2024-01-01\n")
    with pytest.raises(FileProblem, match="required column"):
        run(city.ledger, missing)
    with pytest.raises(ImportRefused, match="--office"):
        import_ledger(city.ledger, taizhang(GOOD), office="市水务局", clerk="王芳")
    with pytest.raises(ImportRefused, match="--clerk"):
        import_ledger(city.ledger, taizhang(GOOD), office="XF", clerk="李明")
    assert stored_event_count(city.ledger) == events


def test_the_command_line_writes_the_template_checks_imports_and_reports(
    city: World, database_url: str, tmp_path: Path, taizhang: Callable[[list[Row]], Path]
) -> None:
    from typer.testing import CliRunner

    from api.cli import app
    from api.taizhang import HEADERS, read_rows

    def petition(*args: str) -> tuple[int, str]:
        """Exit status, and what was printed (stdout alone with --json)."""
        result = CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if "--json" in args:
            return result.exit_code, result.stdout
        return result.exit_code, " ".join(result.output.split())  # as one line, unwrapped

    template = tmp_path / "空白台账.xlsx"
    assert petition("import", "--template", str(template))[0] == 0
    assert read_rows(template) == []
    from openpyxl import load_workbook

    assert next(load_workbook(template).active.iter_rows(values_only=True)) == HEADERS  # type: ignore[union-attr]

    path = taizhang(GOOD + [row for row, _ in TIMELESS])
    events = stored_event_count(city.ledger)
    code, output = petition(
        "import", str(path), "--office", "XF", "--clerk", "王芳", "--dry-run", "--json"
    )
    assert code == 1, output  # rows were rejected
    report = json.loads(output)
    assert (report["new_cases"], report["rejected_rows"]) == (len(GOOD), len(TIMELESS))
    assert {(r["row"], r["column"]) for r in report["rejections"]} == {
        (len(GOOD) + 2 + i, column) for i, (_, column) in enumerate(TIMELESS)
    }
    assert stored_event_count(city.ledger) == events

    code, output = petition("import", str(path), "--office", "XF", "--clerk", "王芳")
    assert code == 1 and "rejected rows" in output and "6 new cases imported" in output
    code, output = petition(
        "import", str(taizhang(GOOD, "good")), "--office", "XF", "--clerk", "王芳"
    )
    assert code == 0 and "6 unchanged" in output and "0 steps recorded" in output
    code, output = petition("import", str(path), "--office", "水务局", "--clerk", "王芳")
    assert code == 2 and "--office" in output


def test_a_row_refused_while_writing_is_reported_and_the_next_rows_still_import(
    city: World, taizhang: Callable[[list[Row]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone acts on a case between the check and the write (the aggregate refuses the
    import's step): the row is reported with what was written, the other rows import."""
    ledger = city.ledger
    real_act = ledger.act

    def raced(case_id: Any, action: str, **kwargs: Any) -> Any:
        if kwargs["command_id"] == "import:XF:2024-002:accept":
            raise ProcessRuleViolation("accept (受理): not possible while the case is 已撤回")
        return real_act(case_id, action, **kwargs)

    monkeypatch.setattr(ledger, "act", raced)
    report = run(ledger, taizhang(GOOD))
    [refused] = report.rejected
    assert (refused.reference, refused.column) == ("2024-002", "受理日期")
    assert "after 2 step(s) of this row were written" in refused.reason
    assert [i.reference for i in report.imported] == [
        r["台账编号"] for r in GOOD if r["台账编号"] != "2024-002"
    ]
