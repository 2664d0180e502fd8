"""The directory: units in a hierarchy and people with roles in them, as events.

Organisations change — units are renamed, moved and merged; people join, leave and change
role — and an inspector asks who headed a unit *on the day*. So the directory is a log too:
``occurred_at`` is the day a change took effect, ``recorded_at`` when it was written.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, ProcessRuleViolation
from domain.provenance import EventProvenance, Provenance
from domain.validation import an_id as _id
from domain.validation import text as _text
from domain.values import Role, UnitKind, parse_enum

MAX_NAME = 200


class DirectoryEntry(Aggregate):
    """Shared base: every directory event carries provenance like a case event."""

    class Event(EventProvenance, Aggregate.Event):
        def apply(self, entry: Any) -> None:
            self.evolve(entry)
            entry.command_ids[self.command_id] = self.originator_version

        def evolve(self, entry: Any) -> None:
            """How this fact changes the entry."""

    command_ids: dict[str, int]

    def __init__(self) -> None:
        """State is set by the created event's ``apply``."""

    def has_processed(self, command_id: str) -> int | None:
        return self.command_ids.get(command_id)

    def _emit(self, event_class: type[Any], p: Provenance, **fields: Any) -> None:
        self.trigger_event(event_class, **p.event_fields(), **fields)


class Unit(DirectoryEntry):
    """A unit (单位/部门): a petition office, a government body, a company of a regiment…"""

    class Created(DirectoryEntry.Event, Aggregate.Created):
        name: str
        code: str
        kind: str
        parent: UUID | None

        def apply(self, unit: Unit) -> None:
            unit.name = self.name
            unit.code = self.code
            unit.kind = self.kind
            unit.parent = self.parent
            unit.merged_into = None
            unit.command_ids = {self.command_id: self.originator_version}

    class Renamed(DirectoryEntry.Event):
        name: str

        def evolve(self, unit: Unit) -> None:
            unit.name = self.name

    class Moved(DirectoryEntry.Event):
        """The unit now sits under another parent (a reorganisation)."""

        parent: UUID | None

        def evolve(self, unit: Unit) -> None:
            unit.parent = self.parent

    class MergedInto(DirectoryEntry.Event):
        """The unit was merged into another; its cases' history keeps naming it."""

        target: UUID

        def evolve(self, unit: Unit) -> None:
            unit.merged_into = self.target

    name: str
    code: str
    kind: str
    parent: UUID | None
    merged_into: UUID | None

    def __init__(self) -> None:
        """State is set by ``Created.apply``."""

    @classmethod
    def create(
        cls,
        p: Provenance,
        *,
        unit_id: UUID,
        name: str,
        code: str,
        kind: str,
        parent: UUID | None = None,
    ) -> Unit:
        _id(unit_id, "unit_id")
        if parent is not None:
            _id(parent, "parent")
            if parent == unit_id:
                raise InvalidInput("parent: a unit cannot be its own parent")
        code = _text(code, "code", limit=16)
        if not code.isascii() or not code.replace("-", "").isalnum():
            raise InvalidInput(f"code: letters, digits and '-' only, got {code!r}")
        return cls._create(
            cls.Created,
            id=unit_id,
            **p.event_fields(),
            name=_text(name, "name", limit=MAX_NAME),
            code=code,
            kind=parse_enum(UnitKind, kind, "kind").value,
            parent=parent,
        )

    def rename(self, p: Provenance, *, name: str) -> None:
        self._require_active("rename")
        self._emit(self.Renamed, p, name=_text(name, "name", limit=MAX_NAME))

    def move(self, p: Provenance, *, parent: UUID | None) -> None:
        self._require_active("move")
        if parent is not None:
            _id(parent, "parent")
            if parent == self.id:
                raise InvalidInput("parent: a unit cannot be its own parent")
        self._emit(self.Moved, p, parent=parent)

    def merge_into(self, p: Provenance, *, target: UUID) -> None:
        self._require_active("merge")
        if _id(target, "target") == self.id:
            raise InvalidInput("target: a unit cannot be merged into itself")
        self._emit(self.MergedInto, p, target=target)

    def _require_active(self, what: str) -> None:
        if self.merged_into is not None:
            raise ProcessRuleViolation(f"{what}: the unit was merged into another unit")


class Person(DirectoryEntry):
    """A person who acts in the process: a clerk, a handler, a leader, an inspector."""

    class Created(DirectoryEntry.Event, Aggregate.Created):
        name: str

        def apply(self, person: Person) -> None:
            person.name = self.name
            person.roles = {}
            person.command_ids = {self.command_id: self.originator_version}

    class Joined(DirectoryEntry.Event):
        unit: UUID
        role: str

        def evolve(self, person: Person) -> None:
            person.roles[self.unit] = self.role

    class RoleChanged(DirectoryEntry.Event):
        unit: UUID
        role: str

        def evolve(self, person: Person) -> None:
            person.roles[self.unit] = self.role

    class Left(DirectoryEntry.Event):
        unit: UUID

        def evolve(self, person: Person) -> None:
            person.roles.pop(self.unit, None)

    name: str
    roles: dict[UUID, str]

    def __init__(self) -> None:
        """State is set by ``Created.apply``."""

    @classmethod
    def create(cls, p: Provenance, *, person_id: UUID, name: str) -> Person:
        _id(person_id, "person_id")
        return cls._create(
            cls.Created, id=person_id, **p.event_fields(), name=_text(name, "name", limit=MAX_NAME)
        )

    def join(self, p: Provenance, *, unit: UUID, role: str) -> None:
        _id(unit, "unit")
        if unit in self.roles:
            raise ProcessRuleViolation("join: already a member of that unit; change the role")
        self._emit(self.Joined, p, unit=unit, role=parse_enum(Role, role, "role").value)

    def change_role(self, p: Provenance, *, unit: UUID, role: str) -> None:
        if _id(unit, "unit") not in self.roles:
            raise ProcessRuleViolation("change role: not a member of that unit")
        self._emit(self.RoleChanged, p, unit=unit, role=parse_enum(Role, role, "role").value)

    def leave(self, p: Provenance, *, unit: UUID) -> None:
        if _id(unit, "unit") not in self.roles:
            raise ProcessRuleViolation("leave: not a member of that unit")
        self._emit(self.Left, p, unit=unit)

    def is_member_of(self, unit: UUID) -> bool:
        return unit in self.roles
