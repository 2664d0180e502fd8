"""The store keeps every fact once: retries write nothing more, races have one winner, old
events still load, and any past state of a case can be read back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain.errors import (
    ConcurrentUpdate,
    InvalidInput,
    NoStanding,
    NotCorrectable,
    NotFound,
    TimeOutOfOrder,
)
from domain.workflow import Stage
from ledger.application import CommandResult, Ledger
from tests.conftest import Clock
from tests.integration.conftest import stored_event_count
from tests.world import World

D = datetime(2025, 3, 3, 9, tzinfo=UTC)


def day(n: float) -> datetime:
    return D + timedelta(days=n)


class RendezvousClock:
    """Both racing commands read the ledger's time after loading the case and before saving:
    making them meet there guarantees they decide on the same version."""

    def __init__(self, now: datetime, parties: int) -> None:
        self.now = now
        self.barrier = threading.Barrier(parties, timeout=10)

    def __call__(self) -> datetime:
        self.barrier.wait()
        return self.now


def race(*commands: Callable[[], CommandResult]) -> list[CommandResult | Exception]:
    outcomes: list[CommandResult | Exception] = [RuntimeError("did not run")] * len(commands)

    def run(i: int) -> None:
        try:
            outcomes[i] = commands[i]()
        except Exception as e:  # the outcome under test
            outcomes[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def racing_ledgers(database_url: str, now: datetime) -> tuple[Ledger, Ledger]:
    from ledger.settings import Settings

    clock = RendezvousClock(now, parties=2)
    return (
        Ledger(Settings(database_url=database_url), clock=clock),
        Ledger(Settings(database_url=database_url), clock=clock),
    )


@pytest.fixture
def routed(world: World, clock: Clock) -> UUID:
    clock.now = day(30)
    cid = world.register(D).aggregate_id
    world.act(cid, "route", world.at_office, day(1), to_unit=world.housing)
    return cid


def test_the_same_command_sent_twice_is_recorded_once(world: World, routed: UUID) -> None:
    w = world
    first = w.ledger.act(routed, "accept", actor=w.at_housing, occurred_at=day(2), command_id="A1")
    before = stored_event_count(w.ledger)
    again = w.ledger.act(routed, "accept", actor=w.at_housing, occurred_at=day(2), command_id="A1")
    assert stored_event_count(w.ledger) == before
    assert again.replayed and not first.replayed
    assert again.version == first.version == 3
    assert [e.type for e in w.ledger.history(routed)].count("Accepted") == 1


def test_a_registration_retried_gets_the_same_case_and_number(world: World, clock: Clock) -> None:
    w = world
    clock.now = day(1)
    kwargs: dict[str, Any] = dict(
        actor=w.at_office,
        occurred_at=day(0.5),
        command_id="REG-1",
        channel="来信",
        received_at=D,
        matter_kind="申诉求决",
        category="住房",
        summary="漏水",
        petitioner_kind="实名",
        petitioners=[w.petitioner],
        headcount=1,
    )
    first = w.ledger.register_case(**kwargs)
    before = stored_event_count(w.ledger)
    again = w.ledger.register_case(**kwargs)
    assert stored_event_count(w.ledger) == before
    assert (again.aggregate_id, again.case_number) == (first.aggregate_id, first.case_number)
    assert again.replayed


def test_two_writers_racing_on_one_case_one_wins_and_the_other_is_told(
    world: World, routed: UUID, database_url: str
) -> None:
    a, b = racing_ledgers(database_url, day(30))
    w = world
    try:
        outcomes = race(
            lambda: a.act(routed, "accept", actor=w.at_housing, occurred_at=day(2), command_id="X"),
            lambda: b.act(
                routed,
                "refuse",
                actor=w.at_housing,
                occurred_at=day(2),
                command_id="Y",
                reason="不属于信访事项",
            ),
        )
    finally:
        a.close()
        b.close()
    winners = [o for o in outcomes if isinstance(o, CommandResult)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConcurrentUpdate)
    assert losers[0].current_version == 3
    assert "reload it and decide again" in str(losers[0])
    history = w.ledger.history(routed)
    assert len(history) == 3  # Registered, Routed, and exactly one of Accepted/Refused
    assert history[-1].command_id == ("X" if winners[0] is outcomes[0] else "Y")


def test_the_same_command_racing_itself_is_recorded_once(
    world: World, routed: UUID, database_url: str
) -> None:
    a, b = racing_ledgers(database_url, day(30))
    w = world
    try:
        outcomes = race(
            lambda: a.act(routed, "accept", actor=w.at_housing, occurred_at=day(2), command_id="Z"),
            lambda: b.act(routed, "accept", actor=w.at_housing, occurred_at=day(2), command_id="Z"),
        )
    finally:
        a.close()
        b.close()
    assert all(isinstance(o, CommandResult) for o in outcomes), outcomes
    assert sorted(o.replayed for o in outcomes if isinstance(o, CommandResult)) == [False, True]
    assert [e.type for e in w.ledger.history(routed)].count("Accepted") == 1


def test_two_clerks_registering_at_once_get_consecutive_numbers(
    world: World, database_url: str
) -> None:
    a, b = racing_ledgers(database_url, day(1))
    w = world

    def register(ledger: Ledger, command_id: str) -> CommandResult:
        return ledger.register_case(
            actor=w.at_office,
            occurred_at=day(0.5),
            command_id=command_id,
            channel="来访",
            received_at=D,
            matter_kind="建议意见",
            category="城市管理",
            summary="建议增设路灯",
            petitioner_kind="匿名",
            petitioners=[type(w.petitioner)(w.petitioner.petitioner_id)],
            headcount=1,
        )

    try:
        outcomes = race(lambda: register(a, "R1"), lambda: register(b, "R2"))
    finally:
        a.close()
        b.close()
    numbers = sorted(o.case_number for o in outcomes if isinstance(o, CommandResult))
    assert numbers == ["XF-2025-00001", "XF-2025-00002"], outcomes
    for number in numbers:
        assert w.ledger.get_case(w.ledger.find_case_id(number)).case_number == number


def test_a_stale_expected_version_is_refused_with_the_current_version(
    world: World, routed: UUID
) -> None:
    with pytest.raises(ConcurrentUpdate) as caught:
        world.act(routed, "accept", world.at_housing, day(2), expected_version=1)
    assert caught.value.current_version == 2
    world.act(routed, "accept", world.at_housing, day(2), expected_version=2)


def test_a_case_reads_back_as_it_stood_at_a_version_and_at_an_instant(
    world: World, clock: Clock
) -> None:
    w, led = world, world.ledger
    clock.now = day(1)
    cid = w.register(D).aggregate_id
    clock.now = day(3)
    w.act(cid, "route", w.at_office, day(2), to_unit=w.housing)
    clock.now = day(10)
    w.act(cid, "accept", w.at_housing, day(9))

    assert led.get_case(cid, version=1).stage is Stage.REGISTERED
    assert led.get_case(cid, version=2).holder_unit == w.housing
    # What the record said on day 5: routed, not yet accepted (although it happened on day 9,
    # it was only written on day 10).
    as_of = led.case_as_of(cid, day(5))
    assert as_of.stage is Stage.ROUTED and as_of.version == 2
    assert led.case_as_of(cid, day(10)).stage is Stage.ACCEPTED
    with pytest.raises(NotFound):
        led.case_as_of(cid, day(0.5))


def test_a_correction_is_a_new_fact_and_the_original_stays_visible(
    world: World, routed: UUID, clock: Clock
) -> None:
    w, led = world, world.ledger
    w.act(
        routed,
        "correct",
        w.at_office,
        day(5),
        corrects_version=1,
        field="received_at",
        new_value=D - timedelta(days=2),
        reason="信封邮戳为3月1日",
    )
    case = led.get_case(routed)
    assert case.received_at == D - timedelta(days=2)
    history = led.history(routed)
    assert history[0].data["received_at"] == D  # the original, unchanged
    correction = history[-1]
    assert correction.type == "Corrected"
    assert correction.data == {
        "corrects_version": 1,
        "corrects_event": "Registered",
        "field": "received_at",
        "new_value": D - timedelta(days=2),
        "reason": "信封邮戳为3月1日",
    }


@pytest.mark.parametrize(
    ("version", "field", "value", "error", "says"),
    [
        (
            2,
            "to_unit",
            None,
            NotCorrectable,
            "record a new action instead",
        ),  # custody is not edited
        (9, "occurred_at", None, NotCorrectable, "no event 9"),
        (1, "channel", "飞鸽传书", InvalidInput, "channel"),
        (1, "received_at", D + timedelta(days=1), TimeOutOfOrder, "after the registration"),
        (2, "occurred_at", D - timedelta(days=1), TimeOutOfOrder, "before the matter was received"),
    ],
)
def test_corrections_that_cannot_be_are_refused(
    world: World,
    routed: UUID,
    version: int,
    field: str,
    value: object,
    error: type[Exception],
    says: str,
) -> None:
    before = stored_event_count(world.ledger)
    with pytest.raises(error) as caught:
        world.act(
            routed,
            "correct",
            world.at_office,
            day(5),
            corrects_version=version,
            field=field,
            new_value=value,
            reason="更正",
        )
    assert says in str(caught.value)
    assert stored_event_count(world.ledger) == before


def test_a_reply_stored_before_delivery_method_existed_still_loads(
    world: World, routed: UUID
) -> None:
    """Replied v1 had no delivery_method; the upcaster says every v1 reply went on paper."""
    w, led = world, world.ledger
    w.act(routed, "accept", w.at_housing, day(2))
    v1_state = {
        "timestamp": day(20),
        "actor": w.housing_handler,
        "actor_unit": w.housing,
        "on_behalf_of": None,
        "occurred_at": day(20),
        "command_id": "legacy-7",
        "correlation_id": None,
        "causation_id": None,
        "outcome": "支持",
        "text": "已维修",
        "delivered_at": day(21),
    }
    led.recorder.insert_events(
        [
            StoredEvent(
                originator_id=routed,
                originator_version=4,
                topic="domain.case:Case.Replied",
                state=led.mapper.transcoder.encode(v1_state),
            )
        ]
    )
    case = led.get_case(routed)
    assert case.stage is Stage.REPLIED and case.version == 4
    reply = led.history(routed)[-1]
    assert reply.type == "Replied"
    assert reply.data["delivery_method"] == "书面"
    assert reply.data["text"] == "已维修"


def test_reading_a_case_from_postgresql_is_one_statement_outside_any_transaction(
    clock: Clock,
) -> None:
    """A command reads every aggregate it touches (the repository brings its cached copy up to
    date): on PostgreSQL each read runs in autocommit, one round trip, with no BEGIN before it
    and nothing to roll back after it (two round trips a read, three reads a command, before).
    The connection goes back to the pool transactional, and the next command is stored."""
    from sqlalchemy import event

    from ledger.settings import Settings
    from tests.conftest import fresh_postgres
    from tests.world import build_world

    ledger = Ledger(Settings(database_url=fresh_postgres()), clock=clock)
    try:
        world = build_world(ledger, clock.now)
        case_id = world.register(clock.now - timedelta(hours=3)).aggregate_id
        reads: list[bool] = []

        @event.listens_for(ledger.engine, "before_cursor_execute")
        def _read(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().startswith("SELECT") and "FROM ledger_events" in statement:
                reads.append(conn.connection.dbapi_connection.autocommit)

        stored = ledger.recorder.select_events(case_id)
        assert [e.originator_version for e in stored] == [1]
        assert reads == [True]
        world.act(case_id, "route", world.at_office, clock.now, to_unit=world.housing)
        assert ledger.get_case(case_id).holder_unit == world.housing
        assert all(reads)
    finally:
        ledger.close()


def test_a_command_on_postgresql_is_stored_and_sealed_in_one_statement_under_the_lock(
    clock: Clock,
) -> None:
    """Every writer waits for the events table's lock, held from the statement that takes it to
    the commit. A command's save sends the lock, the NOTIFY, its events and their seals (the
    database computes them, on the heads it reads under the lock) as one statement: one round
    trip and the commit while holding the lock (two, with the seals computed in Python between
    them, before). A registration (the case and its number: one event of each aggregate) goes
    the same way; but the year's first, which also starts the office's numbering (two events of
    one aggregate, the second chained on the first), reads the heads with its insert and then
    writes the seals computed in Python. Cases moved in turn are sealed each on the one before
    (the whole log verifies, in Python), and the projector is told of each (NOTIFY)."""
    import select

    from ledger.integrity import verify
    from ledger.settings import Settings
    from tests.conftest import fresh_postgres
    from tests.world import build_world

    ledger = Ledger(Settings(database_url=fresh_postgres()), clock=clock)
    listener = ledger.engine.raw_connection()
    try:
        world = build_world(ledger, clock.now)
        listener.driver_connection.set_isolation_level(0)  # type: ignore[union-attr]
        listener.cursor().execute("LISTEN ledger_events")
        writes = _statements_sent(ledger, _writes_to_the_log)
        first = world.register(clock.now - timedelta(hours=3)).aggregate_id
        second = world.register(clock.now - timedelta(hours=2)).aggregate_id
        for case_id in (first, second):
            world.act(case_id, "route", world.at_office, clock.now, to_unit=world.housing)
        assert len(writes) == 5
        year_starts, its_seals, *commands = writes
        assert "FROM ledger_seals" in year_starts  # the heads, read with the insert
        assert "INSERT INTO ledger_seals" not in year_starts
        assert its_seals.startswith("INSERT INTO ledger_seals")
        for write in [year_starts, *commands]:
            assert write.startswith("LOCK TABLE ledger_events IN EXCLUSIVE MODE; NOTIFY")
            assert "INSERT INTO ledger_events" in write
        for write in commands:
            assert "INSERT INTO ledger_seals" in write
        assert ledger.get_case(second).holder_unit == world.housing
        assert verify(ledger.engine).ok
        pg: Any = listener.driver_connection
        assert select.select([pg], [], [], 5.0) != ([], [], [])
        pg.poll()
        assert pg.notifies
    finally:
        listener.close()
        ledger.close()


def _writes_to_the_log(statement: str) -> bool:
    return not statement.startswith("SELECT") and (
        "ledger_events" in statement or "ledger_seals" in statement
    )


def _statements_sent(ledger: Ledger, which: Callable[[str], bool]) -> list[str]:
    """The statements of the ledger's engine (whitespace made single) that ``which`` keeps, as
    they are sent from now on."""
    from sqlalchemy import event

    sent: list[str] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _sent(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if which(text):
            sent.append(text)

    return sent


def _event_reads(ledger: Ledger) -> list[str]:
    """The statements that read events or snapshots, as they are sent from now on."""
    return _statements_sent(
        ledger,
        lambda text: (
            text.startswith("SELECT") and ("ledger_events" in text or "ledger_snapshots" in text)
        ),
    )


def test_a_command_reads_its_case_and_its_actor_in_one_statement(
    world: World, make_ledger: Callable[[], Ledger], clock: Clock
) -> None:
    """A command reads the case and the person acting: in one statement, whether this
    process has seen them before (the events after its copies) or not (all of their events,
    and no snapshot: neither is ever snapshotted). What another process wrote meanwhile is in
    what it reads: a case moved on elsewhere is acted on at its new version, a person who left
    the unit elsewhere is refused."""
    w = world
    case_id = w.register(clock.now - timedelta(hours=3)).aggregate_id
    other = make_ledger()  # another process: it has seen neither the case nor the clerk
    reads = _event_reads(other)
    other.act(
        case_id,
        "route",
        actor=w.at_office,
        occurred_at=clock.now,
        command_id="route-elsewhere",
        to_unit=w.housing,
        mode="交办",
    )
    assert len(reads) == 1 and "ledger_snapshots" not in reads[0]
    # This process's copies are behind now: the case was routed by the other.
    w.ledger.get_case(case_id)  # (cached here at version 1 since registration)
    reads = _event_reads(w.ledger)
    accepted = w.ledger.act(
        case_id, "accept", actor=w.at_housing, occurred_at=clock.now, command_id="accept-here"
    )
    assert len(reads) == 1
    assert accepted.version == 3 and w.ledger.get_case(case_id).stage is Stage.ACCEPTED
    # The handler leaves 住建局 in the other process; this one refuses their next action.
    other.update_person(
        w.housing_handler,
        "leave",
        actor=w.at_office,
        occurred_at=clock.now,
        command_id="leave",
        unit=w.housing,
    )
    with pytest.raises(NoStanding):
        w.ledger.act(
            case_id,
            "reply",
            actor=w.at_housing,
            occurred_at=clock.now,
            command_id="reply-after-leaving",
            outcome="支持",
            text="已维修",
            delivery_method="书面",
        )
