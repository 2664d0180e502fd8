"""The bulk writer keeps the ledger's rules: what the ledger refuses it refuses, writing
nothing; numbers stay gap-free; it continues cases and numberings already in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidInput, NoStanding, NotFound
from domain.petitioners import Petitioner
from ledger.application import Actor, Ledger
from ledger.bulk import BulkWriter, Command
from ledger.integrity import verify

DAY = datetime(2025, 3, 3, 1, tzinfo=UTC)
ADMIN = Actor(uuid4(), None)


class Script:
    """Commands for a petition office with one clerk, and a department."""

    def __init__(self) -> None:
        self.t = DAY
        self.n = 0
        self.office = Ledger.unit_id_for("office")
        self.department = Ledger.unit_id_for("department")
        self.clerk = Ledger.person_id_for("clerk")

    def command(
        self, kind: str, action: str, target: UUID | None, actor: Actor, **args: Any
    ) -> Command:
        self.n += 1
        self.t += timedelta(hours=1)
        return Command(kind, action, target, actor, self.t, self.t, f"c{self.n}", args)

    def directory(self) -> list[Command]:
        return [
            Command(
                "unit",
                "create_unit",
                None,
                ADMIN,
                DAY,
                DAY,
                "office",
                {"name": "县信访局", "code": "XF", "kind": "信访部门", "parent": None},
            ),
            Command(
                "unit",
                "create_unit",
                None,
                ADMIN,
                DAY,
                DAY,
                "department",
                {"name": "县民政局", "code": "MZ", "kind": "职能部门", "parent": None},
            ),
            Command("person", "create_person", None, ADMIN, DAY, DAY, "clerk", {"name": "王芳"}),
            Command(
                "person",
                "join",
                self.clerk,
                ADMIN,
                DAY,
                DAY,
                "clerk-joins",
                {"unit": self.office, "role": "信访干部"},
            ),
        ]

    def register(self, headcount: int = 1) -> Command:
        return self.command(
            "case",
            "register",
            None,
            Actor(self.clerk, self.office),
            channel="来信",
            received_at=self.t,
            matter_kind="申诉求决",
            category="低保救助",
            summary="申请低保未获批准",
            petitioner_kind="实名",
            petitioners=[Petitioner(uuid4(), name="张秀英")],
            headcount=headcount,
        )


def test_a_refused_registration_writes_nothing_and_takes_no_number(ledger: Ledger) -> None:
    s = Script()
    writer = BulkWriter(ledger)
    for command in s.directory():
        writer.record(command)
    with pytest.raises(InvalidInput, match="headcount"):
        writer.record(s.register(headcount=0))
    first = writer.record(s.register())
    writer.flush()

    assert ledger.get_case(first).case_number == "XF-2025-00001"  # the refused one took none
    assert verify(ledger.engine).ok


def test_an_actor_not_in_the_unit_and_a_unit_unknown_are_refused(ledger: Ledger) -> None:
    s = Script()
    writer = BulkWriter(ledger)
    for command in s.directory():
        writer.record(command)
    case = writer.record(s.register())
    stranger = Actor(s.clerk, s.department)  # the clerk is not a member of the department
    with pytest.raises(NoStanding):
        writer.record(s.command("case", "route", case, stranger, to_unit=s.office))
    with pytest.raises(NotFound):
        writer.record(s.command("case", "route", case, Actor(s.clerk, s.office), to_unit=uuid4()))
    writer.flush()
    assert [e.type for e in ledger.history(case)] == ["Registered"]


def test_a_later_run_continues_the_cases_and_numbers_already_stored(ledger: Ledger) -> None:
    s = Script()
    first_run = BulkWriter(ledger)
    for command in s.directory():
        first_run.record(command)
    case = first_run.record(s.register())
    first_run.release([case])
    first_run.flush()

    second_run = BulkWriter(ledger)
    second_run.record(
        s.command("case", "route", case, Actor(s.clerk, s.office), to_unit=s.department)
    )
    another = second_run.record(s.register())
    second_run.flush()

    assert [e.type for e in ledger.history(case)] == ["Registered", "Routed"]
    assert ledger.get_case(another).case_number == "XF-2025-00002"
    assert verify(ledger.engine).ok
