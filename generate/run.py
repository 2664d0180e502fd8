"""Generating a data set: the directory, then every story, merged into one log in the order
things were written down, and recorded in batches (or, for checking, one command at a time).

The stories run side by side: a heap holds the next command of every open case, keyed by the
instant it will be written; a case enters when its matter arrives and leaves after its last
command, so memory holds the cases open at one time, not the whole data set. Commands that
would be written after the data set's last day are not given: those cases are still open.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from generate.hierarchy import PROVINCE, Hierarchy, Shape, plan_hierarchy
from generate.stories import Planner
from ledger.application import Ledger
from ledger.bulk import BulkWriter, Command, record_one

LAST_DAY = date(2025, 12, 31)
"""The data set's "today": within the years the official working-day calendar covers."""


@dataclass(frozen=True)
class Plan:
    hierarchy: Hierarchy
    planner: Planner
    cases: int

    def commands(
        self, released: Callable[[Iterable[UUID]], None] = lambda ids: None
    ) -> Iterator[Command]:
        """Every command: the directory's, then the cases' in the order they are written
        down. ``released`` is told the cases that will get no more commands."""
        yield from self.hierarchy.commands
        yield from merged(self.planner, self.planner.arrivals(self.cases), released)


def plan(
    *,
    cases: int,
    seed: int,
    years: int = 3,
    last_day: date = LAST_DAY,
    timezone: str,
    shape: Shape = PROVINCE,
) -> Plan:
    """The whole data set, as a plan drawn lazily from ``seed``: same seed, same commands."""
    if cases < 1:
        raise ValueError("cases: at least one case")
    if not 1 <= years <= 20:
        raise ValueError("years: between 1 and 20")
    rng = random.Random(seed)
    first_day = date(last_day.year - years + 1, 1, 1)
    founded = datetime(first_day.year - 1, 12, 1, 1, 0, tzinfo=UTC)
    hierarchy = plan_hierarchy(rng, seed, founded, shape)
    planner = Planner(
        hierarchy,
        rng,
        seed=seed,
        zone=ZoneInfo(timezone),
        first_day=first_day,
        last_day=last_day,
    )
    return Plan(hierarchy, planner, cases)


Story = Iterator[Command]


def merged(
    planner: Planner,
    arrivals: Iterator[tuple[datetime, Story]],
    released: Callable[[Iterable[UUID]], None],
) -> Iterator[Command]:
    """The stories' commands, merged by the instant they are written down."""
    heap: list[tuple[datetime, int, Command, Story, UUID]] = []
    order = 0

    def push(story: Story, case_id: UUID | None) -> None:
        nonlocal order
        command = next(story, None)
        if command is not None and command.recorded_at >= planner.end:
            planner.dropped(command)
            command = None
        if command is None:
            if case_id is not None:
                released([case_id])
            return
        case_id = case_id or planner.case_of(command)
        heapq.heappush(heap, (command.recorded_at, order, command, story, case_id))
        order += 1

    upcoming = next(arrivals, None)
    while heap or upcoming is not None:
        while upcoming is not None and (not heap or upcoming[0] <= heap[0][0]):
            push(upcoming[1], None)
            upcoming = next(arrivals, None)
        if heap:
            _, _, command, story, case_id = heapq.heappop(heap)
            yield command
            planner.given(command, case_id)
            push(story, case_id)


@dataclass(frozen=True)
class Summary:
    units: int
    people: int
    cases: int
    events: int
    seconds: float
    tags: dict[str, int]  # story -> how many cases tell it
    examples: dict[str, list[str]]  # story -> a few of those cases' numbers

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def generate(
    ledger: Ledger,
    *,
    cases: int,
    seed: int,
    years: int = 3,
    shape: Shape = PROVINCE,
    events_per_save: int = 5000,
    on_progress: Callable[[int, int], None] | None = None,
    on_save: Callable[[int], None] | None = None,
    one_by_one: bool = False,
) -> Summary:
    """Write a generated data set into ``ledger``: in bulk, or with ``one_by_one`` through
    the ledger's commands (the reference path, far slower)."""
    the_plan = plan(
        cases=cases, seed=seed, years=years, timezone=ledger.settings.timezone, shape=shape
    )
    before = ledger.recorder.max_notification_id() or 0
    registered = 0
    started = time.perf_counter()
    if one_by_one:
        record: Callable[[Command], object] = lambda c: record_one(ledger, c)  # noqa: E731
        commands = the_plan.commands()
        writer = None
    else:
        writer = BulkWriter(ledger, events_per_save=events_per_save, on_save=on_save)
        record = writer.record
        commands = the_plan.commands(writer.release)
    for command in commands:
        record(command)
        if command.action == "register":
            registered += 1
            if on_progress and (one_by_one or registered % 200 == 0):
                on_progress(registered, cases)
    if writer is not None:
        writer.flush()
    seconds = time.perf_counter() - started
    if on_progress:
        on_progress(registered, cases)
    planner = the_plan.planner
    return Summary(
        units=the_plan.hierarchy.unit_count(),
        people=len(the_plan.hierarchy.people),
        cases=registered,
        events=(ledger.recorder.max_notification_id() or 0) - before,
        seconds=seconds,
        tags=dict(sorted(planner.tags.items())),
        examples={
            tag: [ledger.get_case(case_id).case_number for case_id in ids]
            for tag, ids in sorted(planner.examples.items())
        },
    )
