"""Faults: eight writer processes and a projector killed with SIGKILL again and again.
Afterwards every acknowledged command is in the log exactly once, the seals verify, and the
views equal a full rebuild. (Bounded: a few seconds of load, not a minute, in CI.)"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from ledger.integrity import verify
from projections.projector import Projector
from projections.rebuild import rebuild
from projections.viewsets import DEFAULT_RULEBOOK, ensure_live, load
from tests import fault_workers
from tests.integration.projection_helpers import dump
from tests.world import World

WRITERS = 8
SECONDS = float(os.environ.get("FAULT_SECONDS", "6"))
KILL_EVERY = 0.7


def test_writers_and_a_killed_projector_lose_nothing(
    world: World, database_url: str, tmp_path: Path
) -> None:
    national = load(DEFAULT_RULEBOOK)
    engine = world.ledger.engine
    live = ensure_live(engine, national)
    ids = {"office": world.office.hex, "housing": world.housing.hex, "clerk": world.clerk.hex}
    context = multiprocessing.get_context("spawn")
    acks = [tmp_path / f"acks-{i}.jsonl" for i in range(WRITERS)]
    writers = [
        context.Process(
            target=fault_workers.writer, args=(database_url, i, SECONDS, ids, str(acks[i]))
        )
        for i in range(WRITERS)
    ]
    for w in writers:
        w.start()
    kills = 0
    started = time.monotonic()
    while any(w.is_alive() for w in writers) and time.monotonic() - started < SECONDS + 60:
        projector = context.Process(target=fault_workers.projector, args=(database_url,))
        projector.start()
        time.sleep(KILL_EVERY)
        os.kill(projector.pid, signal.SIGKILL)  # type: ignore[arg-type]
        projector.join()
        kills += 1
    for w in writers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert kills >= 3

    acknowledged = [
        json.loads(line) for path in acks if path.exists() for line in path.read_text().splitlines()
    ]
    assert len(acknowledged) > WRITERS  # the writers really wrote
    with engine.connect() as conn:
        stored = Counter(
            json.loads(bytes(state))["command_id"]
            for (state,) in conn.execute(sa.text("SELECT state FROM ledger_events"))
            if b"command_id" in bytes(state)
        )
    for ack in acknowledged:
        assert stored[ack["command"]] == 1, ack  # stored, exactly once
    assert verify(engine).ok

    Projector(engine, engine, national.rules, live).catch_up()  # the last restart
    assert dump(engine, live) == dump(engine, rebuild(engine, national, name="check"))
