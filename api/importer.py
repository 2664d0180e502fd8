"""`petition import`: a petition office's historical 信访台账 into the ledger.

Each row is one case; each date column is one step of its story. A row becomes the commands a
clerk would have given — ``register_case`` and ``act(...)`` of the ``Ledger`` — with the
row's dates as ``occurred_at``. ``recorded_at`` is the ledger's clock at import, so the log
says honestly that these facts were written down long after they happened (the backdating
view shows them, by the clerk who imported them), and every imported fact carries the
import's correlation id (``import:`` and the file's digest).

Three promises, each tested:

- **Every rejection, with its reason, before anything is written.** A row is planned (each
  cell parsed, each unit and person found in the directory, the dates in the order of the
  process) and then its whole story is replayed on an in-memory ``Case``, so the aggregate's
  own process rules judge it. ``--dry-run`` stops there and writes nothing.
- **A bad row never half-imports a case.** Only rows whose whole story passed are written.
- **Re-importing adds nothing.** Command ids derive from the office and the row's 台账编号
  (``import:XF:2019-042:accept``), so a second import of the same file replays every command
  and writes nothing; a row that gained steps since (the 台账 was kept up) gets only the new
  steps; a row whose already-imported date changed is rejected (a fact is corrected in the
  ledger, never rewritten by an import). A write cut off mid-row resumes the same way.

The directory is not guessed: units must exist (by code or name); people are found by name
among the members of the unit they act for, or created there only with ``create_people``
(登记人 and 承办人; a leader or an approver must already exist). A unit's act with nobody
named for it is recorded in the name of its one 负责人.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from api.taizhang import Cell, SheetRow, read_rows
from domain.case import Case
from domain.errors import DomainError, InvalidInput, NotFound
from domain.petitioners import Petitioner
from domain.provenance import Provenance, require_plausible_year
from domain.values import (
    AppealDecision,
    AppealLevel,
    Channel,
    ExtensionDecision,
    MatterKind,
    PetitionerKind,
    Rating,
    ReplyOutcome,
    Role,
    RoutingMode,
    parse_enum,
)
from ledger.application import Actor, Ledger, RecordedEvent
from projections.directory import Directory
from projections.log import directory_facts

MISSING_TEXT = "（台账未载）"
"""Stands in for a text the domain requires (a reason, a reply's text) that the 台账 lacks."""

DATE_ONLY_AT = time(12, 0)
"""A date without a time is taken as noon, local time: a step on the day after a deadline
then shows as late (half a day), where midnight would hide the day."""

MAX_REFERENCE = 64

E = TypeVar("E", bound=StrEnum)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Rejection:
    """Why one row is not imported: its spreadsheet row number, the column, the reason."""

    row: int
    reference: str | None
    column: str
    reason: str


@dataclass
class Step:
    """One command of a row's story."""

    order: int  # its place in the process (ties on one instant follow it)
    column: str  # the column its date came from
    action: str  # "register", or a case action
    actor: Actor
    occurred_at: datetime
    command_id: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class NewPerson:
    """A person the import will add to the directory (only with ``create_people``)."""

    name: str
    unit: UUID
    unit_code: str
    role: str
    command_id: str
    person_id: UUID


@dataclass
class RowPlan:
    row: int
    reference: str
    case_id: UUID
    steps: list[Step]  # steps[0] is the registration
    pending: list[Step] = field(default_factory=list)  # not yet in the ledger
    case_number: str | None = None


@dataclass(frozen=True)
class Imported:
    row: int
    reference: str
    case_number: str
    steps_written: int
    new_case: bool


@dataclass
class ImportReport:
    file: str
    digest: str
    dry_run: bool
    rows: int = 0
    imported: list[Imported] = field(default_factory=list)  # new cases, or steps added
    unchanged: list[Imported] = field(default_factory=list)  # already in the ledger as is
    rejected: list[Rejection] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)

    @property
    def steps_written(self) -> int:
        return sum(i.steps_written for i in self.imported)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "digest": self.digest,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "new_cases": sum(1 for i in self.imported if i.new_case),
            "cases_with_new_steps": sum(1 for i in self.imported if not i.new_case),
            "unchanged": len(self.unchanged),
            "rejected_rows": len({r.row for r in self.rejected}),
            "steps_written": self.steps_written,
            "people_created": self.people_created,
            "imported": [i.__dict__ for i in self.imported],
            "rejections": [r.__dict__ for r in self.rejected],
        }


class ImportRefused(DomainError):
    """The import as a whole cannot start (unknown office or clerk): nothing is written."""

    code = "import-refused"


Progress = Callable[[str, int, int], None]


# ---------------------------------------------------------------------------- the directory


class DirectoryIndex:
    """The directory as recorded, looked up the way a 台账 names things: by name."""

    def __init__(self, directory: Directory) -> None:
        self.units = {UUID(hex=k): v for k, v in directory.units.items()}
        self.members: dict[tuple[UUID, str], list[UUID]] = {}
        self.by_name: dict[str, list[UUID]] = {}
        self.heads: dict[UUID, list[UUID]] = {}
        for pid, info in directory.people.items():
            person = UUID(hex=pid)
            self.by_name.setdefault(info["name"], []).append(person)
            for unit, role in info["roles"].items():
                self.add_member(UUID(hex=unit), info["name"], person, role, listed=True)

    @classmethod
    def read(cls, ledger: Ledger) -> DirectoryIndex:
        directory = Directory()
        with ledger.engine.connect() as conn:
            for fact in directory_facts(conn):
                directory.apply(fact)
        return cls(directory)

    def add_member(
        self, unit: UUID, name: str, person: UUID, role: str, *, listed: bool = False
    ) -> None:
        self.members.setdefault((unit, name), []).append(person)
        if not listed:
            self.by_name.setdefault(name, []).append(person)
        if role == Role.HEAD:
            self.heads.setdefault(unit, []).append(person)

    def is_member(self, unit: UUID, person: UUID) -> bool:
        return any(person in found for (u, _), found in self.members.items() if u == unit)

    def unit(self, reference: str) -> UUID:
        """A unit by its code, or else by its name (which must be unique)."""
        by_code = [u for u, info in self.units.items() if info["code"] == reference]
        if len(by_code) == 1:
            return by_code[0]
        by_name = [u for u, info in self.units.items() if info["name"] == reference]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            raise LookupError(f"{len(by_name)} units are named {reference}: give its code")
        raise LookupError(f"no unit with code or name {reference} in the directory")

    def code(self, unit: UUID) -> str:
        return str(self.units[unit]["code"])

    def name(self, unit: UUID) -> str:
        return str(self.units[unit]["name"])

    def member(self, unit: UUID, name: str) -> UUID | None:
        found = self.members.get((unit, name), [])
        if len(found) > 1:
            raise LookupError(f"{len(found)} members of {self.name(unit)} are named {name}")
        return found[0] if found else None

    def person(self, name: str) -> UUID:
        found = self.by_name.get(name, [])
        if len(found) == 1:
            return found[0]
        if found:
            raise LookupError(f"{len(found)} people in the directory are named {name}")
        raise LookupError(f"no {name} in the directory")

    def head(self, unit: UUID) -> UUID | None:
        heads = self.heads.get(unit, [])
        return heads[0] if len(heads) == 1 else None


# ---------------------------------------------------------------------------- reading cells


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?:\s*[:：]\s*(\d{1,2}))?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NAMES = re.compile(r"[、,，;；/\s]+")


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


# ---------------------------------------------------------------------------- planning


@dataclass
class Context:
    """What every row is planned against."""

    ledger: Ledger
    index: DirectoryIndex
    office: UUID
    clerk: UUID
    create_people: bool
    correlation_id: str
    new_people: dict[tuple[UUID, str], NewPerson] = field(default_factory=dict)

    @property
    def office_code(self) -> str:
        return self.index.code(self.office)


def plan_row(row: SheetRow, ctx: Context) -> RowPlan | list[Rejection]:
    """The row as the commands that tell its story, or every reason it cannot be."""
    c = Cells(row, ctx.ledger.zone)
    reference = c.text("台账编号", required=True, limit=MAX_REFERENCE)
    plan = _plan(c, ctx, reference or "")
    if c.problems or plan is None:
        return [Rejection(row.number, reference, col, why) for col, why in c.problems]
    return plan


def _plan(c: Cells, ctx: Context, reference: str) -> RowPlan | None:
    index = ctx.index
    base = f"import:{ctx.office_code}:{reference}"

    def unit(column: str) -> UUID | None:
        text = c.text(column)
        if text is None:
            return None
        try:
            return index.unit(text)
        except LookupError as e:
            c.fail(column, str(e))
            return None

    def member(column: str, unit_id: UUID | None, role: Role) -> UUID | None:
        name = c.text(column, limit=200)
        if name is None or unit_id is None:
            return None
        try:
            found = index.member(unit_id, name)
        except LookupError as e:
            c.fail(column, str(e))
            return None
        if found is not None:
            return found
        if not ctx.create_people:
            c.fail(
                column,
                f"no {name} among the members of {index.name(unit_id)} (add them to the "
                "directory first, or import with --create-people)",
            )
            return None
        key = (unit_id, name)
        if key not in ctx.new_people:
            command_id = f"import:person:{index.code(unit_id)}:{name}"
            ctx.new_people[key] = NewPerson(
                name,
                unit_id,
                index.code(unit_id),
                role.value,
                command_id,
                ctx.ledger.person_id_for(command_id),
            )
        return ctx.new_people[key].person_id

    def anyone(column: str) -> UUID | None:
        name = c.text(column, limit=200)
        if name is None:
            return None
        try:
            return index.person(name)
        except LookupError as e:
            c.fail(column, str(e))
            return None

    # -- the registration
    registered = c.when("登记日期", required=True)
    received = c.when("收到日期")
    channel = c.choice("渠道", Channel)
    if c.row.cells.get("渠道") is None:
        c.fail("渠道", "required, but empty")
    kind = c.choice("事项性质", MatterKind, MatterKind.CLAIM)
    category = c.text("事项类别", required=True)
    summary = c.text("内容摘要", required=True, limit=20_000)
    clerk = member("登记人", ctx.office, Role.CLERK) or ctx.clerk
    office_actor = Actor(clerk, ctx.office)
    petitioners, petitioner_kind, headcount = _petitioners(c, ctx, base)
    concerned_unit = unit("被反映单位")
    concerned_person = c.text("被反映人")

    # -- who handled it
    # (None when the 办理单位 named is unknown: that is reported, and nothing depends on it)
    handling_unit = unit("办理单位") if c.text("办理单位") else ctx.office
    named_handler = member("承办人", handling_unit, Role.HANDLER)
    handler = named_handler or (
        clerk
        if handling_unit == ctx.office
        else index.head(handling_unit)
        if handling_unit
        else None
    )
    mode = c.choice("转送方式", RoutingMode, RoutingMode.TRANSFER)
    routed = c.when("转送日期")
    accepted = c.when("受理日期")
    refused = c.when("不予受理日期")
    leader = anyone("包案领导")
    lead_from = c.when("包案日期")
    ext_requested = c.when("延期申请日期")
    ext_days = c.number("延期天数")
    ext_decided = c.when("延期批准日期")
    ext_decision = c.choice("延期审批结果", ExtensionDecision, ExtensionDecision.APPROVED)
    approver = anyone("延期批准人") or (index.head(handling_unit) if handling_unit else None)
    replied = c.when("答复日期")
    outcome = c.choice("答复结果", ReplyOutcome)
    delivered = c.when("送达日期")
    rating = c.choice("满意度评价", Rating)
    rated = c.when("评价日期")
    appeals = [
        (
            level,
            c.when(f"{level}申请日期"),
            unit(f"{level}机关"),
            c.when(f"{level}决定日期"),
            c.choice(f"{level}结果", AppealDecision),
        )
        for level in (AppealLevel.REVIEW, AppealLevel.REREVIEW)
    ]
    closed = c.when("办结日期")

    # -- what goes with what
    def together(a: str, b: str, why: str) -> None:
        if (c.row.cells.get(a) is None) != (c.row.cells.get(b) is None):
            missing = b if c.row.cells.get(b) is None else a
            c.fail(missing, f"required with {a if missing == b else b}: {why}")

    together("包案领导", "包案日期", "who took personal charge, and from when")
    together("满意度评价", "评价日期", "the petitioner's rating, and when it was given")
    together("延期申请日期", "延期天数", "an extension asks for a number of days")
    together("答复日期", "答复结果", "a reply has an outcome")
    for level in (AppealLevel.REVIEW, AppealLevel.REREVIEW):
        together(f"{level}申请日期", f"{level}机关", f"a {level} is asked of a unit")
        together(f"{level}决定日期", f"{level}结果", f"a {level} decision has an outcome")
    if handling_unit is None:
        pass
    elif handling_unit != ctx.office:
        together("办理单位", "转送日期", "the case reaches another unit by a 转送/交办")
    elif routed is not None:
        c.fail("转送日期", "a 转送/交办 needs the 办理单位 it went to")
    if accepted and refused:
        c.fail("不予受理日期", "a matter is either accepted (受理日期) or refused, not both")
    if ext_decided and not ext_requested:
        c.fail("延期批准日期", "no 延期申请日期: an extension is decided after it is asked for")
    for level, filed, _, decided, _ in appeals:
        if decided and not filed:
            c.fail(f"{level}决定日期", f"no {level}申请日期: a decision follows the request")
    if appeals[1][1] and not appeals[0][3]:
        c.fail("复核申请日期", "复核 can only follow a 复查 decision (复查决定日期)")
    acts_of_unit = [accepted, refused, ext_requested, ext_decided, replied]
    if handling_unit and handler is None and any(acts_of_unit):
        c.fail(
            "承办人",
            f"nobody to record the acts of {index.name(handling_unit)}: name the 承办人, or "
            "give the unit one 负责人 in the directory",
        )
    if handling_unit and ext_decided and approver is None:
        c.fail("延期批准人", f"name the approver: {index.name(handling_unit)} has no one 负责人")
    deciders: list[UUID | None] = []
    for level, _, review_unit, decided, _ in appeals:
        head = index.head(review_unit) if review_unit else None
        deciders.append(head)
        if decided and review_unit and head is None:
            c.fail(
                f"{level}机关",
                f"{index.name(review_unit)} has no one 负责人 in the directory, in whose name "
                f"its {level} decision is recorded",
            )

    # -- the dates, in the order of the process
    sequence = [
        ("收到日期", received),
        ("登记日期", registered),
        ("转送日期", routed),
        ("受理日期", accepted),
        ("不予受理日期", refused),
        ("延期申请日期", ext_requested),
        ("延期批准日期", ext_decided),
        ("答复日期", replied),
        *[(f"{a[0]}{w}", d) for a in appeals for w, d in (("申请日期", a[1]), ("决定日期", a[3]))],
        ("办结日期", closed),
    ]
    present = [(col, w) for col, w in sequence if w is not None]
    for (col_a, a), (col_b, b) in itertools.pairwise(present):
        if _before(b, a):
            c.fail(col_b, f"{b} is before {col_a} {a}: the steps must follow the process")
    if registered and lead_from:
        if _before(lead_from, registered):
            c.fail("包案日期", f"{lead_from} is before 登记日期 {registered}")
        if closed and _before(closed, lead_from):
            c.fail("包案日期", f"{lead_from} is after 办结日期 {closed}")
    if rated and replied and _before(rated, replied):
        c.fail("评价日期", f"{rated} is before 答复日期 {replied}: a reply is rated once given")
    if delivered and replied and _before(delivered, replied):
        c.fail("送达日期", f"{delivered} is before 答复日期 {replied}")
    if rated and not replied:
        c.fail("评价日期", "no 答复日期: only a reply is rated")

    if c.problems or registered is None or channel is None or kind is None:
        return None
    assert handling_unit is not None
    assert category is not None and summary is not None and petitioner_kind is not None

    # -- the commands, in the order of the process (the 包案 and the rating fall where
    # their dates put them)
    story = _Story(f"{base}", registered)
    story.add(
        0,
        "登记日期",
        "register",
        office_actor,
        registered,
        channel=channel.value,
        received_at=story.received(received),
        matter_kind=kind.value,
        category=category,
        summary=summary,
        petitioner_kind=petitioner_kind.value,
        petitioners=petitioners,
        headcount=headcount,
        concerned_unit=concerned_unit,
        concerned_person=concerned_person,
    )
    handling = Actor(handler, handling_unit) if handler else office_actor
    if routed and handling_unit != ctx.office:
        mode_value = (mode or RoutingMode.TRANSFER).value
        story.add(1, "转送日期", "route", office_actor, routed, to_unit=handling_unit,
                  mode=mode_value, to_handler=named_handler)  # fmt: skip
    if accepted:
        story.add(2, "受理日期", "accept", handling, accepted)
    if refused:
        reason = c.text("不予受理理由") or MISSING_TEXT
        story.add(2, "不予受理日期", "refuse", handling, refused, reason=reason)
    if ext_requested:
        reason = c.text("延期理由") or MISSING_TEXT
        story.add(4, "延期申请日期", "request_extension", handling, ext_requested,
                  days=ext_days, reason=reason)  # fmt: skip
    if ext_decided:
        approval = ext_decision or ExtensionDecision.APPROVED
        granted = ext_days if approval is ExtensionDecision.APPROVED else 0
        story.add(5, "延期批准日期", "decide_extension", handling, ext_decided,
                  decision=approval.value, approver=approver, days_granted=granted)  # fmt: skip
    replied_at = None
    if replied and outcome:
        reply_at = story.place(replied, story.last)
        replied_at = story.add(
            6,
            "答复日期",
            "reply",
            handling,
            replied,
            outcome=outcome.value,
            text=c.text("答复意见", limit=20_000) or MISSING_TEXT,
            delivered_at=story.place(delivered or replied, reply_at),
        )
    for_petitioner = Actor(clerk, ctx.office, on_behalf_of=petitioners[0].petitioner_id)
    for n, ((level, filed, review_unit, decided, decision), decider) in enumerate(
        zip(appeals, deciders, strict=True)
    ):
        if filed and review_unit:
            story.add(8 + 2 * n, f"{level}申请日期", "file_appeal", for_petitioner, filed,
                      level=level.value, to_unit=review_unit, reason=MISSING_TEXT)  # fmt: skip
        if decided and decision and review_unit and decider:
            story.add(9 + 2 * n, f"{level}决定日期", "decide_appeal", Actor(decider, review_unit),
                      decided, decision=decision.value, text=MISSING_TEXT,
                      delivered_at=story.place(decided, story.last))  # fmt: skip
    if closed:
        note = c.text("备注", limit=20_000) or ""
        story.add(12, "办结日期", "close", office_actor, closed, note=note)
    if leader and lead_from:
        story.add(3, "包案日期", "assign_lead", replace(office_actor, on_behalf_of=leader),
                  lead_from, floor=story.registered_at, leader=leader)  # fmt: skip
    if rating and rated and replied_at:
        story.add(7, "评价日期", "rate", for_petitioner, rated, floor=replied_at,
                  rating=rating.value)  # fmt: skip
    steps = story.in_order()
    case_id = ctx.ledger.case_id_for(ctx.office, steps[0].command_id)
    return RowPlan(c.row.number, reference, case_id, steps)


class _Story:
    """A row's steps with the instant each is recorded at. A day-only date on the same day as
    an earlier step with a time (登记 at 16:00, 受理 that day) is placed at that step's time,
    never before it, so the facts keep the order the 台账 gives them."""

    def __init__(self, base: str, registered: When) -> None:
        self.base = base
        self.registered = registered
        self.registered_at = registered.instant
        self.last: datetime | None = None
        self.steps: list[Step] = []

    def received(self, received: When | None) -> datetime:
        if received is None:
            return self.registered.instant
        if received.date_only and received.instant.date() == self.registered.instant.date():
            return min(received.instant, self.registered.instant)
        return received.instant

    @staticmethod
    def place(when: When, floor: datetime | None) -> datetime:
        if floor is None or not when.date_only:
            return when.instant
        if when.instant.date() == floor.astimezone(when.instant.tzinfo).date():
            return max(when.instant, floor)
        return when.instant

    def add(
        self,
        order: int,
        column: str,
        action: str,
        actor: Actor,
        when: When,
        *,
        floor: datetime | None = None,
        **arguments: Any,
    ) -> datetime:
        """Add a step; ``floor`` places a step outside the sequence (包案, rating)."""
        at = self.place(when, floor if floor is not None else self.last)
        if floor is None:
            self.last = at
        name = f"{action}:{column[:2]}" if action.endswith("appeal") else action
        self.steps.append(Step(order, column, action, actor, at, f"{self.base}:{name}", arguments))
        return at

    def in_order(self) -> list[Step]:
        head, rest = self.steps[0], self.steps[1:]
        return [head, *sorted(rest, key=lambda s: (s.occurred_at, s.order))]


def _petitioners(
    c: Cells, ctx: Context, base: str
) -> tuple[list[Petitioner], PetitionerKind | None, int]:
    """信访人 and 人数 as the domain's petitioners. The same name and phone is the same
    petitioner in every row of the office (so a repeat petition is found); anonymous ones
    are each their own."""
    names_cell = c.text("信访人", limit=2000)
    names = [n for n in _NAMES.split(names_cell or "") if n]
    count = c.number("人数")
    phone = c.text("联系电话", limit=200)
    if not names or names == ["匿名"]:
        anonymous = Petitioner(uuid5(NAMESPACE_URL, f"petition-ledger:{base}:anonymous"))
        return [anonymous], PetitionerKind.ANONYMOUS, count or 1
    if any(len(n) > 200 for n in names):
        c.fail("信访人", "a name is longer than 200 characters")
        return [], None, 0
    people = []
    for i, name in enumerate(names):
        own_phone = phone if i == 0 else None
        key = f"petition-ledger:import-petitioner:{ctx.office}:{name}:{own_phone or ''}"
        people.append(Petitioner(uuid5(NAMESPACE_URL, key), name=name, phone=own_phone))
    kind = PetitionerKind.GROUP if count and count > len(names) else PetitionerKind.NAMED
    return people, kind, count or len(names)


def _before(a: When, b: When) -> bool:
    """Is ``a`` before ``b``? A date without a time is compared by its day only."""
    if a.date_only or b.date_only:
        return a.instant.date() < b.instant.date()
    return a.instant < b.instant


# ---------------------------------------------------------------------------- checking


def check_row(plan: RowPlan, ctx: Context) -> list[Rejection]:
    """Replay the row's story on an in-memory case, so the aggregate's own process rules
    judge every step; against what the ledger already holds if the row was imported before.
    Fills ``plan.pending`` with the steps still to write."""
    ledger = ctx.ledger

    def reject(step: Step, reason: str) -> list[Rejection]:
        return [Rejection(plan.row, plan.reference, step.column, reason)]

    try:
        case = ledger.get_case(plan.case_id)
    except NotFound:
        case = None
    done: dict[str, RecordedEvent] = {}
    if case is not None:
        plan.case_number = case.case_number
        for recorded in ledger.history(plan.case_id):
            if recorded.command_id is not None:
                done[recorded.command_id] = recorded
        petitioner = case.petitioner_ids[0]
        for s in plan.steps:  # the petitioner as the ledger knows them
            if s.actor.on_behalf_of is not None and s.action in ("rate", "file_appeal"):
                s.actor = replace(s.actor, on_behalf_of=petitioner)
    plan.pending = []
    for s in plan.steps:
        stored = done.get(s.command_id)
        if stored is None:
            plan.pending.append(s)
        elif stored.occurred_at is not None and stored.occurred_at != s.occurred_at:
            return reject(
                s,
                f"already imported as {_local(stored.occurred_at, ledger.zone)}, the 台账 now "
                f"says {_local(s.occurred_at, ledger.zone)}: an import never rewrites a fact "
                "(record a correction on the case instead: POST /cases/{ref}/correct)",
            )
    now = ledger.clock()
    for s in plan.pending:
        if s.occurred_at > now:
            return reject(s, f"{_local(s.occurred_at, ledger.zone)} is in the future")
        p = Provenance(
            actor=s.actor.person,
            actor_unit=s.actor.unit,
            on_behalf_of=s.actor.on_behalf_of,
            occurred_at=s.occurred_at,
            recorded_at=now,
            command_id=s.command_id,
            correlation_id=ctx.correlation_id,
        )
        try:
            if s.action == "register":
                number = f"{ctx.office_code}-0000-0"  # the ledger numbers it when written
                case = Case.register(p, case_id=plan.case_id, case_number=number, **s.arguments)
            else:
                assert case is not None
                getattr(case, s.action)(p, **s.arguments)
        except DomainError as e:
            return reject(s, e.message)
    return []


def _local(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    if local.time() == DATE_ONLY_AT:
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------- the import


def import_ledger(
    ledger: Ledger,
    path: Path,
    *,
    office: str,
    clerk: str,
    dry_run: bool = False,
    create_people: bool = False,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import a 台账 file (see the module docstring). Raises ``FileProblem`` or
    ``ImportRefused`` before writing anything when the file or the options are unusable."""
    rows = read_rows(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ImportReport(file=path.name, digest=digest, dry_run=dry_run, rows=len(rows))
    ctx = _context(ledger, office, clerk, create_people, f"import:{digest[:16]}")
    progress = on_progress or (lambda phase, done, total: None)

    plans: list[RowPlan] = []
    seen: dict[str, int] = {}
    for done, row in enumerate(rows, start=1):
        planned = plan_row(row, ctx)
        if isinstance(planned, RowPlan):
            first = seen.setdefault(planned.reference, row.number)
            if first != row.number:
                planned = [
                    Rejection(row.number, planned.reference, "台账编号", f"also on row {first}")
                ]
        if isinstance(planned, RowPlan):
            rejections = check_row(planned, ctx)
            if not rejections:
                plans.append(planned)
            report.rejected.extend(rejections)
        else:
            report.rejected.extend(planned)
        progress("checking", done, len(rows))

    if dry_run:
        for plan in plans:
            _tally(report, plan, len(plan.pending), plan.case_number or "(new)")
        return report

    report.people_created = _create_people(ctx, plans)
    for done, plan in enumerate(plans, start=1):
        _write(ctx, plan, report)
        progress("writing", done, len(plans))
    return report


def _context(
    ledger: Ledger, office: str, clerk: str, create_people: bool, correlation_id: str
) -> Context:
    index = DirectoryIndex.read(ledger)
    try:
        office_id = index.unit(office)
    except LookupError as e:
        raise ImportRefused(f"--office: {e}") from None
    try:
        clerk_id = UUID(clerk)
    except ValueError:
        try:
            found = index.member(office_id, clerk)
        except LookupError as e:
            raise ImportRefused(f"--clerk: {e}") from None
        if found is None:
            where = index.name(office_id)
            raise ImportRefused(f"--clerk: no {clerk} among the members of {where}") from None
        clerk_id = found
    if not index.is_member(office_id, clerk_id):
        raise ImportRefused(f"--clerk: {clerk} is not a member of {index.name(office_id)}")
    return Context(ledger, index, office_id, clerk_id, create_people, correlation_id)


def _create_people(ctx: Context, plans: Iterable[RowPlan]) -> list[str]:
    """Add the people the written rows need, each as of the first day they acted in them."""
    first: dict[UUID, datetime] = {}
    for plan in plans:
        for s in plan.pending:
            first[s.actor.person] = min(first.get(s.actor.person, s.occurred_at), s.occurred_at)
            handler = s.arguments.get("to_handler")
            if handler is not None:
                first[handler] = min(first.get(handler, s.occurred_at), s.occurred_at)
    created = []
    actor = Actor(ctx.clerk, ctx.office)
    for person in ctx.new_people.values():
        if person.person_id not in first:
            continue
        at = first[person.person_id] - timedelta(minutes=1)
        result = ctx.ledger.create_person(
            actor=actor, occurred_at=at, command_id=person.command_id, name=person.name
        )
        ctx.ledger.update_person(
            person.person_id,
            "join",
            actor=actor,
            occurred_at=at,
            command_id=f"{person.command_id}:join",
            unit=person.unit,
            role=person.role,
        )
        if not result.replayed:
            created.append(f"{person.name} ({person.unit_code} {person.role})")
    return created


def _write(ctx: Context, plan: RowPlan, report: ImportReport) -> None:
    ledger = ctx.ledger
    written = 0
    for s in plan.pending:
        try:
            if s.action == "register":
                result = ledger.register_case(
                    actor=s.actor,
                    occurred_at=s.occurred_at,
                    command_id=s.command_id,
                    correlation_id=ctx.correlation_id,
                    **s.arguments,
                )
                plan.case_number = result.case_number
            else:
                result = ledger.act(
                    plan.case_id,
                    s.action,
                    actor=s.actor,
                    occurred_at=s.occurred_at,
                    command_id=s.command_id,
                    correlation_id=ctx.correlation_id,
                    **s.arguments,
                )
        except DomainError as e:
            report.rejected.append(
                Rejection(
                    plan.row,
                    plan.reference,
                    s.column,
                    f"{e.message} (refused while writing, after {written} step(s) of this row "
                    "were written; fix the row and import again to finish it)",
                )
            )
            return
        written += 0 if result.replayed else 1
    _tally(report, plan, written, plan.case_number or "")


def _tally(report: ImportReport, plan: RowPlan, steps: int, case_number: str) -> None:
    new_case = bool(plan.pending) and plan.pending[0].action == "register"
    entry = Imported(plan.row, plan.reference, case_number, steps, new_case)
    (report.imported if steps else report.unchanged).append(entry)
