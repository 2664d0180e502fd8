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

The format is ``api.taizhang``; how a row becomes commands, and who is recorded as doing
what, is ``api.taizhang_plan``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from api.taizhang import DATE_ONLY_AT, read_rows
from api.taizhang_plan import (
    Context,
    DirectoryIndex,
    Rejection,
    RowPlan,
    Step,
    plan_row,
)
from domain.case import Case
from domain.errors import DomainError, NotFound
from domain.provenance import Provenance
from ledger.application import Actor, Ledger, RecordedEvent


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
