"""The 信访台账 file format: its columns, reading a filled-in 台账 (CSV or XLSX), and writing
the blank template that ships with the project.

A 台账 is a petition office's register of matters, one row a case, with the date of each
step in its own column. The columns are one table (``COLUMNS``), so the template, the
reader's checks and the 填写说明 sheet cannot drift apart. Cells are read as written; turning
them into commands is ``api.importer``'s job.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from domain.errors import InvalidInput
from domain.provenance import require_plausible_year
from domain.values import parse_enum

DATE_ONLY_AT = time(12, 0)
"""A date without a time is taken as noon, local time: a step on the day after a deadline
then shows as late (half a day), where midnight would hide the day."""

E = TypeVar("E", bound=StrEnum)

SHEET = "台账"
NOTES_SHEET = "填写说明"


@dataclass(frozen=True)
class Column:
    header: str
    required: bool
    help: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "台账编号",
        True,
        "每件一个编号，不得重复；再次导入同一编号不重复登记，只补记新增步骤",
    ),
    Column("收到日期", False, "信访件收到的日期；空则同登记日期"),
    Column("登记日期", True, "如 2024-03-05、2024/3/5、2024年3月5日，可带时间 14:30"),
    Column("登记人", False, "本信访部门登记人姓名；空则为导入时 --clerk 指定的人"),
    Column("渠道", True, "来信、来访、电话、网上、领导信箱"),
    Column("信访人", False, "姓名，多人用顿号分隔（集体访填代表，最多5人）；空或“匿名”为匿名信访"),
    Column("人数", False, "集体访的总人数；空则为信访人个数"),
    Column("联系电话", False, "第一位信访人的电话（加密保存）；同名同电话视为同一信访人"),
    Column("事项性质", False, "申诉求决、检举控告、建议意见；空则为申诉求决"),
    Column("事项类别", True, "如 土地承包、低保救助、住房保障、工资待遇、社会保险、干部作风"),
    Column("内容摘要", True, "反映的主要问题"),
    Column("被反映单位", False, "检举控告所涉单位（单位代码或名称）"),
    Column("被反映人", False, "检举控告所涉人员"),
    Column("转送方式", False, "转送或交办；空则为转送"),
    Column("转送日期", False, "转送/交办到办理单位的日期；办理单位为本信访部门时留空"),
    Column("办理单位", False, "承办单位（单位代码或名称）；空则由本信访部门自行办理"),
    Column("承办人", False, "办理单位的承办人姓名；空则以该单位负责人的名义记载其办理行为"),
    Column("受理日期", False, "受理并告知信访人的日期"),
    Column("不予受理日期", False, "决定不予受理的日期（与受理日期二选一）"),
    Column("不予受理理由", False, "不予受理的理由"),
    Column("包案领导", False, "包案领导姓名，须在单位名录中且不重名"),
    Column("包案日期", False, "领导包案的日期（填写包案领导时必填）"),
    Column("延期申请日期", False, "申请延期的日期"),
    Column("延期天数", False, "申请延长的天数"),
    Column("延期理由", False, "延期的理由"),
    Column("延期批准日期", False, "单位负责人审批延期的日期"),
    Column("延期审批结果", False, "批准或不批准；空则为批准"),
    Column("延期批准人", False, "审批人姓名；空则为办理单位负责人"),
    Column("答复日期", False, "出具书面答复意见的日期"),
    Column("答复结果", False, "支持、解释说明、不予支持（填写答复日期时必填）"),
    Column("答复意见", False, "答复意见摘要"),
    Column("送达日期", False, "答复送达信访人的日期；空则同答复日期"),
    Column("满意度评价", False, "满意、基本满意、不满意"),
    Column("评价日期", False, "信访人评价的日期（填写满意度评价时必填）"),
    Column("复查申请日期", False, "信访人请求复查的日期"),
    Column("复查机关", False, "复查机关（单位代码或名称）"),
    Column("复查决定日期", False, "复查意见作出的日期"),
    Column("复查结果", False, "维持、撤销、部分变更"),
    Column("复核申请日期", False, "信访人请求复核的日期"),
    Column("复核机关", False, "复核机关（单位代码或名称）"),
    Column("复核决定日期", False, "复核意见作出的日期（复核为终结）"),
    Column("复核结果", False, "维持、撤销、部分变更"),
    Column("办结日期", False, "办结的日期"),
    Column("备注", False, "记入办结说明"),
)
HEADERS = tuple(c.header for c in COLUMNS)
REQUIRED = frozenset(c.header for c in COLUMNS if c.required)

Cell = str | int | float | date | datetime | None


class FileProblem(ValueError):
    """The file as a whole cannot be read as a 台账 (nothing is imported)."""


@dataclass(frozen=True)
class SheetRow:
    """One data row: its row number as a spreadsheet shows it (the header is row 1)."""

    number: int
    cells: dict[str, Cell]


def read_rows(path: Path) -> list[SheetRow]:
    """Every non-empty data row of a 台账 file, after checking its header row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _csv_table(path)
    elif suffix in (".xlsx", ".xlsm"):
        table = _xlsx_table(path)
    else:
        raise FileProblem(f"{path.name}: a 台账 is a .csv or .xlsx file")
    rows = iter(table)
    header = next(rows, None)
    if header is None:
        raise FileProblem(f"{path.name}: the file is empty (no header row)")
    names = [_header(h) for h in header]
    while names and not names[-1]:
        names.pop()
    _check_header(path, names)
    out = []
    for number, values in enumerate(rows, start=2):
        cells = {name: _clean(v) for name, v in zip(names, values, strict=False) if name}
        extra = [v for v in values[len(names) :] if _clean(v) is not None]
        if extra:
            raise FileProblem(f"row {number}: has values beyond the last named column")
        if any(v is not None for v in cells.values()):
            out.append(SheetRow(number, cells))
    return out


def _check_header(path: Path, names: list[str]) -> None:
    unknown = [n for n in names if n and n not in HEADERS]
    if unknown:
        raise FileProblem(
            f"{path.name}: unknown column(s) {', '.join(unknown)}; the 台账 columns are "
            f"{'、'.join(HEADERS)} (`petition import --template FILE` writes the template)"
        )
    seen = set()
    for n in names:
        if n and n in seen:
            raise FileProblem(f"{path.name}: column {n} appears twice")
        seen.add(n)
    if any(not n for n in names):
        raise FileProblem(f"{path.name}: a column has no header")
    missing = [h for h in HEADERS if h in REQUIRED and h not in seen]
    if missing:
        raise FileProblem(f"{path.name}: required column(s) missing: {', '.join(missing)}")


def _header(value: Any) -> str:
    return "" if value is None else str(value).strip().lstrip("\ufeff")


def _clean(value: Any) -> Cell:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if value is None or isinstance(value, int | float | date):
        return value  # type: ignore[no-any-return]
    return str(value)


def _csv_table(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK by default
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise FileProblem(f"{path.name}: not UTF-8 or GB18030 text")
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]


def _xlsx_table(path: Path) -> list[list[Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as e:
        raise FileProblem(f"{path.name}: not a readable .xlsx file ({e})") from None
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


# ---------------------------------------------------------------------------- reading cells


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?:\s*[:：]\s*(\d{1,2}))?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True)
class When:
    """A date cell: the instant it stands for, and whether the 台账 gave only the day."""

    instant: datetime
    date_only: bool

    def __str__(self) -> str:
        local = self.instant
        return local.date().isoformat() if self.date_only else local.strftime("%Y-%m-%d %H:%M")


class Cells:
    """One row's cells, parsed column by column; every problem is collected, none raised."""

    def __init__(self, row: SheetRow, zone: ZoneInfo) -> None:
        self.row = row
        self.zone = zone
        self.problems: list[tuple[str, str]] = []

    def fail(self, column: str, reason: str) -> None:
        self.problems.append((column, reason))

    def text(self, column: str, *, required: bool = False, limit: int = 500) -> str | None:
        value = self.row.cells.get(column)
        if value is None:
            if required:
                self.fail(column, "required, but empty")
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out = str(value).strip()
        if len(out) > limit:
            self.fail(column, f"longer than {limit} characters")
            return None
        return out

    def number(self, column: str) -> int | None:
        value = self.row.cells.get(column)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().removesuffix("天").removesuffix("人")
        if text.isdigit():
            return int(text)
        self.fail(column, f"{value!r} is not a whole number")
        return None

    def choice(self, column: str, enum: type[E], default: E | None = None) -> E | None:
        text = self.text(column)
        if text is None:
            return default
        try:
            return parse_enum(enum, text, column)
        except InvalidInput as e:
            self.fail(column, e.message.removeprefix(f"{column}: "))
            return None

    def when(self, column: str, *, required: bool = False) -> When | None:
        value = self.row.cells.get(column)
        if value is None:
            if required:
                self.fail(column, "required, but empty")
            return None
        try:
            return self._when(value)
        except InvalidInput as e:  # (a ValueError too: caught first)
            self.fail(column, f"{value!s}: {e.message.removeprefix('date: ')}")
        except (ValueError, OverflowError):
            self.fail(
                column,
                f"{value!s} is not a date (write it as 2024-03-05, 2024/3/5 or 2024年3月5日, "
                "optionally with a time, 2024-03-05 14:30)",
            )
        return None

    def _when(self, value: Cell) -> When:
        if isinstance(value, int | float) and not isinstance(value, bool):
            from openpyxl.utils.datetime import from_excel

            value = from_excel(value)  # an XLSX date cell without a date format
        if isinstance(value, datetime):
            if value.time() == time():  # a spreadsheet date cell: the day only
                return self._day(value.date())
            return When(value.replace(tzinfo=self.zone) if value.tzinfo is None else value, False)
        if isinstance(value, date):
            return self._day(value)
        text = str(value).strip()
        compact = _COMPACT_DATE.match(text)
        match = compact or _DATE.match(text)
        if match is None:
            raise ValueError(text)
        year, month, day = (int(g) for g in match.groups()[:3])
        require_plausible_year(year, "date")
        if compact or match.group(4) is None:
            return self._day(date(year, month, day))
        hour, minute, second = int(match[4]), int(match[5]), int(match[6] or 0)
        return When(datetime(year, month, day, hour, minute, second, tzinfo=self.zone), False)

    def _day(self, day: date) -> When:
        require_plausible_year(day.year, "date")
        return When(datetime.combine(day, DATE_ONLY_AT, self.zone), True)


# ---------------------------------------------------------------------------- writing


def write_table(path: Path, rows: list[dict[str, Cell]]) -> None:
    """A 台账 with these rows (header: every column), as CSV or XLSX by the file's suffix.
    With no rows it is the blank template; the XLSX carries a 填写说明 sheet."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel reads UTF-8
            writer = csv.writer(f)
            writer.writerow(HEADERS)
            for row in rows:
                writer.writerow([_as_text(row.get(h)) for h in HEADERS])
        return
    if suffix != ".xlsx":
        raise FileProblem(f"{path.name}: write a .csv or .xlsx file")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    for row in rows:
        sheet.append([row.get(h) for h in HEADERS])
    notes = book.create_sheet(NOTES_SHEET)
    notes.append(["列名", "必填", "填写说明"])
    for column in COLUMNS:
        notes.append([column.header, "是" if column.required else "", column.help])
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["C"].width = 90
    book.properties.created = datetime(2025, 1, 1)  # the same template, byte for byte
    book.save(path)


def _as_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def template_path(suffix: str) -> Path:
    """The template shipped inside the package (``api/templates/台账模板.csv|.xlsx``)."""
    return Path(__file__).parent / "templates" / f"台账模板{suffix}"
