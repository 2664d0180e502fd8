"""Planning one 台账 row: its cells read, the units and people it names found in the
directory, its dates checked against the order of the process, and its story written out as
the ledger commands a clerk would have given (``api.importer`` checks and writes them).

The directory is not guessed: units must exist (by code or name); people are found by name
among the members of the unit they act for, or created there only with ``create_people``
(登记人 and 承办人; a leader or an approver must already exist). A unit's act with nobody
named for it is recorded in the name of its one 负责人. Who records what:

- the office's steps (登记, 转送, 办结) and what the office writes down for others: the
  登记人, for the petitioner (评价, 复查/复核 申请) and for the leader (包案);
- the 办理单位's steps (受理 or 不予受理, 延期, 答复): its 承办人, else its 负责人;
- a 复查/复核 decision: the deciding unit's 负责人.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from api.taizhang import Cells, SheetRow, When
from domain.petitioners import Petitioner
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
)
from ledger.application import Actor, Ledger
from projections.directory import Directory
from projections.log import directory_facts

MISSING_TEXT = "（台账未载）"
"""Stands in for a text the domain requires (a reason, a reply's text) that the 台账 lacks."""

MAX_REFERENCE = 64
_NAMES = re.compile(r"[、,，;；/\s]+")


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
    facts = _read(c, _Lookup(c, ctx), reference or "")
    _check(c, ctx, facts)
    if c.problems:
        return [Rejection(row.number, reference, col, why) for col, why in c.problems]
    return _story(ctx, facts, row.number)


@dataclass
class _Appeal:
    level: AppealLevel
    filed: When | None
    unit: UUID | None
    decided: When | None
    decision: AppealDecision | None
    decider: UUID | None  # the deciding unit's 负责人


@dataclass
class _Facts:
    """What one row says, each cell read and each name found (None: empty or refused)."""

    reference: str  # 台账编号
    base: str  # the prefix of the row's command ids
    registered: When | None
    received: When | None
    channel: Channel | None
    kind: MatterKind | None
    category: str | None
    summary: str | None
    clerk: UUID
    petitioners: list[Petitioner]
    petitioner_kind: PetitionerKind | None
    headcount: int
    concerned_unit: UUID | None
    concerned_person: str | None
    handling_unit: UUID | None  # None when the 办理单位 named is unknown (reported)
    named_handler: UUID | None
    handler: UUID | None  # who records the 办理单位's acts
    mode: RoutingMode | None
    routed: When | None
    accepted: When | None
    refused: When | None
    refusal_reason: str | None
    leader: UUID | None
    lead_from: When | None
    ext_requested: When | None
    ext_days: int | None
    ext_reason: str | None
    ext_decided: When | None
    ext_decision: ExtensionDecision | None
    approver: UUID | None
    replied: When | None
    outcome: ReplyOutcome | None
    reply_text: str | None
    delivered: When | None
    rating: Rating | None
    rated: When | None
    appeals: list[_Appeal]
    closed: When | None
    note: str | None


class _Lookup:
    """Names in a row, found in the directory; a name not found is a problem of its column."""

    def __init__(self, c: Cells, ctx: Context) -> None:
        self.c, self.ctx, self.index = c, ctx, ctx.index

    def unit(self, column: str) -> UUID | None:
        text = self.c.text(column)
        if text is None:
            return None
        try:
            return self.index.unit(text)
        except LookupError as e:
            self.c.fail(column, str(e))
            return None

    def member(self, column: str, unit: UUID | None, role: Role) -> UUID | None:
        """A member of ``unit`` by name; with ``create_people``, one to be added."""
        name = self.c.text(column, limit=200)
        if name is None or unit is None:
            return None
        try:
            found = self.index.member(unit, name)
        except LookupError as e:
            self.c.fail(column, str(e))
            return None
        if found is not None:
            return found
        if not self.ctx.create_people:
            self.c.fail(
                column,
                f"no {name} among the members of {self.index.name(unit)} (add them to the "
                "directory first, or import with --create-people)",
            )
            return None
        key = (unit, name)
        if key not in self.ctx.new_people:
            code = self.index.code(unit)
            command_id = f"import:person:{code}:{name}"
            person_id = self.ctx.ledger.person_id_for(command_id)
            self.ctx.new_people[key] = NewPerson(
                name, unit, code, role.value, command_id, person_id
            )
        return self.ctx.new_people[key].person_id

    def anyone(self, column: str) -> UUID | None:
        name = self.c.text(column, limit=200)
        if name is None:
            return None
        try:
            return self.index.person(name)
        except LookupError as e:
            self.c.fail(column, str(e))
            return None

    def head(self, unit: UUID | None) -> UUID | None:
        return self.index.head(unit) if unit is not None else None


def _read(c: Cells, find: _Lookup, reference: str) -> _Facts:
    ctx = find.ctx
    base = f"import:{ctx.office_code}:{reference}"
    if c.row.cells.get("渠道") is None:
        c.fail("渠道", "required, but empty")
    clerk = find.member("登记人", ctx.office, Role.CLERK) or ctx.clerk
    petitioners, petitioner_kind, headcount = _petitioners(c, ctx, base)
    handling_unit = find.unit("办理单位") if c.text("办理单位") else ctx.office
    named_handler = find.member("承办人", handling_unit, Role.HANDLER)
    office_handles = handling_unit == ctx.office
    appeals = [
        _Appeal(
            level,
            c.when(f"{level}申请日期"),
            unit := find.unit(f"{level}机关"),
            c.when(f"{level}决定日期"),
            c.choice(f"{level}结果", AppealDecision),
            find.head(unit),
        )
        for level in (AppealLevel.REVIEW, AppealLevel.REREVIEW)
    ]
    return _Facts(
        reference=reference,
        base=base,
        registered=c.when("登记日期", required=True),
        received=c.when("收到日期"),
        channel=c.choice("渠道", Channel),
        kind=c.choice("事项性质", MatterKind, MatterKind.CLAIM),
        category=c.text("事项类别", required=True),
        summary=c.text("内容摘要", required=True, limit=20_000),
        clerk=clerk,
        petitioners=petitioners,
        petitioner_kind=petitioner_kind,
        headcount=headcount,
        concerned_unit=find.unit("被反映单位"),
        concerned_person=c.text("被反映人"),
        handling_unit=handling_unit,
        named_handler=named_handler,
        handler=named_handler or (clerk if office_handles else find.head(handling_unit)),
        mode=c.choice("转送方式", RoutingMode, RoutingMode.TRANSFER),
        routed=c.when("转送日期"),
        accepted=c.when("受理日期"),
        refused=c.when("不予受理日期"),
        refusal_reason=c.text("不予受理理由"),
        leader=find.anyone("包案领导"),
        lead_from=c.when("包案日期"),
        ext_requested=c.when("延期申请日期"),
        ext_days=c.number("延期天数"),
        ext_reason=c.text("延期理由"),
        ext_decided=c.when("延期批准日期"),
        ext_decision=c.choice("延期审批结果", ExtensionDecision, ExtensionDecision.APPROVED),
        approver=find.anyone("延期批准人") or find.head(handling_unit),
        replied=c.when("答复日期"),
        outcome=c.choice("答复结果", ReplyOutcome),
        reply_text=c.text("答复意见", limit=20_000),
        delivered=c.when("送达日期"),
        rating=c.choice("满意度评价", Rating),
        rated=c.when("评价日期"),
        appeals=appeals,
        closed=c.when("办结日期"),
        note=c.text("备注", limit=20_000),
    )


def _check(c: Cells, ctx: Context, f: _Facts) -> None:
    """What goes with what, who can record each act, and the dates in the process's order."""
    index = ctx.index

    def together(a: str, b: str, why: str) -> None:
        if (c.row.cells.get(a) is None) != (c.row.cells.get(b) is None):
            missing = b if c.row.cells.get(b) is None else a
            c.fail(missing, f"required with {a if missing == b else b}: {why}")

    together("包案领导", "包案日期", "who took personal charge, and from when")
    together("满意度评价", "评价日期", "the petitioner's rating, and when it was given")
    together("延期申请日期", "延期天数", "an extension asks for a number of days")
    together("答复日期", "答复结果", "a reply has an outcome")
    for a in f.appeals:
        together(f"{a.level}申请日期", f"{a.level}机关", f"a {a.level} is asked of a unit")
        together(f"{a.level}决定日期", f"{a.level}结果", f"a {a.level} decision has an outcome")
        if a.decided and not a.filed:
            c.fail(f"{a.level}决定日期", f"no {a.level}申请日期: a decision follows the request")
        if a.decided and a.unit and a.decider is None:
            c.fail(
                f"{a.level}机关",
                f"{index.name(a.unit)} has no one 负责人 in the directory, in whose name its "
                f"{a.level} decision is recorded",
            )
    if f.appeals[1].filed and not f.appeals[0].decided:
        c.fail("复核申请日期", "复核 can only follow a 复查 decision (复查决定日期)")
    if f.handling_unit is not None:
        if f.handling_unit != ctx.office:
            together("办理单位", "转送日期", "the case reaches another unit by a 转送/交办")
        elif f.routed is not None:
            c.fail("转送日期", "a 转送/交办 needs the 办理单位 it went to")
        acts = (f.accepted, f.refused, f.ext_requested, f.ext_decided, f.replied)
        if f.handler is None and any(acts):
            c.fail(
                "承办人",
                f"nobody to record the acts of {index.name(f.handling_unit)}: name the 承办人, "
                "or give the unit one 负责人 in the directory",
            )
        if f.ext_decided and f.approver is None:
            where = index.name(f.handling_unit)
            c.fail("延期批准人", f"name the approver: {where} has no one 负责人")
    if f.accepted and f.refused:
        c.fail("不予受理日期", "a matter is either accepted (受理日期) or refused, not both")
    if f.ext_decided and not f.ext_requested:
        c.fail("延期批准日期", "no 延期申请日期: an extension is decided after it is asked for")
    _check_order(c, f)


def _check_order(c: Cells, f: _Facts) -> None:
    sequence = [
        ("收到日期", f.received),
        ("登记日期", f.registered),
        ("转送日期", f.routed),
        ("受理日期", f.accepted),
        ("不予受理日期", f.refused),
        ("延期申请日期", f.ext_requested),
        ("延期批准日期", f.ext_decided),
        ("答复日期", f.replied),
        *[
            (f"{a.level}{what}", when)
            for a in f.appeals
            for what, when in (("申请日期", a.filed), ("决定日期", a.decided))
        ],
        ("办结日期", f.closed),
    ]
    present = [(column, when) for column, when in sequence if when is not None]
    for (col_a, a), (col_b, b) in itertools.pairwise(present):
        if _before(b, a):
            c.fail(col_b, f"{b} is before {col_a} {a}: the steps must follow the process")
    # the 包案 and the rating are not in the sequence: they fall where their dates put them
    if f.registered and f.lead_from:
        if _before(f.lead_from, f.registered):
            c.fail("包案日期", f"{f.lead_from} is before 登记日期 {f.registered}")
        if f.closed and _before(f.closed, f.lead_from):
            c.fail("包案日期", f"{f.lead_from} is after 办结日期 {f.closed}")
    if f.rated and not f.replied:
        c.fail("评价日期", "no 答复日期: only a reply is rated")
    if f.rated and f.replied and _before(f.rated, f.replied):
        c.fail("评价日期", f"{f.rated} is before 答复日期 {f.replied}: a reply is rated once given")
    if f.delivered and f.replied and _before(f.delivered, f.replied):
        c.fail("送达日期", f"{f.delivered} is before 答复日期 {f.replied}")


def _story(ctx: Context, f: _Facts, row: int) -> RowPlan:
    """The commands of a row that passed every check, in the order of the process."""
    assert f.registered and f.channel and f.kind and f.petitioner_kind and f.handling_unit
    assert f.category is not None and f.summary is not None
    office = Actor(f.clerk, ctx.office)
    unit = Actor(f.handler, f.handling_unit) if f.handler else office
    for_petitioner = replace(office, on_behalf_of=f.petitioners[0].petitioner_id)
    story = _Story(f.base, f.registered)
    registration = {
        "channel": f.channel.value,
        "received_at": story.received(f.received),
        "matter_kind": f.kind.value,
        "category": f.category,
        "summary": f.summary,
        "petitioner_kind": f.petitioner_kind.value,
        "petitioners": f.petitioners,
        "headcount": f.headcount,
        "concerned_unit": f.concerned_unit,
        "concerned_person": f.concerned_person,
    }
    story.add(0, "登记日期", "register", office, f.registered, registration)
    if f.routed and f.handling_unit != ctx.office:
        mode = (f.mode or RoutingMode.TRANSFER).value
        to = {"to_unit": f.handling_unit, "to_handler": f.named_handler, "mode": mode}
        story.add(1, "转送日期", "route", office, f.routed, to)
    if f.accepted:
        story.add(2, "受理日期", "accept", unit, f.accepted)
    if f.refused:
        reason = {"reason": f.refusal_reason or MISSING_TEXT}
        story.add(2, "不予受理日期", "refuse", unit, f.refused, reason)
    if f.ext_requested:
        asked = {"days": f.ext_days, "reason": f.ext_reason or MISSING_TEXT}
        story.add(4, "延期申请日期", "request_extension", unit, f.ext_requested, asked)
    if f.ext_decided:
        approval = f.ext_decision or ExtensionDecision.APPROVED
        granted = f.ext_days if approval is ExtensionDecision.APPROVED else 0
        decided = {"decision": approval.value, "approver": f.approver, "days_granted": granted}
        story.add(5, "延期批准日期", "decide_extension", unit, f.ext_decided, decided)
    replied_at = None
    if f.replied and f.outcome:
        delivered = story.place(f.delivered or f.replied, story.place(f.replied, story.last))
        reply = {
            "outcome": f.outcome.value,
            "text": f.reply_text or MISSING_TEXT,
            "delivered_at": delivered,
        }
        replied_at = story.add(6, "答复日期", "reply", unit, f.replied, reply)
    for n, a in enumerate(f.appeals):
        if a.filed and a.unit:
            filed = {"level": a.level.value, "to_unit": a.unit, "reason": MISSING_TEXT}
            column = f"{a.level}申请日期"
            story.add(8 + 2 * n, column, "file_appeal", for_petitioner, a.filed, filed)
        if a.decided and a.decision and a.unit and a.decider:
            decision = {
                "decision": a.decision.value,
                "text": MISSING_TEXT,
                "delivered_at": story.place(a.decided, story.last),
            }
            column, decider = f"{a.level}决定日期", Actor(a.decider, a.unit)
            story.add(9 + 2 * n, column, "decide_appeal", decider, a.decided, decision)
    if f.closed:
        story.add(12, "办结日期", "close", office, f.closed, {"note": f.note or ""})
    # the 包案 and the rating fall where their dates put them, after what they follow
    if f.leader and f.lead_from:
        by_leader = replace(office, on_behalf_of=f.leader)
        lead = {"leader": f.leader}
        floor = story.registered.instant
        story.add(3, "包案日期", "assign_lead", by_leader, f.lead_from, lead, floor=floor)
    if f.rating and f.rated and replied_at:
        rating = {"rating": f.rating.value}
        story.add(7, "评价日期", "rate", for_petitioner, f.rated, rating, floor=replied_at)
    steps = story.in_order()
    case_id = ctx.ledger.case_id_for(ctx.office, steps[0].command_id)
    return RowPlan(row, f.reference, case_id, steps)


class _Story:
    """A row's steps with the instant each is recorded at. A day-only date on the same day as
    an earlier step with a time (登记 at 16:00, 受理 that day) is placed at that step's time,
    never before it, so the facts keep the order the 台账 gives them."""

    def __init__(self, base: str, registered: When) -> None:
        self.base = base
        self.registered = registered
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
        arguments: dict[str, Any] | None = None,
        *,
        floor: datetime | None = None,
    ) -> datetime:
        """Add a step; ``floor`` places a step outside the sequence (包案, rating)."""
        at = self.place(when, floor if floor is not None else self.last)
        if floor is None:
            self.last = at
        name = f"{action}:{column[:2]}" if action.endswith("appeal") else action
        command_id = f"{self.base}:{name}"
        self.steps.append(Step(order, column, action, actor, at, command_id, arguments or {}))
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
