"""Cases over HTTP: registration and every action as commands; the case, its history and its
judgments as reads — each through the one access check, with the one redaction step.

Commands take an ``Idempotency-Key`` (the same key twice returns the first result and writes
nothing more) and an ``If-Match`` with the case version a client read (412 if stale). Their
response carries the log position written, for read-your-writes.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from api import access
from api.deps import After, AsOf, Day, Instant, LedgerDep, PrincipalDep
from api.presenters import Names, case_view, history_view, plain
from api.readmodel import default_rules, store_views, views_at
from api.security import Principal
from domain.case import Case
from domain.errors import ConcurrentUpdate, DomainError, InvalidInput, NotFound
from domain.petitioners import Petitioner
from domain.workflow import ALLOWED_STAGES
from ledger.application import Actor, CommandResult, Ledger
from projections import schema
from projections.queries import Views, names
from projections.runner import live_rules
from projections.viewsets import cases_as_of

router = APIRouter()

IdempotencyKey = Annotated[
    str | None,
    # 160: with the "http:<user>:" prefix the command id stays within the domain's 200
    Header(alias="Idempotency-Key", max_length=160, description="Retry-safe command key."),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The case version (ETag) you read.")
]


class PreconditionFailed(DomainError):
    """The case changed since the client read it (If-Match did not match)."""

    code = "precondition-failed"

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class CommandOut(BaseModel):
    case_id: UUID
    version: int
    position: int | None = Field(description="Log position written (None: a replay).")
    replayed: bool
    case_number: str | None = None
    value: Any = None
    receipt_code: str | None = Field(
        default=None, description="The petitioner's 查询码, shown once at registration."
    )


class PetitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    petitioner_id: UUID | None = None
    name: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=200)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: Instant | None = Field(default=None, description="When registered (now).")
    channel: str = Field(max_length=16)
    received_at: Instant
    matter_kind: str = Field(max_length=16)
    category: str = Field(max_length=500)
    summary: str = Field(max_length=20_000)
    petitioner_kind: str = Field(max_length=8)
    petitioners: list[PetitionerIn] = Field(min_length=1, max_length=5)
    headcount: int = Field(ge=1, le=100_000)
    concerned_unit: UUID | None = None
    concerned_person: str | None = Field(default=None, max_length=500)
    attachments: list[str] = Field(default_factory=list, max_length=50)


def receipt_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def command_id(principal: Principal, key: str | None) -> str:
    """An Idempotency-Key scoped to its user, or a fresh id (a command without retries)."""
    return f"http:{principal.user.hex}:{key}" if key else f"http:{uuid4().hex}"


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput(f"If-Match: {if_match!r} is not a case version")
    return int(text)


def occurred(occurred_at: datetime | None) -> datetime:
    """When a command says it happened: given with an offset, or now."""
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at: give a time zone offset")
    return occurred_at or datetime.now(UTC)


def _out(result: CommandResult, response: Response) -> CommandOut:
    response.headers["ETag"] = f'"{result.version}"'
    return CommandOut(
        case_id=result.aggregate_id,
        version=result.version,
        position=result.position,
        replayed=result.replayed,
        case_number=result.case_number,
        value=result.value,
    )


@router.post("/cases", status_code=201, operation_id="registerCase", response_model=CommandOut)
def register(
    body: RegisterIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandOut:
    """登记 a matter for the caller's office; returns the case number and the receipt code."""
    access.require_action(principal, "register")
    code_secret = secrets.token_urlsafe(9)
    fields = body.model_dump(exclude={"occurred_at", "petitioners"})
    result = ledger.register_case(
        actor=Actor(principal.user, principal.unit),
        occurred_at=occurred(body.occurred_at),
        command_id=command_id(principal, idempotency_key),
        petitioners=[
            Petitioner(**{**p.model_dump(), "petitioner_id": p.petitioner_id or uuid4()})
            for p in body.petitioners
        ],
        receipt_hash=receipt_hash(code_secret),
        **fields,
    )
    out = _out(result, response)
    if not result.replayed:  # the code is shown once; a replay cannot show it again
        out.receipt_code = f"{result.case_number}.{code_secret}"
    return out


_BOUNDED: dict[Any, Any] = {
    datetime: Instant,
    date: Day,
    datetime | None: Instant | None,
    date | None: Day | None,
}


def _action_model(action: str) -> type[BaseModel]:
    """The request body of a case action, from the domain method's own signature."""
    method = getattr(Case, action)
    hints = typing.get_type_hints(method)
    fields: dict[str, Any] = {
        "occurred_at": (Instant | None, Field(default=None, description="When it happened.")),
        "on_behalf_of": (UUID | None, None),
    }
    for name, parameter in inspect.signature(method).parameters.items():
        if name in ("self", "p"):
            continue
        annotation = hints[name]
        if annotation is str:
            annotation = Annotated[str, Field(max_length=20_000)]
        annotation = _BOUNDED.get(annotation, annotation)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation, default)
    title = "".join(part.title() for part in action.split("_")) + "Command"
    return create_model(title, __config__=ConfigDict(extra="forbid"), **fields)


def _add_action(action: str) -> None:
    model = _action_model(action)

    def command(
        reference: str,
        body: model,  # type: ignore[valid-type]
        ledger: LedgerDep,
        principal: PrincipalDep,
        response: Response,
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> CommandOut:
        access.require_action(principal, action)
        case_id = ledger.find_case_id(reference)
        payload: BaseModel = body
        arguments = payload.model_dump(exclude={"occurred_at", "on_behalf_of"})
        meta = payload.model_dump(include={"occurred_at", "on_behalf_of"})
        expected = _expected_version(if_match)
        try:
            result = ledger.act(
                case_id,
                action,
                actor=Actor(principal.user, principal.unit, meta["on_behalf_of"]),
                occurred_at=occurred(meta["occurred_at"]),
                command_id=command_id(principal, idempotency_key),
                expected_version=expected,
                **arguments,
            )
        except ConcurrentUpdate as e:
            if expected is not None and e.current_version is not None:
                raise PreconditionFailed(
                    f"the case is at version {e.current_version}, not {expected}",
                    e.current_version,
                ) from None
            raise
        return _out(result, response)

    command.__annotations__["body"] = model  # a local class: not resolvable from a string
    command.__doc__ = (getattr(Case, action).__doc__ or action).strip().split("\n")[0]
    router.post(
        f"/cases/{{reference}}/{action.replace('_', '-')}",
        operation_id=f"case_{action}",
        response_model=CommandOut,
        summary=action.replace("_", " "),
    )(command)


for _action in sorted(ALLOWED_STAGES):
    _add_action(_action)


# ---------------------------------------------------------------------------- reads


def checked_case(
    ledger: Ledger, views: Views, principal: Principal, reference: str
) -> tuple[UUID, access.Scope, access.CaseUnits]:
    """The case id, the caller's scope, and the case's units — or 403/404."""
    case_id = ledger.find_case_id(reference)
    registered = ledger.history(case_id)[0]
    data = {k: (v.hex if isinstance(v, UUID) else v) for k, v in registered.data.items()}
    units = access.case_units(
        views, case_id.hex, data, registered.actor.hex if registered.actor else ""
    )
    scope = access.Scope(principal, views)
    scope.require_case(units)
    return case_id, scope, units


def reveal_identity(
    ledger: Ledger,
    case_id: UUID,
    scope: access.Scope,
    units: access.CaseUnits,
    *,
    through: str = "the API",
) -> bool:
    """Whether to show the informant; a disclosure is recorded before anything is shown."""
    if not units.is_report or not scope.cleared_for_identity(units):
        return False
    principal = scope.principal
    ledger.record_disclosure(
        case_id,
        actor=Actor(principal.user, principal.unit),
        purpose=f"shown to a {principal.role} through {through}",
        command_id=f"disclosure:{uuid4().hex}",
    )
    return True


@router.get("/cases/{reference}", operation_id="getCase")
def get_case(
    reference: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    response: Response,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """A case by number (XF-2025-00123) or id; with ``as_of``, as the record stood then."""
    access.require_view(principal, "case")
    case_id, scope, units = checked_case(ledger, store_views(ledger), principal, reference)
    at = _instant(as_of)
    case = ledger.get_case(case_id) if at is None else ledger.case_as_of(case_id, at)
    response.headers["ETag"] = f'"{case.version}"'
    return plain(case_view(ledger, case, reveal=reveal_identity(ledger, case_id, scope, units)))  # type: ignore[no-any-return]


@router.get("/cases/{reference}/history", operation_id="getCaseHistory")
def get_history(reference: str, ledger: LedgerDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every fact recorded on the case, in order, exactly as stored."""
    access.require_view(principal, "history")
    case_id, scope, units = checked_case(ledger, store_views(ledger), principal, reference)
    reveal = reveal_identity(ledger, case_id, scope, units)
    return plain(history_view(ledger, case_id, Names(ledger), reveal=reveal))  # type: ignore[no-any-return]


@router.get("/cases/{reference}/summary", operation_id="getCaseSummary")
def get_summary(
    reference: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    after: After = None,
) -> dict[str, Any]:
    """Stage, holder, the deadline in force and time left or overdue, flags."""
    access.require_view(principal, "case")
    views, now, case_id = case_views(ledger, principal, reference, as_of, after)
    summary = views.case_summary(case_id.hex, now)
    if summary is None:
        raise NotFound(f"case {reference} was not yet recorded then")
    return named(views, summary)


@router.get("/cases/{reference}/chain", operation_id="getResponsibilityChain")
def get_chain(
    reference: str,
    ledger: LedgerDep,
    principal: PrincipalDep,
    as_of: AsOf = None,
    after: After = None,
) -> list[dict[str, Any]]:
    """The responsibility chain: custody intervals with deadlines and overdue parts."""
    access.require_view(principal, "chain")
    views, now, case_id = case_views(ledger, principal, reference, as_of, after)
    return named_rows(views, views.chain(case_id.hex, now))


def case_views(
    ledger: Ledger,
    principal: Principal,
    reference: str,
    as_of: datetime | None,
    after: int | None = None,
) -> tuple[Views, datetime, UUID]:
    """The views one case's judgments are read from, after the scope check on the live views
    of the store's own database (see ``judged_views``)."""
    at = _instant(as_of)
    live = store_views(ledger)
    case_id, _, _ = checked_case(ledger, live, principal, reference)
    views, now = judged_views(ledger, live, case_id, at, after)
    return views, now, case_id


def judged_views(
    ledger: Ledger, live: Views, case_id: UUID, at: datetime | None, after: int | None = None
) -> tuple[Views, datetime]:
    """The live views, or, as of an instant, only this case and its petitioners' other cases
    (all its 重复访 judgment looks at) judged from the facts recorded by then: the rows the
    whole past view set would give them, without judging the whole log."""
    if at is None:  # where the views are read (a replica, if any), including ``after``
        return views_at(ledger, None, after=after), datetime.now(UTC)
    loaded = live_rules(ledger.projection_engine, default_rules())[1]
    return cases_as_of(ledger.engine, loaded, at, live.same_petitioners(case_id.hex)), at


@router.get("/cases", operation_id="listCases")
def list_cases(
    ledger: LedgerDep,
    principal: PrincipalDep,
    stage: str | None = None,
    matter_kind: str | None = None,
    period: Annotated[str | None, Query(description="Registered in this period.")] = None,
    flag: Annotated[str | None, Query(pattern="^(collective|skip_level|confidential)$")] = None,
    unit: Annotated[str | None, Query(description="Held by this unit's subtree (hex id).")] = None,
    number: Annotated[
        str | None, Query(max_length=64, description="Case number contains this text.")
    ] = None,
    person: Annotated[
        UUID | None,
        Query(description="Handled or led (包案) by this person, now or at any time."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # SQL OFFSET: bounded, not a 500
    after: After = None,
) -> dict[str, Any]:
    """Cases in the caller's scope, filtered and paginated (live views)."""
    return case_list(
        ledger,
        principal,
        CaseFilters(stage, matter_kind, period, flag, unit, number, person.hex if person else None),
        limit=limit,
        offset=offset,
        after=after,
    )


@dataclass(frozen=True)
class CaseFilters:
    """The case list's filters (each ``None``: not filtered)."""

    stage: str | None = None
    matter_kind: str | None = None
    period: str | None = None
    flag: str | None = None
    unit: str | None = None
    number: str | None = None
    person: str | None = None


def case_list(
    ledger: Ledger,
    principal: Principal,
    filters: CaseFilters,
    *,
    limit: int = 50,
    offset: int = 0,
    after: int | None = None,
) -> dict[str, Any]:
    """The cases a user may see, filtered, newest first: ``total`` and one page of ``items``."""
    access.require_view(principal, "cases")
    views, _ = views_for(ledger, None, after)
    scope = access.Scope(principal, views)
    units = scope.units
    if filters.unit is not None:
        scope.require_unit(filters.unit)
        units = access.subtree(views, filters.unit)
    c = schema.cases
    query = sa.select(c).where(
        c.c.view_set == views.view_set,
        sa.or_(
            c.c.registering_office.in_(units),
            c.c.holder_unit.in_(units),
            c.c.concerned_unit.in_(units),
        ),
    )
    for column, value in (
        ("stage", filters.stage),
        ("matter_kind", filters.matter_kind),
        ("registered_period", filters.period),
    ):
        if value is not None:
            query = query.where(c.c[column] == value)
    if filters.flag is not None:
        if filters.flag not in ("collective", "skip_level", "confidential"):
            raise InvalidInput(f"flag: {filters.flag!r} is not a flag")
        query = query.where(c.c[filters.flag].is_(True))
    if filters.number:
        query = query.where(c.c.case_number.contains(filters.number.strip(), autoescape=True))
    if filters.person:
        # held by this person, or led by them (包案), now or at any time in the case's custody
        k = schema.custody
        query = query.where(
            c.c.case_id.in_(
                sa.select(k.c.case_id).where(
                    k.c.view_set == views.view_set,
                    sa.or_(k.c.handler == filters.person, k.c.leader == filters.person),
                )
            )
        )
    with views.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar()
        rows = (
            conn.execute(
                query.order_by(c.c.received_s.desc(), c.c.case_number).limit(limit).offset(offset)
            )
            .mappings()
            .all()
        )
    return {
        "total": total,
        "items": named_rows(
            views, [{k: v for k, v in row.items() if k != "view_set"} for row in rows]
        ),
    }


def _instant(as_of: datetime | None) -> datetime | None:
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of: give a time zone offset, e.g. 2025-03-31T24:00+08:00")
    return as_of


def views_for(
    ledger: Ledger, as_of: datetime | None, after: int | None = None
) -> tuple[Views, datetime]:
    """Live views (including the log position ``after``, if given) or views as of an
    instant."""
    at = _instant(as_of)
    views = views_at(ledger, at, after=after if at is None else None)
    return views, at or datetime.now(UTC)


NAMED_KEYS = frozenset(
    {
        "holder_unit",
        "handler",
        "leader",
        "party",
        "unit",
        "person",
        "registering_office",
        "accepted_by",
        "replied_by",
        "competent_unit",
        "concerned_unit",
    }
)


def named(views: Views, row: dict[str, Any], known: dict[str, str] | None = None) -> dict[str, Any]:
    """The row with ids shown by name (``known``: the names, if already read)."""
    known = names(views) if known is None else known
    out = {
        k: known.get(v, v) if k in NAMED_KEYS and isinstance(v, str) else v for k, v in row.items()
    }
    return plain(out)  # type: ignore[no-any-return]


def named_rows(views: Views, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ids shown by name, the names read once (a board has a row per unit)."""
    known = names(views)
    return [named(views, row, known) for row in rows]
