"""Recording many commands at once: the same events the ledger's commands write, saved in
large batches.

A ``Command`` is one call of the ledger's API written down as data, with the instant the
ledger's clock gives it (``recorded_at``). ``record_one`` runs it through ``Ledger`` (one
command, one transaction: the reference path). ``BulkWriter`` runs the same commands on
aggregates held in memory, with the ledger's own rules for what spans aggregates — ids derived
from command ids, the gap-free case numbers, petitioners' data sealed with their own keys, the
actor a member of the unit they act for, the units and people named known — and stores the
events of thousands of commands in one save through the event store's recorder, which seals
every event (``ledger.seals``). Events go to the store in command order, so a bulk write and
the same commands one by one leave byte-identical logs and seals; snapshots of the case
numbering are taken at the same versions as the ledger takes them.

Commands on one aggregate must come in the order they happened. A refused command raises the
domain's error and leaves nothing pending; what earlier commands left pending is stored by the
next ``flush``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, DomainEventProtocol

from domain.case import Case
from domain.directory import Person, Unit
from domain.errors import InvalidInput, NoStanding, NotFound
from domain.numbering import CaseNumbering
from domain.petitioners import Petitioner
from domain.provenance import Provenance
from ledger.application import (
    CASE_ACTIONS,
    PERSON_ACTIONS,
    Actor,
    CommandResult,
    Ledger,
    _call,
)
from ledger.personal import seal_with

DIRECTORY_KINDS = ("unit", "person")
KEYS_IN_MEMORY = 100_000
"""Petitioners' keys kept at hand for their next case; beyond that, they are read back."""
_UNIT_ARGUMENTS = frozenset({"to_unit", "concerned_unit", "unit", "parent"})
_PERSON_ARGUMENTS = frozenset({"to_handler", "handler", "leader", "approver"})


@dataclass(frozen=True, slots=True)
class Command:
    """One command to the ledger, as data.

    ``kind`` says what it acts on: ``unit`` (``create_unit``), ``person`` (``create_person``,
    ``join``, ``change_role``, ``leave``) or ``case`` (``register`` or any case action);
    ``target`` is the person or case acted on (None for what creates one)."""

    kind: str
    action: str
    target: UUID | None
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    command_id: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


def record_one(ledger: Ledger, command: Command) -> CommandResult:
    """Run one command through the ledger, its clock set to the command's ``recorded_at``."""
    ledger.clock = lambda: command.recorded_at
    common: dict[str, Any] = {
        "actor": command.actor,
        "occurred_at": command.occurred_at,
        "command_id": command.command_id,
    }
    arguments = dict(command.arguments)
    if command.action == "create_unit":
        return ledger.create_unit(**common, **arguments)
    if command.action == "create_person":
        return ledger.create_person(**common, **arguments)
    if command.action == "register":
        return ledger.register_case(**common, **arguments)
    assert command.target is not None, f"{command.action}: which aggregate?"
    if command.kind == "person":
        return ledger.update_person(command.target, command.action, **common, **arguments)
    return ledger.act(command.target, command.action, **common, **arguments)


class BulkWriter:
    """Applies commands to aggregates in memory; stores their events many thousands at a time.

    ``release`` says no more commands will come for an aggregate in this run, so it can leave
    memory once its events are stored (a case still in memory is never read back).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        events_per_save: int = 5000,
        on_save: Callable[[int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.events_per_save = events_per_save
        self.on_save = on_save
        self.saved_events = 0
        self._events: list[DomainEventProtocol[UUID]] = []
        self._aggregates: dict[UUID, Aggregate] = {}
        self._released: set[UUID] = set()
        self._numberings: dict[tuple[str, int], CaseNumbering] = {}
        self._snapshot_due: list[tuple[UUID, int]] = []
        self._codes: dict[UUID, str] = {}  # unit id -> code, for case number prefixes
        self._members: dict[UUID, set[UUID]] = {}  # person -> units
        self._keys: dict[UUID, bytes] = {}  # petitioners' keys at hand
        self._created: set[int] = set()  # petitioners given a key in this run
        self._new_keys: dict[UUID, bytes] = {}
        self._seen_in: list[tuple[UUID, UUID]] = []
        self._no_keys_before = ledger.personal.is_empty()

    # ------------------------------------------------------------------ commands

    def record(self, command: Command) -> UUID:
        """Apply one command; returns the id of the aggregate it acted on or created."""
        p = self._provenance(command)
        arguments = dict(command.arguments)
        if command.action not in ("create_unit", "create_person"):
            self._check_named(arguments)
        if command.action == "create_unit":
            aggregate_id = self._create_unit(p, command.command_id, arguments)
        elif command.action == "create_person":
            aggregate_id = Ledger.person_id_for(command.command_id)
            self._keep(Person.create(p, person_id=aggregate_id, **arguments))
            self._members[aggregate_id] = set()
        elif command.action == "register":
            aggregate_id = self._register(command, p, arguments)
        elif command.kind == "person" and command.action in PERSON_ACTIONS:
            aggregate_id = self._act(Person, command, p, arguments)
            self._members[aggregate_id] = set(self._get(Person, aggregate_id).roles)
        elif command.kind == "case" and command.action in CASE_ACTIONS:
            aggregate_id = self._act(Case, command, p, arguments)
        else:
            raise InvalidInput(f"{command.kind} action: {command.action!r} is not known")
        if len(self._events) >= self.events_per_save:
            self.flush()
        return aggregate_id

    def release(self, aggregate_ids: Iterable[UUID]) -> None:
        self._released.update(aggregate_ids)

    def flush(self) -> None:
        """Store what is pending: petitioners' keys first (as a registration seals them before
        it saves), then every event in one transaction, then the numbering snapshots."""
        if self._new_keys or self._seen_in:
            self.ledger.personal.store_many(self._new_keys, self._seen_in)
            self._new_keys, self._seen_in = {}, []
        if self._events:  # the library's event store: mapper, then the (sealing) recorder
            self.ledger.events.put(self._events)
            self.saved_events += len(self._events)
            self._events = []
        if len(self._keys) > KEYS_IN_MEMORY:
            self._keys = {}
        for numbering_id, version in self._snapshot_due:
            self.ledger.take_snapshot(numbering_id, version=version)
        self._snapshot_due = []
        for aggregate_id in self._released:
            self._aggregates.pop(aggregate_id, None)
        self._released = set()
        if self.on_save is not None:
            self.on_save(self.saved_events)

    # ------------------------------------------------------------------ the ledger's rules

    def _provenance(self, command: Command) -> Provenance:
        self._check_actor(command)
        actor = command.actor
        return Provenance(
            actor=actor.person,
            actor_unit=actor.unit,
            on_behalf_of=actor.on_behalf_of,
            occurred_at=command.occurred_at,
            recorded_at=command.recorded_at,
            command_id=command.command_id,
        )

    def _check_actor(self, command: Command) -> None:
        """As ``Ledger._check_actor``: someone acting for a unit is a member of it (directory
        commands are the administrator's, unchecked, as in the ledger)."""
        actor = command.actor
        if command.kind in DIRECTORY_KINDS or actor.unit is None:
            return
        units = self._members.get(actor.person)
        if units is None:
            units = set(self._get(Person, actor.person).roles)
            self._members[actor.person] = units
        if actor.unit not in units:
            raise NoStanding(f"actor: {actor.person} is not a member of unit {actor.unit}")
        if actor.on_behalf_of is not None:
            case = command.target
            petitioners = self._get(Case, case).petitioner_ids if case is not None else []
            if actor.on_behalf_of not in petitioners:
                self._get(Person, actor.on_behalf_of)

    def _check_named(self, arguments: Mapping[str, Any]) -> None:
        """The units and people a command names exist (as the ledger checks)."""
        for key, value in arguments.items():
            if value is None:
                continue
            if key in _UNIT_ARGUMENTS and value not in self._codes:
                self._codes[value] = self._get(Unit, value).code
            elif key in _PERSON_ARGUMENTS and value not in self._members:
                self._members[value] = set(self._get(Person, value).roles)
            elif key == "target_case":
                self._get(Case, value)

    def _create_unit(self, p: Provenance, command_id: str, arguments: dict[str, Any]) -> UUID:
        unit_id = Ledger.unit_id_for(command_id)
        self._keep(Unit.create(p, unit_id=unit_id, **arguments))
        self._codes[unit_id] = arguments["code"]
        return unit_id

    def _register(self, command: Command, p: Provenance, arguments: dict[str, Any]) -> UUID:
        office = command.actor.unit
        if office is None:
            raise NoStanding("register: only a clerk acting for a petition office can register")
        case_id = Ledger.case_id_for(office, command.command_id)
        if office not in self._codes:
            self._codes[office] = self._get(Unit, office).code
        petitioners = arguments.pop("petitioners")
        if not isinstance(petitioners, list) or not all(
            isinstance(x, Petitioner) for x in petitioners
        ):
            raise InvalidInput("petitioners: expected a list of petitioners")
        sealed = [self._seal(x, case_id) for x in petitioners]
        year = p.occurred_at.astimezone(self.ledger.zone).year
        numbering = self._numbering(office, self._codes[office], year, p.recorded_at)
        number = numbering.issue(case_id, at=p.recorded_at)
        try:
            case = _call(
                Case.register,
                p,
                case_id=case_id,
                case_number=number,
                petitioners=sealed,
                **arguments,
            )
        except Exception:
            del self._numberings[(self._codes[office], year)]  # read back: the number unused
            raise
        self._collect(numbering)
        self._keep(case)
        return case_id

    def _seal(self, petitioner: Petitioner, case_id: UUID) -> Petitioner:
        """As ``PersonalData.seal``: the petitioner's key, made on first sight."""
        pid = petitioner.petitioner_id
        key = self._keys.get(pid) or self._new_keys.get(pid)
        if key is None and (pid.int in self._created or not self._no_keys_before):
            key = self.ledger.personal.key_of(pid)
        if key is None:
            key = self.ledger.personal.keygen()
            self._new_keys[pid] = key
            self._created.add(pid.int)
        self._keys[pid] = key
        if (pid, case_id) not in self._seen_in[-6:]:  # a case's petitioners are together
            self._seen_in.append((pid, case_id))
        return seal_with(key, petitioner)

    def _numbering(self, office: UUID, code: str, year: int, at: datetime) -> CaseNumbering:
        numbering = self._numberings.get((code, year))
        if numbering is None:
            found = self._find(CaseNumbering, CaseNumbering.id_for(code, year))
            numbering = found or CaseNumbering.start(office, code, year, at=at)
            self._numberings[(code, year)] = numbering
        return numbering

    def _act(
        self,
        cls: type[Case] | type[Person],
        command: Command,
        p: Provenance,
        arguments: dict[str, Any],
    ) -> UUID:
        assert command.target is not None, f"{command.action}: which aggregate?"
        aggregate = self._get(cls, command.target)
        if aggregate.has_processed(command.command_id) is None:  # a retry writes nothing
            _call(getattr(aggregate, command.action), p, **arguments)
            self._collect(aggregate)
        return command.target

    # ------------------------------------------------------------------ aggregates

    def _keep(self, aggregate: Aggregate) -> None:
        self._aggregates[aggregate.id] = aggregate
        self._released.discard(aggregate.id)
        self._collect(aggregate)

    def _collect(self, aggregate: Aggregate) -> None:
        interval = self.ledger.snapshotting_intervals.get(type(aggregate))
        for event in aggregate.collect_events():
            self._events.append(event)
            if interval and event.originator_version % interval == 0:
                self._snapshot_due.append((aggregate.id, event.originator_version))

    def _find(self, cls: type[Any], aggregate_id: UUID) -> Any:
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is None:  # not in memory, so nothing of it is pending: read it back
            try:
                aggregate = self.ledger.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self._aggregates[aggregate_id] = aggregate
            self._released.add(aggregate_id)  # read for a check: not kept for long
        return aggregate if isinstance(aggregate, cls) else None

    def _get(self, cls: type[Any], aggregate_id: UUID) -> Any:
        if not isinstance(aggregate_id, UUID):
            raise InvalidInput(f"{cls.__name__.lower()}: expected an id, got {aggregate_id!r}")
        found = self._find(cls, aggregate_id)
        if found is None:
            raise NotFound(f"no {cls.__name__.lower()} with id {aggregate_id}")
        return found
