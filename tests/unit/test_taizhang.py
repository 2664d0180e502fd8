"""The 台账 format: how dates are read, and the template that ships with the project."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from api.taizhang import (
    HEADERS,
    REQUIRED,
    Cell,
    Cells,
    FileProblem,
    SheetRow,
    read_rows,
    template_path,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def read_date(value: Cell) -> tuple[datetime | None, bool | None, list[tuple[str, str]]]:
    cells = Cells(SheetRow(2, {"受理日期": value}), SHANGHAI)
    when = cells.when("受理日期")
    return (when.instant, when.date_only, cells.problems) if when else (None, None, cells.problems)


NOON = datetime(2024, 3, 5, 12, 0, tzinfo=SHANGHAI)
AT_1430 = datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("cell", "instant", "date_only"),
    [
        ("2024-03-05", NOON, True),  # ISO: a day only stands for its noon
        ("2024/3/5", NOON, True),  # as Excel shows dates in China
        ("2024.3.5", NOON, True),
        ("2024年3月5日", NOON, True),
        ("20240305", NOON, True),  # compact
        (" 2024-03-05 ", NOON, True),  # stray spaces
        ("2024-03-05 14:30", AT_1430, False),  # with a time of day
        ("2024年3月5日 14时30分", AT_1430, False),
        ("2024-03-05T14:30:00", AT_1430, False),
        (datetime(2024, 3, 5), NOON, True),  # an XLSX date cell: midnight means no time
        (datetime(2024, 3, 5, 14, 30), AT_1430, False),  # an XLSX date-time cell
        (date(2024, 3, 5), NOON, True),
        (45356, NOON, True),  # an XLSX date typed in a cell with no date format
    ],
)
def test_a_date_cell_is_read_as_the_day_or_the_instant_it_says(
    cell: Cell, instant: datetime, date_only: bool
) -> None:
    assert read_date(cell) == (instant, date_only, [])


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("2024-02-30", "not a date"),  # no such day
        ("下周一", "not a date"),  # words
        ("03/05/2024", "not a date"),  # month first is ambiguous: refused, never guessed
        ("2024-3", "not a date"),  # no day
        ("2024-03-05 25:00", "not a date"),  # no such hour
        ("1899-12-31", "outside 1900"),  # a typo's year
        ("3024-01-01", "outside 1900"),
    ],
)
def test_a_cell_that_is_not_a_date_is_refused_naming_the_column(cell: Cell, words: str) -> None:
    instant, _, problems = read_date(cell)
    assert instant is None
    [(column, reason)] = problems
    assert column == "受理日期" and words in reason


def test_the_shipped_templates_have_every_column_and_no_rows() -> None:
    for suffix in (".csv", ".xlsx"):
        path = template_path(suffix)
        assert read_rows(path) == []
    book = load_workbook(template_path(".xlsx"), read_only=True)
    [header] = book["台账"].iter_rows(max_row=1, values_only=True)
    assert header == HEADERS
    notes = list(book["填写说明"].iter_rows(min_row=2, values_only=True))
    assert [n[0] for n in notes] == list(HEADERS)
    assert {n[0] for n in notes if n[1] == "是"} == REQUIRED
    csv_header = template_path(".csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert tuple(csv_header.split(",")) == HEADERS


def test_a_csv_saved_by_excel_in_gbk_is_read_and_empty_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    text = "台账编号,登记日期,渠道,事项类别,内容摘要\n1,2024-01-02,来信,土地承包,边界纠纷\n,,,,\n"
    path.write_bytes(text.encode("gb18030"))
    [row] = read_rows(path)
    assert row.number == 2 and row.cells["事项类别"] == "土地承包"


def test_a_file_that_is_not_a_taizhang_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "台账.txt"
    other.write_text("x")
    with pytest.raises(FileProblem, match=r"\.csv or \.xlsx"):
        read_rows(other)
    broken = tmp_path / "台账.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(FileProblem, match="not a readable"):
        read_rows(broken)
    twice = tmp_path / "twice.csv"
    twice.write_text("台账编号,登记日期,渠道,事项类别,内容摘要,渠道\n")
    with pytest.raises(FileProblem, match="appears twice"):
        read_rows(twice)
