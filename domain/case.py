"""The case (信访事项): one matter from receipt to final decision, as a sequence of facts.

The aggregate decides what is *possible* in the process and refuses only that which is
impossible or unlawful: a reply to a case never accepted, a 复核 before any 复查 decision, a
new appeal after the final 复核 decision, an action by a unit with no standing, any action on a
closed, merged or withdrawn case other than reopen and correct, and times that cannot be
(in the future, or before the matter was received). It never refuses a late action and never
stores a judgment (deadline, overdue, repeat, collective): those belong to projections under a
rulebook, because a late action is exactly the evidence this ledger exists to keep.
"""

from __future__ import annotations

import typing
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import (
    AppealNotAllowed,
    CaseNotActive,
    InvalidInput,
    NoStanding,
    NotCorrectable,
    ProcessRuleViolation,
    TimeOutOfOrder,
)
from domain.petitioners import Petitioner, validate_petitioners
from domain.provenance import (
    EventProvenance,
    Provenance,
    require_aware,
    require_plausible_year,
)
from domain.validation import MAX_SHORT_TEXT
from domain.validation import an_id as _id
from domain.validation import days as _days
from domain.validation import text as _text
from domain.values import (
    AppealDecision,
    AppealLevel,
    Channel,
    ExtensionDecision,
    MatterKind,
    PauseReason,
    PetitionerKind,
    Rating,
    ReplyOutcome,
    RoutingMode,
    parse_enum,
)
from domain.workflow import ACTION_NAMES, ALLOWED_STAGES, INACTIVE, Stage


class Case(Aggregate):
    """One 信访事项. Its state is only what the process rules need to decide the next action."""

    # ------------------------------------------------------------------ events

    class Event(EventProvenance, Aggregate.Event):
        CORRECTABLE: ClassVar[frozenset[str]] = frozenset({"occurred_at"})

        def apply(self, case: Case) -> None:
            self.evolve(case)
            case.event_types.append(type(self).__name__)
            case.command_ids[self.command_id] = self.originator_version

        def evolve(self, case: Case) -> None:
            """How this fact changes what the process rules need to know."""

    class Registered(Event, Aggregate.Created):
        """登记: the petition office registers a matter it received."""

        CORRECTABLE = frozenset(
            {"occurred_at", "received_at", "channel", "category", "summary", "matter_kind"}
        )
        class_version = 2
        case_number: str
        registering_office: UUID
        channel: str
        received_at: datetime
        matter_kind: str
        category: str
        summary: str
        petitioner_kind: str
        petitioners: list[dict[str, Any]]
        headcount: int
        concerned_unit: UUID | None
        concerned_person: str | None
        attachments: list[str]
        receipt_hash: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v2 keeps the hash of the petitioner's receipt code (查询码); v1 issued none."""
            state["receipt_hash"] = None

        def apply(self, case: Case) -> None:
            case.case_number = self.case_number
            case.registering_office = self.registering_office
            case.channel = self.channel
            case.received_at = self.received_at
            case.registered_at = self.occurred_at
            case.matter_kind = self.matter_kind
            case.category = self.category
            case.summary = self.summary
            case.petitioner_kind = self.petitioner_kind
            case.petitioner_ids = [p["petitioner_id"] for p in self.petitioners]
            case.headcount = self.headcount
            case.concerned_unit = self.concerned_unit
            case.stage = Stage.REGISTERED
            case.holder_unit = self.registering_office
            case.handler = None
            case.leader = None
            case.routed_by = None
            case.extension_pending = False
            case.paused_for = None
            case.open_supervisions = {}
            case.supervision_count = 0
            case.replies = 0
            case.rated_replies = 0
            case.appeals = []
            case.stage_before_close = None
            case.merged_into = None
            case.event_types = [type(self).__name__]
            case.command_ids = {self.command_id: self.originator_version}
            case.correction_count = 0
            case.receipt_hash = self.receipt_hash

    class Routed(Event):
        """转送 / 交办: the holder sends the case to another unit (and optionally a handler)."""

        mode: str
        to_unit: UUID
        to_handler: UUID | None
        note: str

        def evolve(self, case: Case) -> None:
            case.routed_by = case.holder_unit
            case.holder_unit = self.to_unit
            case.handler = self.to_handler
            if case.stage != Stage.ACCEPTED:  # a transfer after 受理 keeps the case accepted
                case.stage = Stage.ROUTED

    class JurisdictionObjected(Event):
        """管辖异议: the receiving unit says the matter is not its to handle."""

        reason: str

        def evolve(self, case: Case) -> None:
            case.stage = Stage.OBJECTED

    class ObjectionDecided(Event):
        """The sending office decides the objection; only if it agrees does the case go back."""

        agreed: bool
        note: str

        def evolve(self, case: Case) -> None:
            if self.agreed:
                case.holder_unit, case.routed_by = case.routed_by, None
                case.handler = None
                case.stage = Stage.REGISTERED
            else:
                case.stage = Stage.ROUTED

    class Accepted(Event):
        """受理: the holding unit accepts the matter and tells the petitioner."""

        note: str

        def evolve(self, case: Case) -> None:
            case.stage = Stage.ACCEPTED

    class Refused(Event):
        """不予受理, with the reason the petitioner is told."""

        CORRECTABLE = frozenset({"occurred_at", "reason"})
        reason: str

        def evolve(self, case: Case) -> None:
            case.stage = Stage.REFUSED

    class HandlerAssigned(Event):
        """The holding unit puts a named person in charge of handling (承办人)."""

        handler: UUID

        def evolve(self, case: Case) -> None:
            case.handler = self.handler

    class LeadAssigned(Event):
        """领导包案: a named leader takes personal charge of the case until released."""

        leader: UUID

        def evolve(self, case: Case) -> None:
            case.leader = self.leader

    class LeadReleased(Event):
        """The leader in charge is released (the case settled, or handed to another leader)."""

        leader: UUID
        note: str

        def evolve(self, case: Case) -> None:
            case.leader = None

    class ExtensionRequested(Event):
        """延期申请: the holder asks for more handling time, with the reason."""

        days: int
        reason: str

        def evolve(self, case: Case) -> None:
            case.extension_pending = True

    class ExtensionDecided(Event):
        """The unit's head decides; granted days beyond the rulebook's maximum never count."""

        CORRECTABLE = frozenset({"occurred_at", "days_granted", "petitioner_told_at"})
        decision: str
        approver: UUID
        days_granted: int
        petitioner_told_at: datetime | None

        def evolve(self, case: Case) -> None:
            case.extension_pending = False

    class ClockPaused(Event):
        """中止 (hearing, appraisal): whether the pause counts is the rulebook's call."""

        reason: str
        note: str

        def evolve(self, case: Case) -> None:
            case.paused_for = self.reason

    class ClockResumed(Event):
        note: str

        def evolve(self, case: Case) -> None:
            case.paused_for = None

    class SupervisionIssued(Event):
        """督办: a supervising office orders the holding unit to act by a deadline."""

        CORRECTABLE = frozenset({"occurred_at", "deadline", "level"})
        notice_no: int
        supervised_unit: UUID
        level: str
        deadline: date
        instructions: str

        def evolve(self, case: Case) -> None:
            case.supervision_count = self.notice_no
            case.open_supervisions[self.notice_no] = self.supervised_unit

    class SupervisionAnswered(Event):
        """The supervised unit's written answer to a 督办 notice."""

        notice_no: int
        answer: str

        def evolve(self, case: Case) -> None:
            case.open_supervisions.pop(self.notice_no, None)

    class Replied(Event):
        """答复: the written reply (处理意见书) and when it reached the petitioner."""

        CORRECTABLE = frozenset({"occurred_at", "outcome", "delivered_at", "delivery_method"})
        class_version = 2
        outcome: str
        text: str
        delivered_at: datetime
        delivery_method: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v2 records how the reply was delivered; every v1 reply was a paper letter."""
            state["delivery_method"] = "书面"

        def evolve(self, case: Case) -> None:
            case.stage = Stage.REPLIED
            case.replies += 1

    class Rated(Event):
        """满意度评价 by the petitioner (or recorded for them by a clerk)."""

        CORRECTABLE = frozenset({"occurred_at", "rating"})
        rating: str
        comment: str

        def evolve(self, case: Case) -> None:
            case.rated_replies = case.replies

    class AppealFiled(Event):
        """复查 or 复核 requested by the petitioner, to the unit that will decide it."""

        level: str
        to_unit: UUID
        reason: str

        def evolve(self, case: Case) -> None:
            case.appeals.append({"level": self.level, "decided": False})
            case.routed_by = case.holder_unit
            case.holder_unit = self.to_unit
            case.handler = None
            case.stage = Stage.IN_REVIEW if self.level == AppealLevel.REVIEW else Stage.IN_REREVIEW

    class AppealDecided(Event):
        """复查/复核意见: upheld, overturned or partly changed. After 复核, the matter is final."""

        CORRECTABLE = frozenset({"occurred_at", "decision", "delivered_at"})
        level: str
        decision: str
        text: str
        delivered_at: datetime

        def evolve(self, case: Case) -> None:
            case.appeals[-1]["decided"] = True
            case.stage = Stage.REVIEWED if self.level == AppealLevel.REVIEW else Stage.FINAL

    class Closed(Event):
        """办结."""

        note: str

        def evolve(self, case: Case) -> None:
            case.stage_before_close = case.stage
            case.stage = Stage.CLOSED

    class Reopened(Event):
        reason: str

        def evolve(self, case: Case) -> None:
            case.stage = case.stage_before_close or Stage.REGISTERED
            case.stage_before_close = None
            case.merged_into = None

    class MergedInto(Event):
        """The same matter is already a case: this one is merged into it as a duplicate."""

        target_case: UUID
        note: str

        def evolve(self, case: Case) -> None:
            case.stage_before_close = case.stage
            case.stage = Stage.MERGED
            case.merged_into = self.target_case

    class Withdrawn(Event):
        """撤回: the petitioner withdraws the matter."""

        reason: str

        def evolve(self, case: Case) -> None:
            case.stage_before_close = case.stage
            case.stage = Stage.WITHDRAWN

    class IdentityDisclosed(Event):
        """Someone was shown a protected identity (an informant's, 条例 Art 30, 46): who saw
        whose, when and why. Recorded for every disclosure; it changes nothing in the case."""

        petitioner_ids: list[UUID]
        purpose: str

    class PersonalDataErased(Event):
        """A petitioner's personal data on this case was made unreadable (retention ended):
        their key was destroyed; the events are unchanged."""

        petitioner_id: UUID
        reason: str

    class Corrected(Event):
        """更正: a new fact saying which recorded fact was wrong, what it should say, and why.

        The original event stays in the log unchanged; readers apply corrections on top.
        """

        corrects_version: int
        corrects_event: str
        field: str
        new_value: Any
        reason: str

        def evolve(self, case: Case) -> None:
            case.correction_count += 1
            if self.corrects_event == "Registered":
                attribute = "registered_at" if self.field == "occurred_at" else self.field
                setattr(case, attribute, self.new_value)

    # Attributes set by Registered.apply (declared for readers and type checkers).
    case_number: str
    registering_office: UUID
    channel: str
    received_at: datetime
    registered_at: datetime
    matter_kind: str
    category: str
    summary: str
    petitioner_kind: str
    petitioner_ids: list[UUID]
    headcount: int
    concerned_unit: UUID | None
    stage: Stage
    holder_unit: UUID | None
    handler: UUID | None
    leader: UUID | None
    routed_by: UUID | None
    extension_pending: bool
    paused_for: str | None
    open_supervisions: dict[int, UUID]
    supervision_count: int
    replies: int
    rated_replies: int
    appeals: list[dict[str, Any]]
    stage_before_close: Stage | None
    merged_into: UUID | None
    event_types: list[str]
    command_ids: dict[str, int]
    correction_count: int
    receipt_hash: str | None

    def __init__(self) -> None:
        """State is set by ``Registered.apply``; a case only comes into being by registration."""

    # ------------------------------------------------------------------ commands

    @classmethod
    def register(
        cls,
        p: Provenance,
        *,
        case_id: UUID,
        case_number: str,
        channel: str,
        received_at: datetime,
        matter_kind: str,
        category: str,
        summary: str,
        petitioner_kind: str,
        petitioners: list[Petitioner],
        headcount: int,
        concerned_unit: UUID | None = None,
        concerned_person: str | None = None,
        attachments: list[str] | None = None,
        receipt_hash: str | None = None,
    ) -> Case:
        """登记. ``p.actor_unit`` is the registering office; the clerk is ``p.actor``."""
        if p.actor_unit is None:
            raise NoStanding("register: only a clerk acting for a petition office can register")
        _id(case_id, "case_id")
        _text(case_number, "case_number", limit=64)
        channel_value = parse_enum(Channel, channel, "channel")
        require_aware(received_at, "received_at")
        kind = parse_enum(MatterKind, matter_kind, "matter_kind")
        petitioner_kind_value = parse_enum(PetitionerKind, petitioner_kind, "petitioner_kind")
        _text(category, "category", limit=MAX_SHORT_TEXT)
        _text(summary, "summary")
        if not isinstance(petitioners, list) or not all(
            isinstance(x, Petitioner) for x in petitioners
        ):
            raise InvalidInput("petitioners: expected a list of petitioners")
        validate_petitioners(petitioner_kind_value, petitioners, headcount)
        if concerned_unit is not None:
            _id(concerned_unit, "concerned_unit")
        if concerned_person is not None:
            _text(concerned_person, "concerned_person", limit=MAX_SHORT_TEXT)
        if kind is MatterKind.REPORT and concerned_unit is None and concerned_person is None:
            raise InvalidInput("a report (检举控告) must name the unit or person it concerns")
        if receipt_hash is not None:
            _text(receipt_hash, "receipt_hash", limit=128)
        refs = list(attachments or [])
        for ref in refs:
            _text(ref, "attachments[]", limit=MAX_SHORT_TEXT)
        if received_at > p.occurred_at:
            raise TimeOutOfOrder(
                f"registered at {p.occurred_at.isoformat()}, before the matter was received "
                f"({received_at.isoformat()})"
            )
        return cls._create(
            cls.Registered,
            id=case_id,
            **p.event_fields(),
            case_number=case_number,
            registering_office=p.actor_unit,
            channel=channel_value.value,
            received_at=received_at,
            matter_kind=kind.value,
            category=category,
            summary=summary,
            petitioner_kind=petitioner_kind_value.value,
            petitioners=[x.as_record() for x in petitioners],
            headcount=headcount,
            concerned_unit=concerned_unit,
            concerned_person=concerned_person,
            attachments=refs,
            receipt_hash=receipt_hash,
        )

    def route(
        self,
        p: Provenance,
        *,
        to_unit: UUID,
        mode: str = RoutingMode.TRANSFER,
        to_handler: UUID | None = None,
        note: str = "",
    ) -> None:
        """转送/交办 to the competent unit. Only the unit holding the case can send it on."""
        self._check(p, "route", holder_only=True)
        _id(to_unit, "to_unit")
        if to_handler is not None:
            _id(to_handler, "to_handler")
        if to_unit == self.holder_unit:
            raise ProcessRuleViolation("route: the case is already with that unit")
        mode_value = parse_enum(RoutingMode, mode, "mode")
        self._emit(
            self.Routed,
            p,
            mode=mode_value.value,
            to_unit=to_unit,
            to_handler=to_handler,
            note=_text(note, "note", required=False),
        )

    def object_jurisdiction(self, p: Provenance, *, reason: str) -> None:
        """管辖异议 by the receiving unit. A late objection is recorded; the rulebook judges it."""
        self._check(p, "object_jurisdiction", holder_only=True)
        if self.routed_by is None:
            raise ProcessRuleViolation("object to jurisdiction: nobody sent this case here")
        self._emit(self.JurisdictionObjected, p, reason=_text(reason, "reason"))

    def decide_objection(self, p: Provenance, *, agreed: bool, note: str = "") -> None:
        """Only the sending office decides; materials go back only if it agrees."""
        self._check(p, "decide_objection")
        if p.actor_unit != self.routed_by:
            raise NoStanding("decide an objection: only the unit that sent the case can decide")
        if not isinstance(agreed, bool):
            raise InvalidInput(f"agreed: expected true or false, got {agreed!r}")
        self._emit(
            self.ObjectionDecided, p, agreed=agreed, note=_text(note, "note", required=False)
        )

    def accept(self, p: Provenance, *, note: str = "") -> None:
        """受理."""
        self._check(p, "accept", holder_only=True)
        self._emit(self.Accepted, p, note=_text(note, "note", required=False))

    def refuse(self, p: Provenance, *, reason: str) -> None:
        """不予受理, with the reason."""
        self._check(p, "refuse", holder_only=True)
        self._emit(self.Refused, p, reason=_text(reason, "reason"))

    def assign_handler(self, p: Provenance, *, handler: UUID) -> None:
        self._check(p, "assign_handler", holder_only=True)
        self._emit(self.HandlerAssigned, p, handler=_id(handler, "handler"))

    def assign_lead(self, p: Provenance, *, leader: UUID) -> None:
        """领导包案. One leader at a time: a handover is a release, then an assignment."""
        self._check(p, "assign_lead")
        _id(leader, "leader")
        if self.leader is not None:
            raise ProcessRuleViolation(
                "assign a leader in charge: another leader is in charge; release them first"
            )
        self._emit(self.LeadAssigned, p, leader=leader)

    def release_lead(self, p: Provenance, *, note: str = "") -> None:
        self._check(p, "release_lead")
        if self.leader is None:
            raise ProcessRuleViolation("release the leader in charge: no leader is in charge")
        self._emit(
            self.LeadReleased, p, leader=self.leader, note=_text(note, "note", required=False)
        )

    def request_extension(self, p: Provenance, *, days: int, reason: str) -> None:
        """延期申请. A second extension is recordable; the rulebook says whether it counts."""
        self._check(p, "request_extension", holder_only=True)
        if self.extension_pending:
            raise ProcessRuleViolation("request an extension: a request is already pending")
        self._emit(
            self.ExtensionRequested, p, days=_days(days, "days"), reason=_text(reason, "reason")
        )

    def decide_extension(
        self,
        p: Provenance,
        *,
        decision: str,
        approver: UUID,
        days_granted: int = 0,
        petitioner_told_at: datetime | None = None,
    ) -> None:
        """The head of the holding unit approves or rejects a pending extension request."""
        self._check(p, "decide_extension", holder_only=True)
        if not self.extension_pending:
            raise ProcessRuleViolation("decide an extension: no extension request is pending")
        decision_value = parse_enum(ExtensionDecision, decision, "decision")
        _id(approver, "approver")
        if decision_value is ExtensionDecision.APPROVED:
            _days(days_granted, "days_granted")
        elif days_granted != 0:
            raise InvalidInput("days_granted: a rejected extension grants no days")
        if petitioner_told_at is not None:
            require_aware(petitioner_told_at, "petitioner_told_at")
        self._emit(
            self.ExtensionDecided,
            p,
            decision=decision_value.value,
            approver=approver,
            days_granted=days_granted,
            petitioner_told_at=petitioner_told_at,
        )

    def pause_clock(self, p: Provenance, *, reason: str, note: str = "") -> None:
        """中止 for a hearing or an appraisal."""
        self._check(p, "pause_clock", holder_only=True)
        if self.paused_for is not None:
            raise ProcessRuleViolation(f"pause the clock: already paused ({self.paused_for})")
        reason_value = parse_enum(PauseReason, reason, "reason")
        self._emit(
            self.ClockPaused, p, reason=reason_value.value, note=_text(note, "note", required=False)
        )

    def resume_clock(self, p: Provenance, *, note: str = "") -> None:
        self._check(p, "resume_clock", holder_only=True)
        if self.paused_for is None:
            raise ProcessRuleViolation("resume the clock: the clock is not paused")
        self._emit(self.ClockResumed, p, note=_text(note, "note", required=False))

    def issue_supervision(
        self, p: Provenance, *, level: str, deadline: date, instructions: str
    ) -> int:
        """督办 against the unit holding the case. Returns the notice number within the case."""
        self._check(p, "issue_supervision")
        if p.actor_unit is None:
            raise NoStanding("issue supervision: only an office can issue a 督办 notice")
        if p.actor_unit == self.holder_unit:
            raise NoStanding("issue supervision: a unit cannot supervise itself")
        if not isinstance(deadline, date) or isinstance(deadline, datetime):
            raise InvalidInput(f"deadline: expected a date, got {deadline!r}")
        require_plausible_year(deadline.year, "deadline")
        assert self.holder_unit is not None  # every HELD stage has a holder
        notice_no = self.supervision_count + 1
        self._emit(
            self.SupervisionIssued,
            p,
            notice_no=notice_no,
            supervised_unit=self.holder_unit,
            level=_text(level, "level", limit=MAX_SHORT_TEXT),
            deadline=deadline,
            instructions=_text(instructions, "instructions"),
        )
        return notice_no

    def answer_supervision(self, p: Provenance, *, notice_no: int, answer: str) -> None:
        """The supervised unit answers a 督办 notice in writing."""
        self._check(p, "answer_supervision")
        if not isinstance(notice_no, int) or isinstance(notice_no, bool):
            raise InvalidInput(f"notice_no: expected a notice number, got {notice_no!r}")
        if notice_no not in self.open_supervisions:
            raise ProcessRuleViolation(
                f"answer supervision: notice {notice_no!r} is not an open notice on this case"
            )
        if p.actor_unit != self.open_supervisions[notice_no]:
            raise NoStanding("answer supervision: only the supervised unit answers its notice")
        self._emit(self.SupervisionAnswered, p, notice_no=notice_no, answer=_text(answer, "answer"))

    def reply(
        self,
        p: Provenance,
        *,
        outcome: str,
        text: str,
        delivered_at: datetime,
        delivery_method: str = "书面",
    ) -> None:
        """答复: only an accepted case can be answered, by the unit holding it."""
        self._check(p, "reply", holder_only=True)
        outcome_value = parse_enum(ReplyOutcome, outcome, "outcome")
        self._check_time(require_aware(delivered_at, "delivered_at"), "delivered_at")
        self._emit(
            self.Replied,
            p,
            outcome=outcome_value.value,
            text=_text(text, "text"),
            delivered_at=delivered_at,
            delivery_method=_text(delivery_method, "delivery_method", limit=32),
        )

    def rate(self, p: Provenance, *, rating: str, comment: str = "") -> None:
        """满意度评价 of the latest reply, by the petitioner or recorded for them."""
        self._check(p, "rate")
        self._require_petitioner(p, "rate the reply")
        if self.rated_replies >= self.replies:
            raise ProcessRuleViolation(
                "rate the reply: this reply is already rated; a wrong rating is corrected"
            )
        rating_value = parse_enum(Rating, rating, "rating")
        self._emit(
            self.Rated,
            p,
            rating=rating_value.value,
            comment=_text(comment, "comment", required=False),
        )

    def file_appeal(self, p: Provenance, *, level: str, to_unit: UUID, reason: str) -> None:
        """复查 after a reply; 复核 only after a 复查 decision; nothing after the 复核 decision."""
        level_value = parse_enum(AppealLevel, level, "level")
        if self.stage == Stage.FINAL:
            raise AppealNotAllowed("file an appeal: the 复核 decision is final (不再受理)")
        if self.stage in (Stage.IN_REVIEW, Stage.IN_REREVIEW):
            raise AppealNotAllowed(f"file an appeal: an appeal is already pending ({self.stage})")
        if level_value is AppealLevel.REREVIEW and self.stage != Stage.REVIEWED:
            raise AppealNotAllowed("file an appeal: 复核 can only follow a 复查 decision")
        if level_value is AppealLevel.REVIEW and self.stage == Stage.REVIEWED:
            raise AppealNotAllowed("file an appeal: 复查 is decided; the next step is 复核")
        self._check(p, "file_appeal")
        self._require_petitioner(p, "file an appeal")
        _id(to_unit, "to_unit")
        if to_unit == self.holder_unit:
            raise AppealNotAllowed("file an appeal: the unit that decided cannot review itself")
        self._emit(
            self.AppealFiled,
            p,
            level=level_value.value,
            to_unit=to_unit,
            reason=_text(reason, "reason"),
        )

    def decide_appeal(
        self, p: Provenance, *, decision: str, text: str, delivered_at: datetime
    ) -> None:
        """The reviewing unit's 复查/复核 decision."""
        self._check(p, "decide_appeal", holder_only=True)
        decision_value = parse_enum(AppealDecision, decision, "decision")
        self._check_time(require_aware(delivered_at, "delivered_at"), "delivered_at")
        self._emit(
            self.AppealDecided,
            p,
            level=self.appeals[-1]["level"],
            decision=decision_value.value,
            text=_text(text, "text"),
            delivered_at=delivered_at,
        )

    def close(self, p: Provenance, *, note: str = "") -> None:
        """办结, by the unit holding the case or the office that registered it."""
        self._check(p, "close")
        if p.actor_unit not in (self.holder_unit, self.registering_office):
            raise NoStanding("close: only the holding unit or the registering office can close")
        self._emit(self.Closed, p, note=_text(note, "note", required=False))

    def reopen(self, p: Provenance, *, reason: str) -> None:
        self._check(p, "reopen")
        if p.actor_unit not in (self.holder_unit, self.registering_office):
            raise NoStanding("reopen: only the holding unit or the registering office can reopen")
        self._emit(self.Reopened, p, reason=_text(reason, "reason"))

    def merge_into(self, p: Provenance, *, target_case: UUID, note: str = "") -> None:
        """Merge a duplicate into the case that already carries the same matter."""
        self._check(p, "merge_into")
        _id(target_case, "target_case")
        if target_case == self.id:
            raise ProcessRuleViolation("merge: a case cannot be merged into itself")
        if p.actor_unit not in (self.holder_unit, self.registering_office):
            raise NoStanding("merge: only the holding unit or the registering office can merge")
        self._emit(
            self.MergedInto, p, target_case=target_case, note=_text(note, "note", required=False)
        )

    def withdraw(self, p: Provenance, *, reason: str) -> None:
        """撤回 by the petitioner (or recorded for them)."""
        self._check(p, "withdraw")
        self._require_petitioner(p, "withdraw")
        self._emit(self.Withdrawn, p, reason=_text(reason, "reason"))

    def correct(
        self,
        p: Provenance,
        *,
        corrects_version: int,
        field: str,
        new_value: Any,
        reason: str,
    ) -> None:
        """更正 one field of one recorded event; the original stays in the log."""
        self._check(p, "correct")
        if (
            not isinstance(corrects_version, int)
            or isinstance(corrects_version, bool)
            or not 1 <= corrects_version <= len(self.event_types)
        ):
            raise NotCorrectable(
                f"correct: there is no event {corrects_version!r} on this case "
                f"(versions 1 to {len(self.event_types)})"
            )
        event_name = self.event_types[corrects_version - 1]
        if event_name == "Corrected":
            raise NotCorrectable("correct: a correction is corrected by a new correction")
        event_cls: type[Case.Event] = getattr(Case, event_name)
        if field not in event_cls.CORRECTABLE:
            allowed = ", ".join(sorted(event_cls.CORRECTABLE))
            raise NotCorrectable(
                f"correct: {event_name}.{field} cannot be corrected "
                f"(correctable: {allowed}); record a new action instead"
            )
        value = _coerce_correction(event_cls, field, new_value)
        if field in ("occurred_at", "received_at"):
            self._check_correction_time(event_name, field, value, p)
        self._emit(
            self.Corrected,
            p,
            corrects_version=corrects_version,
            corrects_event=event_name,
            field=field,
            new_value=value,
            reason=_text(reason, "reason"),
        )

    def record_disclosure(self, p: Provenance, *, purpose: str) -> None:
        """Record that ``p.actor`` was shown the petitioners' identities (any stage)."""
        if not isinstance(p, Provenance):
            raise InvalidInput("every command needs its provenance (actor, unit, times, id)")
        self._emit(
            self.IdentityDisclosed,
            p,
            petitioner_ids=list(self.petitioner_ids),
            purpose=_text(purpose, "purpose", limit=MAX_SHORT_TEXT),
        )

    def record_erasure(self, p: Provenance, *, petitioner_id: UUID, reason: str) -> None:
        """Record that a petitioner's personal data was erased (any stage)."""
        if not isinstance(p, Provenance):
            raise InvalidInput("every command needs its provenance (actor, unit, times, id)")
        if _id(petitioner_id, "petitioner_id") not in self.petitioner_ids:
            raise InvalidInput("petitioner_id: not a petitioner of this case")
        self._emit(
            self.PersonalDataErased,
            p,
            petitioner_id=petitioner_id,
            reason=_text(reason, "reason", limit=MAX_SHORT_TEXT),
        )

    # ------------------------------------------------------------------ helpers

    def has_processed(self, command_id: str) -> int | None:
        """The version the command produced, if this command id was already processed."""
        return self.command_ids.get(command_id)

    @property
    def is_report(self) -> bool:
        return self.matter_kind == MatterKind.REPORT

    def _check(self, p: Provenance, action: str, *, holder_only: bool = False) -> None:
        """The one place where stage, standing and time are checked for every action."""
        if not isinstance(p, Provenance):
            raise InvalidInput("every command needs its provenance (actor, unit, times, id)")
        if self.stage not in ALLOWED_STAGES[action]:
            what = ACTION_NAMES[action]
            if self.stage in INACTIVE:
                raise CaseNotActive(
                    f"{what}: the case is {self.stage}; only reopen or correct are possible"
                )
            raise ProcessRuleViolation(f"{what}: not possible while the case is {self.stage}")
        if holder_only and p.actor_unit != self.holder_unit:
            raise NoStanding(f"{ACTION_NAMES[action]}: only the unit holding the case can do this")
        self._check_time(p.occurred_at, "occurred_at")

    def _check_time(self, instant: datetime, field: str) -> None:
        if instant < self.received_at:
            raise TimeOutOfOrder(
                f"{field} {instant.isoformat()} is before the matter was received "
                f"({self.received_at.isoformat()})"
            )

    def _check_correction_time(
        self, event_name: str, field: str, value: datetime, p: Provenance
    ) -> None:
        if value > p.recorded_at:
            raise TimeOutOfOrder(f"correct {field}: {value.isoformat()} is in the future")
        if event_name == "Registered" and field == "received_at":
            if value > self.registered_at:
                raise TimeOutOfOrder(
                    f"correct received_at: {value.isoformat()} is after the registration"
                )
        elif event_name == "Registered":  # the registration's own time
            if value < self.received_at:
                raise TimeOutOfOrder("correct occurred_at: registration before receipt")
        else:
            self._check_time(value, "occurred_at")

    def _require_petitioner(self, p: Provenance, what: str) -> None:
        if p.actor in self.petitioner_ids or p.on_behalf_of in self.petitioner_ids:
            return
        raise NoStanding(f"{what}: only a petitioner of this case, or someone recording for them")

    def _emit(self, event_class: type[Case.Event], p: Provenance, **fields: Any) -> None:
        self.trigger_event(event_class, **p.event_fields(), **fields)


def _coerce_correction(event_cls: type[Case.Event], field: str, value: Any) -> Any:
    """Check a corrected value has the field's type, and is a member where the field is a set."""
    hints = typing.get_type_hints(event_cls)
    expected = hints[field]
    enums = {
        "channel": Channel,
        "matter_kind": MatterKind,
        "outcome": ReplyOutcome,
        "rating": Rating,
        "decision": AppealDecision if event_cls is Case.AppealDecided else ExtensionDecision,
    }
    if field in enums:
        return parse_enum(enums[field], value, field).value
    if expected in (datetime, datetime | None):
        if value is None and expected is not datetime:
            return None
        return require_aware(value, field)
    if expected is date:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidInput(f"{field}: expected a date, got {value!r}")
        require_plausible_year(value.year, field)
        return value
    if expected is int:
        return _days(value, field)
    if expected is str:
        return _text(value, field)
    raise NotCorrectable(f"correct: {field} has no correction rule")  # pragma: no cover
