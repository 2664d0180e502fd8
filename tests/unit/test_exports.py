"""Exports of list views: CSV with a BOM and XLSX, read back as an assessor's tools read them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import unquote

import openpyxl
import pytest

from api.exports import display_width, export_response

ROWS: list[dict[str, Any]] = [
    {
        "case": "XF-2025-00123",
        "unit": "市住建局",
        "overdue_days": 3,
        "rate": Decimal("0.875"),
        "flags": ["推诿", "超期"],
        "deadline": datetime(2025, 3, 31, 16, 0, tzinfo=UTC),
    },
    {
        "case": "XF-2025-00124",
        "unit": None,
        "overdue_days": 0,
        "rate": Decimal("1"),
        "handler": {"name": "张三", "unit": "区信访局"},
        "received": date(2025, 3, 1),
    },
]


def _csv(response_body: bytes) -> list[list[str]]:
    assert response_body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel reads Chinese"
    text = response_body[3:].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def _sheet(response_body: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(response_body)).active


def test_csv_round_trips_chinese_text_nested_values_and_none() -> None:
    response = export_response(ROWS, fmt="csv", filename="delays")
    header, first, second = _csv(bytes(response.body))
    assert header == [
        "case",
        "unit",
        "overdue_days",
        "rate",
        "flags",
        "deadline",
        "handler",
        "received",
    ]
    assert first == [
        "XF-2025-00123",
        "市住建局",
        "3",
        "0.875",
        '["推诿","超期"]',
        "2025-03-31T16:00:00+00:00",
        "",
        "",
    ]
    assert second == [
        "XF-2025-00124",
        "",
        "0",
        "1",
        "",
        "",
        '{"name":"张三","unit":"区信访局"}',
        "2025-03-01",
    ]


def test_csv_is_served_as_utf8_text() -> None:
    response = export_response(ROWS, fmt="csv", filename="delays")
    assert response.media_type == "text/csv; charset=utf-8"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


def test_given_columns_choose_and_order_the_output() -> None:
    response = export_response(ROWS, fmt="csv", filename="x", columns=["unit", "case", "not_a_key"])
    assert _csv(bytes(response.body)) == [
        ["unit", "case", "not_a_key"],
        ["市住建局", "XF-2025-00123", ""],
        ["", "XF-2025-00124", ""],
    ]


def test_decimal_is_written_as_a_plain_number_never_in_exponent_form() -> None:
    response = export_response([{"n": Decimal("1E+2")}], fmt="csv", filename="x")
    assert _csv(bytes(response.body))[1] == ["100"]


def test_no_rows_give_an_empty_export() -> None:
    assert _csv(bytes(export_response([], fmt="csv", filename="x").body)) == [[]]
    assert _sheet(bytes(export_response([], fmt="xlsx", filename="x").body)).max_row == 1


def test_xlsx_reads_back_with_header_values_and_one_sheet() -> None:
    response = export_response(ROWS, fmt="xlsx", filename="超期统计")
    assert response.media_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = openpyxl.load_workbook(io.BytesIO(bytes(response.body)))
    assert workbook.sheetnames == ["超期统计"]
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "case",
        "unit",
        "overdue_days",
        "rate",
        "flags",
        "deadline",
        "handler",
        "received",
    )
    assert rows[1] == (
        "XF-2025-00123",
        "市住建局",
        3,
        0.875,
        '["推诿","超期"]',
        "2025-03-31T16:00:00+00:00",
        None,
        None,
    )
    assert rows[2] == (
        "XF-2025-00124",
        None,
        0,
        1,
        None,
        None,
        '{"name":"张三","unit":"区信访局"}',
        "2025-03-01",
    )


def test_xlsx_numbers_are_numbers_and_header_is_bold_and_frozen() -> None:
    sheet = _sheet(bytes(export_response(ROWS, fmt="xlsx", filename="x").body))
    assert sheet["C2"].data_type == "n"
    assert sheet["D2"].data_type == "n"
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"


def test_xlsx_column_widths_count_chinese_characters_double() -> None:
    rows = [{"ascii": "abcdefghij", "cjk": "市住建局城建科科长"}]
    sheet = _sheet(bytes(export_response(rows, fmt="xlsx", filename="x").body))
    assert sheet.column_dimensions["A"].width == 12  # 10 characters + 2
    assert sheet.column_dimensions["B"].width == 20  # 9 wide characters = 18 + 2


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("abc", 3),  # narrow Latin letters
        ("信访", 4),  # wide CJK characters
        ("ＡＢ", 4),  # full-width Latin letters
        ("XF-2025-信访", 12),  # mixed
        ("", 0),  # nothing
    ],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


def test_xlsx_drops_characters_that_xml_cannot_hold() -> None:
    rows = [{"note": "来信\x00\x07内容"}]
    sheet = _sheet(bytes(export_response(rows, fmt="xlsx", filename="x").body))
    assert sheet["A2"].value == "来信内容"


FORMULAS = [
    '=HYPERLINK("http://evil","点击")',  # a formula
    "+1+2",  # a formula in Excel
    "-2+3",  # a formula in Excel
    "@SUM(A1:A2)",  # a formula in Lotus-style syntax
    "\t=1+1",  # a tab before the formula
]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_defuses_text_that_a_spreadsheet_would_run_as_a_formula(text: str) -> None:
    response = export_response([{"note": text}], fmt="csv", filename="x")
    assert _csv(bytes(response.body))[1] == ["'" + text]


@pytest.mark.parametrize("text", FORMULAS)
def test_xlsx_stores_formula_like_text_as_a_plain_string(text: str) -> None:
    sheet = _sheet(bytes(export_response([{"note": text}], fmt="xlsx", filename="x").body))
    assert sheet["A2"].data_type == "s"
    assert sheet["A2"].value == text


@pytest.mark.parametrize(
    "value",
    [
        -5,  # a negative number is a number, not a formula
        "信访=投诉",  # "=" not at the start
        "a-b",  # "-" not at the start
    ],
)
def test_harmless_values_are_not_touched(value: object) -> None:
    csv_body = bytes(export_response([{"v": value}], fmt="csv", filename="x").body)
    assert _csv(csv_body)[1] == [str(value)]
    sheet = _sheet(bytes(export_response([{"v": value}], fmt="xlsx", filename="x").body))
    assert sheet["A2"].value == value


def test_formula_like_header_is_defused_too() -> None:
    response = export_response([{"=cmd": 1}], fmt="csv", filename="x")
    assert _csv(bytes(response.body))[0] == ["'=cmd"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_chinese_filename_is_percent_encoded_with_an_ascii_fallback(
    fmt: Literal["csv", "xlsx"],
) -> None:
    response = export_response(ROWS, fmt=fmt, filename="2025年第一季度 超期统计")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert " " not in encoded and "年" not in encoded
    assert unquote(encoded) == f"2025年第一季度 超期统计.{fmt}"
    disposition.encode("latin-1")  # a header must be latin-1


def test_filename_with_its_suffix_keeps_one_suffix_and_cannot_break_the_header() -> None:
    response = export_response(ROWS, fmt="csv", filename='a"b\r\nSet-Cookie: x.csv')
    disposition = response.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.count('"') == 2
    assert unquote(disposition.split("''", 1)[1]) == 'a"b\r\nSet-Cookie: x.csv'
