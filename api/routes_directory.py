"""The directory over HTTP (admin): units and people, and people joining, changing role in
and leaving units. Each is an event like any other; the effective day is ``occurred_at``."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.deps import Instant, LedgerDep, PrincipalDep
from api.routes_cases import IdempotencyKey, command_id, occurred
from api.security import Principal
from domain.errors import InvalidInput
from ledger.application import Actor, CommandResult

router = APIRouter()


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    code: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    parent: UUID | None = None
    occurred_at: Instant | None = None


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    occurred_at: Instant | None = None


class MembershipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["join", "change_role", "leave"]
    unit: UUID
    role: str | None = Field(default=None, max_length=16)
    occurred_at: Instant | None = None


class DirectoryOut(BaseModel):
    id: UUID
    version: int
    position: int | None
    replayed: bool


def _admin(principal: Principal) -> Actor:
    access.require_view(principal, "directory")
    return Actor(principal.user, None)


def _out(result: CommandResult) -> DirectoryOut:
    return DirectoryOut(
        id=result.aggregate_id,
        version=result.version,
        position=result.position,
        replayed=result.replayed,
    )


@router.post("/units", status_code=201, operation_id="createUnit", response_model=DirectoryOut)
def create_unit(
    body: UnitIn, ledger: LedgerDep, principal: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> DirectoryOut:
    """A new unit in the hierarchy."""
    result = ledger.create_unit(
        actor=_admin(principal),
        occurred_at=occurred(body.occurred_at),
        command_id=command_id(principal, idempotency_key),
        **body.model_dump(exclude={"occurred_at"}),
    )
    return _out(result)


@router.post("/people", status_code=201, operation_id="createPerson", response_model=DirectoryOut)
def create_person(
    body: PersonIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> DirectoryOut:
    """A new person (who may then join units)."""
    result = ledger.create_person(
        actor=_admin(principal),
        occurred_at=occurred(body.occurred_at),
        command_id=command_id(principal, idempotency_key),
        name=body.name,
    )
    return _out(result)


@router.post(
    "/people/{person_id}/memberships", operation_id="changeMembership", response_model=DirectoryOut
)
def change_membership(
    person_id: UUID,
    body: MembershipIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> DirectoryOut:
    """A person joins a unit, changes role in it, or leaves it."""
    arguments: dict[str, object] = {"unit": body.unit}
    if body.action != "leave":
        if body.role is None:
            raise InvalidInput("role: required to join or change role")
        arguments["role"] = body.role
    result = ledger.update_person(
        person_id,
        body.action,
        actor=_admin(principal),
        occurred_at=occurred(body.occurred_at),
        command_id=command_id(principal, idempotency_key),
        **arguments,
    )
    return _out(result)
