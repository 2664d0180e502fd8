"""Exports of list views as CSV or XLSX: what assessors paste into their reports (考核报表).

One row per dict; the columns are the union of the rows' keys in first-seen order unless
given. Nested values (dicts, lists) become compact JSON text, ``None`` an empty cell, dates
and datetimes ISO 8601 text, ``Decimal`` a number. CSV is UTF-8 with a BOM so that Excel
opens Chinese text correctly. A text cell that a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is defused: a leading
apostrophe in CSV, a plain string cell (never a formula) in XLSX.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Literal
from urllib.parse import quote

from openpyxl import Workbook  # type: ignore[import-untyped,unused-ignore]
from openpyxl.styles import Font  # type: ignore[import-untyped,unused-ignore]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped,unused-ignore]
from starlette.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL_CHARS = 32_767  # Excel refuses a workbook with a longer cell
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0
_MIN_WIDTH, _MAX_WIDTH = 6, 60

Cell = str | int | float | Decimal | bool | None


def export_response(
    rows: list[dict[str, Any]],
    *,
    fmt: Literal["csv", "xlsx"],
    filename: str,
    columns: list[str] | None = None,
) -> Response:
    """The rows as a downloadable ``filename.csv`` or ``filename.xlsx`` attachment."""
    columns = columns if columns is not None else _union_of_keys(rows)
    table = [[cell_value(row.get(column)) for column in columns] for row in rows]
    if fmt == "csv":
        body, media_type = to_csv(columns, table), CSV_MEDIA_TYPE
    elif fmt == "xlsx":
        body, media_type = to_xlsx(columns, table, sheet=filename), XLSX_MEDIA_TYPE
    else:
        raise ValueError(f"unknown export format: {fmt!r}")
    headers = {"Content-Disposition": content_disposition(_with_suffix(filename, fmt))}
    return Response(content=body, media_type=media_type, headers=headers)


def cell_value(value: Any) -> Cell:
    """One value as a cell: a number or boolean stays one; everything else becomes text."""
    if value is None or isinstance(value, str | bool | int | Decimal):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return cell_value(value.value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return str(value)


def to_csv(columns: list[str], table: list[list[Cell]]) -> bytes:
    """A header line and one line per row, UTF-8 with a BOM, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_csv_text(column) for column in columns])
    writer.writerows([_csv_text(cell) for cell in row] for row in table)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: list[str], table: list[list[Cell]], *, sheet: str = "export") -> bytes:
    """One sheet: a bold, frozen header row, numbers as numbers, columns roughly fitted."""
    workbook = Workbook()
    worksheet = workbook.worksheets[0]  # a new workbook has exactly one
    worksheet.title = _sheet_title(sheet)
    worksheet.append([_xlsx_text(column) for column in columns])
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
    for row_number, row in enumerate(table, start=2):
        for column_number, value in enumerate(row, start=1):
            cell = worksheet.cell(row=row_number, column=column_number)
            if isinstance(value, str):
                cell.value = _xlsx_text(value)
                if value.startswith(FORMULA_PREFIXES):
                    cell.data_type = "s"  # openpyxl would take "=…" for a formula
                    cell.quotePrefix = True  # and Excel keeps it text when edited
            else:
                cell.value = value
    worksheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        width = _width([column, *(row[index - 1] for row in table)])
        worksheet.column_dimensions[get_column_letter(index)].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real name per RFC 6266 / 5987."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "export"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def display_width(text: str) -> int:
    """Columns the text takes in a spreadsheet: wide (CJK) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _union_of_keys(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # 100, not 1E+2
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _xlsx_text(value: str) -> str:
    value = _XLSX_ILLEGAL.sub("", value)
    if len(value) > XLSX_MAX_CELL_CHARS:
        value = value[: XLSX_MAX_CELL_CHARS - 1] + "…"
    return value


def _width(values: Iterable[Cell]) -> float:
    longest = 0
    for value in values:
        text = _csv_text(value) if value is not None else ""
        longest = max([longest, *(display_width(line) for line in text.splitlines())])
    return float(min(max(longest + 2, _MIN_WIDTH), _MAX_WIDTH))


def _sheet_title(name: str) -> str:
    stem = re.sub(r"\.xlsx$", "", name, flags=re.IGNORECASE)
    title = re.sub(r"[\[\]:*?/\\]", "_", stem).strip("'")[:31]
    return title or "export"


def _with_suffix(filename: str, fmt: str) -> str:
    return filename if filename.lower().endswith("." + fmt) else f"{filename}.{fmt}"
