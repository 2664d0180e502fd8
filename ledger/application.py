"""The ledger application: every use case of the case ledger and its directory.

Methods take and return ids and plain values. The application stamps ``recorded_at`` from its
clock (injected, so tests and replays control it), checks what spans aggregates (the actor is
a member of the unit they act for; the units and people named exist), makes retries of the
same command id idempotent, and turns storage conflicts into the domain's own error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoding

from domain.case import Case
from domain.directory import DirectoryEntry, Person, Unit
from domain.errors import ConcurrentUpdate, InvalidInput, NoStanding, NotFound
from domain.numbering import CaseNumbering
from domain.petitioners import Petitioner
from domain.provenance import STORED_PROVENANCE, Provenance
from domain.workflow import ALLOWED_STAGES
from ledger.persistence import read_only_engine, sqlite_views_engine
from ledger.personal import PersonalData
from ledger.seals import reading_ahead_now
from ledger.settings import Settings

CASE_ACTIONS = frozenset(ALLOWED_STAGES)
UNIT_ACTIONS = frozenset({"rename", "move", "merge_into"})
PERSON_ACTIONS = frozenset({"join", "change_role", "leave"})
REGISTRATION_ATTEMPTS = 20
AGGREGATE_CACHE_SIZE = 20_000

# Arguments of case actions that name other records, which must exist.
_UNIT_ARGUMENTS = frozenset({"to_unit", "concerned_unit"})
_PERSON_ARGUMENTS = frozenset({"to_handler", "handler", "leader", "approver"})
_DIRECTORY_ARGUMENTS = _UNIT_ARGUMENTS | _PERSON_ARGUMENTS
_CASE_NUMBER = re.compile(r"^(?P<prefix>[A-Za-z0-9-]+)-(?P<year>\d{4})-(?P<serial>\d+)$")

A = TypeVar("A", bound=Aggregate)


class DateAsISO(Transcoding):
    """Deadlines are dates (a day in the rulebook's time zone), not instants."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a person, the unit they act for, and the leader they sign for, if any."""

    person: UUID
    unit: UUID | None
    on_behalf_of: UUID | None = None


@dataclass(frozen=True)
class CommandResult:
    """What a command did: the aggregate's version after it, and the log position it wrote.

    ``replayed`` is true when the command id had been processed already: nothing was written
    and the result is the first one's.
    """

    aggregate_id: UUID
    version: int
    position: int | None
    replayed: bool = False
    case_number: str | None = None
    value: Any = None


@dataclass(frozen=True)
class RecordedEvent:
    """One stored fact, as a reader sees it."""

    version: int
    type: str
    recorded_at: datetime
    occurred_at: datetime | None
    actor: UUID | None
    actor_unit: UUID | None
    on_behalf_of: UUID | None
    command_id: str | None
    data: dict[str, Any]


_PROVENANCE_KEYS = ("originator_id", "originator_version", *STORED_PROVENANCE)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger(Application[UUID]):
    """The case ledger. One events table (``ledger_events``) holds every aggregate's events."""

    name = "Ledger"
    snapshotting_intervals = {CaseNumbering: 100}  # noqa: RUF012 (the library's API)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        keygen: Callable[[], bytes] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self._views_engine: Any = None
        self._projection: tuple[Any, Any] | None = None  # (engine, lock) of a views file
        self.zone = ZoneInfo(self.settings.timezone)
        path = self.settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Where the views are is decided by the files as they are before this ledger writes
        # (ADR 18): a new store gets a views file, one that keeps its views inside keeps them.
        self._views_path = self.settings.sqlite_views_path()
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "ledger.persistence:Factory",
                "SQLALCHEMY_URL": self.settings.database_url,
                # Aggregates stay in memory between commands; each get still reads the events
                # written since (by any process), so the cache is never stale — it only spares
                # decoding the old ones again. Commands work on a deep copy.
                "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
                "AGGREGATE_CACHE_FASTFORWARD": "y",
            }
        )
        self._case_ids: dict[str, UUID] = {}  # case number -> id: issued once, never changes
        self.personal = PersonalData(self.engine, keygen) if keygen else PersonalData(self.engine)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def engine(self) -> Any:
        """The SQLAlchemy engine the store uses; read models use the same one."""
        return self.recorder.datastore.engine  # type: ignore[attr-defined]

    @property
    def write_lock(self) -> Any:
        """The lock this process's writers of the store take (SQLite: one writer at a time),
        for other writers of the same database in this process (the projector); None on
        PostgreSQL."""
        return self.recorder.datastore.write_lock  # type: ignore[attr-defined]

    @property
    def projection_engine(self) -> Any:
        """Where the projector writes the views and the store-side reads (access checks,
        rebuilds, rule diffs) find them: the store's own engine, or with
        ``LEDGER_SQLITE_VIEWS_FILE`` the SQLite file beside the store's (ADR 18)."""
        return self._projection_parts()[0]

    @property
    def projection_lock(self) -> Any:
        """The lock this process's writers of the views take (see ``write_lock``)."""
        return self._projection_parts()[1]

    def _projection_parts(self) -> tuple[Any, Any]:
        path = self._views_path
        if path is None:
            return self.engine, self.write_lock
        if self._projection is None:
            self._projection = sqlite_views_engine(path)
        return self._projection

    @property
    def views_engine(self) -> Any:
        """Where the views are read: the read-only replica of LEDGER_VIEWS_DATABASE_URL, or
        else the store's own engine."""
        url = self.settings.views_database_url
        if url is None:
            return self.projection_engine
        if self._views_engine is None:
            self._views_engine = read_only_engine(url)
        return self._views_engine

    def close(self) -> None:
        if self._views_engine is not None:
            self._views_engine.dispose()
        if self._projection is not None:
            self._projection[1].close()
            self._projection[0].dispose()
        super().close()

    # ------------------------------------------------------------------ ids

    # A created aggregate's id is derived from its command id, so a retried creation finds
    # the first one (ADR 1); tools that plan commands ahead (the 台账 import) derive it too.

    @staticmethod
    def unit_id_for(command_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"petition-ledger:unit:{command_id}")

    @staticmethod
    def person_id_for(command_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"petition-ledger:person:{command_id}")

    @staticmethod
    def case_id_for(office: UUID, command_id: str) -> UUID:
        """The case a registration by ``office`` with ``command_id`` creates."""
        return uuid5(NAMESPACE_URL, f"petition-ledger:case:{office}:{command_id}")

    # ------------------------------------------------------------------ directory

    def create_unit(
        self,
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        name: str,
        code: str,
        kind: str,
        parent: UUID | None = None,
    ) -> CommandResult:
        unit_id = self.unit_id_for(command_id)
        if parent is not None:
            self._get(Unit, parent, "unit")
        return self._create(
            Unit,
            unit_id,
            lambda p: Unit.create(
                p, unit_id=unit_id, name=name, code=code, kind=kind, parent=parent
            ),
            actor=actor,
            occurred_at=occurred_at,
            command_id=command_id,
        )

    def create_person(
        self, *, actor: Actor, occurred_at: datetime, command_id: str, name: str
    ) -> CommandResult:
        person_id = self.person_id_for(command_id)
        return self._create(
            Person,
            person_id,
            lambda p: Person.create(p, person_id=person_id, name=name),
            actor=actor,
            occurred_at=occurred_at,
            command_id=command_id,
        )

    def update_unit(
        self,
        unit_id: UUID,
        action: str,
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        **arguments: Any,
    ) -> CommandResult:
        """rename / move / merge_into."""
        if action not in UNIT_ACTIONS:
            raise InvalidInput(f"unit action: {action!r} is not one of {sorted(UNIT_ACTIONS)}")
        for key in ("parent", "target"):
            if arguments.get(key) is not None:
                self._get(Unit, arguments[key], "unit")
        return self._update(
            Unit, unit_id, action, arguments, actor, occurred_at, command_id, check_actor=False
        )

    def update_person(
        self,
        person_id: UUID,
        action: str,
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        **arguments: Any,
    ) -> CommandResult:
        """join / change_role / leave a unit."""
        if action not in PERSON_ACTIONS:
            raise InvalidInput(f"person action: {action!r} is not one of {sorted(PERSON_ACTIONS)}")
        if arguments.get("unit") is not None:
            self._get(Unit, arguments["unit"], "unit")
        return self._update(
            Person, person_id, action, arguments, actor, occurred_at, command_id, check_actor=False
        )

    def get_unit(self, unit_id: UUID) -> Unit:
        return self._get(Unit, unit_id, "unit", copy=True)

    def get_person(self, person_id: UUID) -> Person:
        return self._get(Person, person_id, "person", copy=True)

    # ------------------------------------------------------------------ cases

    def register_case(
        self,
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        petitioners: list[Petitioner],
        correlation_id: str | None = None,
        causation_id: str | None = None,
        **fields: Any,
    ) -> CommandResult:
        """登记 a matter; the case gets the next number of the office's sequence for the year."""
        if actor.unit is None:
            raise NoStanding("register: only a clerk acting for a petition office can register")
        case_id = self.case_id_for(actor.unit, command_id)
        existing = self._find(Case, case_id)
        if existing is not None:
            return CommandResult(
                case_id, existing.version, None, replayed=True, case_number=existing.case_number
            )
        self._check_actor(actor)
        office = self._get(Unit, actor.unit, "unit")
        if fields.get("concerned_unit") is not None:
            self._get(Unit, fields["concerned_unit"], "unit")
        p = self._provenance(actor, occurred_at, command_id, correlation_id, causation_id)
        for petitioner in petitioners:  # check the plaintext before it is sealed
            if not isinstance(petitioner, Petitioner):
                raise InvalidInput("petitioners: expected a list of petitioners")
        petitioners = self.personal.seal(petitioners, case_id)
        year = p.occurred_at.astimezone(self.zone).year
        numbering_id = CaseNumbering.id_for(office.code, year)
        for _ in range(REGISTRATION_ATTEMPTS):
            numbering = self._find(CaseNumbering, numbering_id, copy=True) or CaseNumbering.start(
                actor.unit, office.code, year, at=p.recorded_at
            )
            number = numbering.issue(case_id, at=p.recorded_at)
            case = _call(
                Case.register,
                p,
                case_id=case_id,
                case_number=number,
                petitioners=petitioners,
                **fields,
            )
            try:
                recordings = self.save(numbering, case)
            except IntegrityError:
                existing = self._find(Case, case_id)
                if existing is not None:  # the same registration, retried concurrently
                    return CommandResult(
                        case_id, existing.version, None, True, existing.case_number
                    )
                continue  # another registration took the number: take the next one
            return CommandResult(case_id, case.version, _position(recordings), False, number)
        raise ConcurrentUpdate(
            f"register: could not take a case number after {REGISTRATION_ATTEMPTS} attempts"
        )

    def act(
        self,
        case_id: UUID,
        action: str,
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        **arguments: Any,
    ) -> CommandResult:
        """Any action on a case after registration (see ``domain.workflow.ALLOWED_STAGES``)."""
        if action not in CASE_ACTIONS:
            raise InvalidInput(f"case action: {action!r} is not one of {sorted(CASE_ACTIONS)}")
        named = [v for k, v in arguments.items() if v is not None and k in _DIRECTORY_ARGUMENTS]
        acting = actor.person if actor.unit is not None else None
        with self._reading_ahead((case_id, acting), unless_cached=named):
            for key, value in arguments.items():
                if value is None:
                    continue
                if key in _UNIT_ARGUMENTS:
                    self._require_exists(Unit, value, "unit")
                elif key in _PERSON_ARGUMENTS:
                    self._require_exists(Person, value, "person")
                elif key == "target_case":
                    self.get_case(value)
            return self._update(
                Case,
                case_id,
                action,
                arguments,
                actor,
                occurred_at,
                command_id,
                expected_version=expected_version,
                correlation_id=correlation_id,
                causation_id=causation_id,
            )

    def record_disclosure(
        self, case_id: UUID, *, actor: Actor, purpose: str, command_id: str
    ) -> CommandResult:
        """Record that ``actor`` was shown the protected identities on a case, now."""
        return self._update(
            Case,
            case_id,
            "record_disclosure",
            {"purpose": purpose},
            actor,
            self.clock(),
            command_id,
        )

    def forget_petitioner(
        self, petitioner_id: UUID, *, actor: Actor, reason: str, command_id: str
    ) -> list[UUID]:
        """Erase a petitioner's personal data everywhere (their key is destroyed) and record
        the erasure on every case it appeared in."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("reason: why the data is erased must be given")
        try:
            cases = self.personal.forget(petitioner_id, reason)
        except LookupError as e:
            raise NotFound(str(e)) from None
        for case_id in cases:
            self._update(
                Case,
                case_id,
                "record_erasure",
                {"petitioner_id": petitioner_id, "reason": reason},
                actor,
                self.clock(),
                f"{command_id}:{case_id.hex}",
                check_actor=False,
            )
        return cases

    def get_case(self, case_id: UUID, *, version: int | None = None) -> Case:
        try:
            case: Aggregate = self.repository.get(case_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no case with id {case_id}") from None
        if not isinstance(case, Case):
            raise NotFound(f"no case with id {case_id}")
        return case

    def case_as_of(self, case_id: UUID, instant: datetime) -> Case:
        """The case as the record stood at ``instant``: only events recorded by then."""
        version = None
        for event in self.events.get(case_id):
            if event.timestamp > instant:  # type: ignore[attr-defined]
                break
            version = event.originator_version
        if version is None:
            raise NotFound(f"case {case_id} was not yet recorded at {instant.isoformat()}")
        return self.get_case(case_id, version=version)

    def find_case_id(self, reference: str) -> UUID:
        """A case by its readable number (e.g. XF-2025-00123) or its internal id."""
        match = _CASE_NUMBER.match(reference.strip())
        if match is None:
            try:
                return UUID(reference)
            except ValueError:
                raise InvalidInput(
                    f"{reference!r} is neither a case number like XF-2025-00123 nor an id"
                ) from None
        known = self._case_ids.get(reference.strip())
        if known is not None:
            return known
        serial = int(match["serial"])
        version = CaseNumbering.version_of(serial)
        numbering_id = CaseNumbering.id_for(match["prefix"], int(match["year"]))
        for event in self.events.get(numbering_id, gt=version - 1, lte=version):
            if isinstance(event, CaseNumbering.Issued):
                if len(self._case_ids) >= AGGREGATE_CACHE_SIZE:
                    self._case_ids.clear()
                self._case_ids[reference.strip()] = event.case_id
                return event.case_id
        raise NotFound(f"no case numbered {reference}")

    def history(self, case_id: UUID) -> list[RecordedEvent]:
        """Every fact recorded on the case, in order, exactly as stored."""
        events = [self._as_recorded(e) for e in self.events.get(case_id)]
        if not events or events[0].type != "Registered":
            raise NotFound(f"no case with id {case_id}")
        return events

    def iter_case_ids(self) -> Iterator[UUID]:
        """Every case id, in registration order (reads the log; for tools, not for views)."""
        position = 0
        while True:
            page = self.recorder.select_notifications(
                position + 1, 1000, topics=[_topic(Case.Registered)]
            )
            if not page:
                return
            for notification in page:
                yield notification.originator_id  # type: ignore[misc]
            position = page[-1].id

    # ------------------------------------------------------------------ internals

    def _provenance(
        self,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Provenance:
        if not isinstance(actor, Actor):
            raise InvalidInput("actor: expected who is acting (person and unit)")
        return Provenance(
            actor=actor.person,
            actor_unit=actor.unit,
            on_behalf_of=actor.on_behalf_of,
            occurred_at=occurred_at,
            recorded_at=self.clock(),
            command_id=command_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    def _check_actor(self, actor: Actor, petitioners: Collection[UUID] = ()) -> None:
        """A person acting for a unit must be a member of it (a petitioner acts for no unit);
        whom they act for is a person in the directory, or a petitioner of the case (a clerk
        recording a petitioner's rating or appeal)."""
        if actor.unit is None:
            return
        person = self._find(Person, actor.person)
        if person is None:
            raise NoStanding(f"actor: no person with id {actor.person} in the directory")
        if not person.is_member_of(actor.unit):
            raise NoStanding(f"actor: {person.name} is not a member of unit {actor.unit}")
        if actor.on_behalf_of is not None and actor.on_behalf_of not in petitioners:
            self._get(Person, actor.on_behalf_of, "person")

    def _create(
        self,
        cls: type[DirectoryEntry],
        entry_id: UUID,
        build: Callable[[Provenance], DirectoryEntry],
        *,
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
    ) -> CommandResult:
        existing = self._find(cls, entry_id)
        if existing is not None:
            return CommandResult(entry_id, existing.version, None, replayed=True)
        entry = build(self._provenance(actor, occurred_at, command_id))
        try:
            recordings = self.save(entry)
        except IntegrityError:
            existing = self._find(cls, entry_id)
            if existing is None:
                raise
            return CommandResult(entry_id, existing.version, None, replayed=True)
        return CommandResult(entry_id, entry.version, _position(recordings))

    def _update(
        self,
        cls: type[Case] | type[Unit] | type[Person],
        aggregate_id: UUID,
        action: str,
        arguments: dict[str, Any],
        actor: Actor,
        occurred_at: datetime,
        command_id: str,
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        check_actor: bool = True,
    ) -> CommandResult:
        noun = cls.__name__.lower()
        acting = actor.person if check_actor and actor.unit is not None else None
        with self._reading_ahead((aggregate_id, acting)):
            aggregate: Case | Unit | Person = self._get(cls, aggregate_id, noun, copy=True)
            done = aggregate.has_processed(command_id)
            if done is not None:
                return CommandResult(aggregate_id, done, None, replayed=True)
            if expected_version is not None and expected_version != aggregate.version:
                raise ConcurrentUpdate(
                    f"the {noun} is at version {aggregate.version}, not {expected_version}: "
                    "someone changed it since you read it",
                    aggregate.version,
                )
            if check_actor:
                self._check_actor(actor, getattr(aggregate, "petitioner_ids", ()))
            p = self._provenance(actor, occurred_at, command_id, correlation_id, causation_id)
            value = _call(getattr(aggregate, action), p, **arguments)
            try:
                recordings = self.save(aggregate)
            except IntegrityError:
                fresh = self._get(cls, aggregate_id, noun)
                done = fresh.has_processed(command_id)
                if done is not None:
                    return CommandResult(aggregate_id, done, None, replayed=True)
                raise ConcurrentUpdate(
                    f"the {noun} was changed by someone else while this command ran "
                    f"(it is now at version {fresh.version}); reload it and decide again",
                    fresh.version,
                ) from None
            position = _position(recordings)
            return CommandResult(aggregate_id, aggregate.version, position, value=value)

    def _reading_ahead(
        self, read: Collection[UUID | None], *, unless_cached: Collection[Any] = ()
    ) -> contextlib.AbstractContextManager[Any]:
        """What a command reads, in one statement instead of one or two each: the aggregates
        it ``read``s (the case, the acting person): of one cached here the events after its copy
        (the repository brings it up to date), of another all of them; the directory entries it
        names, ``unless_cached`` (one seen once exists still). None of these is ever
        snapshotted. Inside a command's read-ahead already (an action that updates through
        another), nothing more."""
        if reading_ahead_now():
            return contextlib.nullcontext()
        ids = [*(i for i in read if i is not None), *unless_cached]
        if not all(isinstance(i, UUID) for i in ids):
            return contextlib.nullcontext()  # refused where it is read
        after: dict[UUID, int | None] = {}
        for aggregate_id in read:
            if aggregate_id is not None:
                cached = self._cached(aggregate_id)
                after[aggregate_id] = cached.version if cached is not None else None
        for entry_id in unless_cached:
            if self._cached(entry_id) is None:
                after.setdefault(entry_id, None)
        if len(after) < 2 and None not in after.values():
            return contextlib.nullcontext()
        return self.recorder.reading_ahead(after)  # type: ignore[attr-defined, no-any-return]

    def _find(self, cls: type[A], aggregate_id: UUID, *, copy: bool = False) -> A | None:
        """The aggregate, current. Without ``copy`` it is the cached object itself, to be read
        and never changed; a command that changes an aggregate asks for a copy."""
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _get(self, cls: type[A], aggregate_id: UUID, noun: str, *, copy: bool = False) -> A:
        if not isinstance(aggregate_id, UUID):
            raise InvalidInput(f"{noun}: expected an id, got {aggregate_id!r}")
        aggregate = self._find(cls, aggregate_id, copy=copy)
        if aggregate is None:
            raise NotFound(f"no {noun} with id {aggregate_id}")
        return aggregate

    def _require_exists(self, cls: type[A], aggregate_id: UUID, noun: str) -> None:
        """That a directory entry exists: entries are never deleted, so one seen once (in the
        cache) exists still, and only an unseen id costs a read."""
        if isinstance(aggregate_id, UUID) and isinstance(self._cached(aggregate_id), cls):
            return
        self._get(cls, aggregate_id, noun)

    def _cached(self, aggregate_id: UUID) -> Aggregate | None:
        """This process's copy of an aggregate, as last read (None: not cached here)."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)  # type: ignore[return-value]
        except KeyError:
            return None

    @staticmethod
    def _as_recorded(event: Any) -> RecordedEvent:
        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        return RecordedEvent(
            version=event.originator_version,
            type=type(event).__name__,
            recorded_at=event.timestamp,
            occurred_at=fields.get("occurred_at"),
            actor=fields.get("actor"),
            actor_unit=fields.get("actor_unit"),
            on_behalf_of=fields.get("on_behalf_of"),
            command_id=fields.get("command_id"),
            data={k: v for k, v in fields.items() if k not in _PROVENANCE_KEYS},
        )


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a domain method, turning a wrong set of arguments into a clear InvalidInput."""
    try:
        _signature(getattr(method, "__func__", method)).bind(None, *args, **kwargs)
    except TypeError as e:
        raise InvalidInput(f"{method.__name__}: {e}") from None
    return method(*args, **kwargs)


@functools.cache
def _signature(function: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(function)


def _position(recordings: list[Recording[UUID]]) -> int | None:
    return recordings[-1].notification.id if recordings else None


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"
