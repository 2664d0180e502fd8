"""Group commit on an SQLite store (``ledger.group_commit``): the commands of a process that
queue behind the store's writer lock are stored in one transaction, each still its own unit.

The stories hold the writer lock from the test, so that the saves that arrive meanwhile queue
exactly as they do behind another writer under load."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.errors import ConcurrentUpdate
from ledger import integrity
from ledger.application import Ledger
from ledger.group_commit import GroupCommit
from ledger.settings import Settings
from tests.world import World, build_world

WAIT_S = 30.0
TOPIC = "domain.directory:Unit.Created"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3"))
    yield ledger
    ledger.close()


def _group(ledger: Ledger) -> GroupCommit:
    group = ledger.recorder._group  # type: ignore[attr-defined]
    assert isinstance(group, GroupCommit)
    return group


def _queued(group: GroupCommit) -> int:
    with group._turn:
        return len(group._queued)


def _run_behind_the_lock(
    ledger: Ledger, first: Callable[[], Any], others: list[Callable[[], Any]]
) -> tuple[Any, list[Any]]:
    """Run ``first`` while the test holds the writer lock (it leads the next group and waits
    for the lock), then ``others`` (they queue beside it); release the lock; return each call's
    result or the exception it raised."""
    outcomes: dict[int, Any] = {}

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            outcomes[i] = call()
        except Exception as e:  # the story asserts on it
            outcomes[i] = e

    group = _group(ledger)
    threads = []
    with ledger.write_lock:
        threads.append(threading.Thread(target=run, args=(0, first)))
        threads[0].start()
        _until(lambda: group._leading)
        for i, call in enumerate(others, start=1):
            threads.append(threading.Thread(target=run, args=(i, call)))
            threads[-1].start()
        _until(lambda: _queued(group) == 1 + len(others))  # the leader's own save too
    for thread in threads:
        thread.join(WAIT_S)
    return outcomes[0], [outcomes[i] for i in range(1, len(others) + 1)]


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.001)


def _stored(ledger: Ledger) -> list[tuple[UUID, int]]:
    return [
        (n.originator_id, n.originator_version)
        for n in ledger.recorder.select_notifications(1, 1000)
    ]


def _router(
    ledger: Ledger, world: World, now: datetime
) -> Callable[[UUID, int], Callable[[], Any]]:
    """A clerk's routing of a case to the housing bureau, as a call to run in a thread."""

    def route(case_id: UUID, n: int) -> Callable[[], Any]:
        return lambda: ledger.act(
            case_id,
            "route",
            actor=world.at_office,
            occurred_at=now,
            command_id=f"route-{n}",
            to_unit=world.housing,
            mode="交办",
        )

    return route


def _unit_created(unit: UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(unit, version, TOPIC, b"{}")


def test_commands_that_queue_while_the_writer_lock_is_held_are_stored_in_one_transaction(
    ledger: Ledger,
) -> None:
    now = datetime.now(UTC)
    world = build_world(ledger, now - timedelta(days=30))
    cases = [world.register(now - timedelta(hours=3)).aggregate_id for _ in range(6)]
    group = _group(ledger)
    before = group.groups

    route = _router(ledger, world, now)
    first, others = _run_behind_the_lock(
        ledger, route(cases[0], 0), [route(c, n) for n, c in enumerate(cases[1:], start=1)]
    )

    assert group.groups - before == 1  # the leader took all six once it had the lock
    results = [first, *others]
    positions = [r.position for r in results]
    assert all(isinstance(p, int) for p in positions)
    assert len(set(positions)) == 6
    for case_id, result in zip(cases, results, strict=True):
        case = ledger.get_case(case_id)
        assert case.version == result.version
        assert case.holder_unit == world.housing
    assert integrity.verify(ledger.engine).ok  # both chains run through the group's seals


def test_a_save_the_store_refuses_is_refused_alone_and_the_rest_of_its_group_is_stored(
    ledger: Ledger,
) -> None:
    """Two saves of version 1 of one aggregate in the same group: the store takes one; the
    other is refused by itself, and the saves around it are stored."""
    a, b, c, contested = uuid4(), uuid4(), uuid4(), uuid4()
    insert = ledger.recorder.insert_events
    first, others = _run_behind_the_lock(
        ledger,
        lambda: insert([_unit_created(a)]),
        [
            lambda: insert([_unit_created(b)]),
            lambda: insert([_unit_created(contested)]),
            lambda: insert([_unit_created(contested)]),
            lambda: insert([_unit_created(c), _unit_created(c, 2)]),
        ],
    )

    refused = [o for o in others if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], IntegrityError)
    stored = _stored(ledger)
    assert sorted(stored) == sorted([(a, 1), (b, 1), (contested, 1), (c, 1), (c, 2)])
    positions = [p for o in [first, *others] if not isinstance(o, Exception) for p in o]
    assert sorted(positions) == [1, 2, 3, 4, 5]
    assert integrity.verify(ledger.engine).ok


def test_a_command_that_lost_the_race_inside_a_group_is_told_to_reload(ledger: Ledger) -> None:
    """The same case routed by two clerks at once, both queued in one group: one is stored,
    the other is a concurrent update (HTTP 409), as without groups."""
    now = datetime.now(UTC)
    world = build_world(ledger, now - timedelta(days=30))
    held, contested = (world.register(now - timedelta(hours=3)).aggregate_id for _ in range(2))

    route = _router(ledger, world, now)
    _, others = _run_behind_the_lock(
        ledger, route(held, 0), [route(contested, 1), route(contested, 2)]
    )

    assert sorted(type(o).__name__ for o in others) == ["CommandResult", "ConcurrentUpdate"]
    lost = next(o for o in others if isinstance(o, ConcurrentUpdate))
    assert "reload" in str(lost)
    assert ledger.get_case(contested).event_types == ["Registered", "Routed"]  # one route


def test_a_group_that_fails_whole_is_stored_save_by_save(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anything but a refused save fails the group's transaction: nothing of it is committed,
    and each save is tried again alone, each caller meeting its own outcome."""
    recorder: Any = ledger.recorder
    seal = recorder._seal
    failures = {"left": 1}

    def seal_failing_once(conn: Any, ids: Any, events: Any) -> None:
        seal(conn, ids, events)
        if failures["left"] and len(ids) == 1 and events[0].originator_id == second:
            failures["left"] -= 1
            raise RuntimeError("disk full")

    first_id, second, third = uuid4(), uuid4(), uuid4()
    monkeypatch.setattr(recorder, "_seal", seal_failing_once)
    insert = recorder.insert_events
    first, others = _run_behind_the_lock(
        ledger,
        lambda: insert([_unit_created(first_id)]),
        [lambda: insert([_unit_created(second)]), lambda: insert([_unit_created(third)])],
    )

    assert failures["left"] == 0  # the group did fail
    assert not any(isinstance(o, Exception) for o in [first, *others])
    assert sorted(_stored(ledger)) == sorted([(first_id, 1), (second, 1), (third, 1)])
    assert integrity.verify(ledger.engine).ok


def test_a_save_inside_a_transaction_of_its_own_is_not_grouped(ledger: Ledger) -> None:
    """A caller already inside one of the store's transactions owns its save: the group
    commit never takes it into a transaction of another thread."""
    recorder: Any = ledger.recorder
    group = _group(ledger)
    before = group.groups
    unit = uuid4()
    with recorder.transaction(commit=True):
        recorder.insert_events([_unit_created(unit)])
    assert group.groups == before
    assert _stored(ledger) == [(unit, 1)]
