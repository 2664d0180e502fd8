"""Processes for the fault tests: writers that record what the ledger acknowledged, and a
projector that can be killed at any instant."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from domain.errors import ConcurrentUpdate
from domain.petitioners import Petitioner
from ledger.application import Actor, Ledger
from ledger.settings import Settings


def writer(url: str, number: int, seconds: float, world: dict[str, str], acks: str) -> None:
    """Register and route cases until time is up; append each acknowledged command id."""
    ledger = Ledger(Settings(database_url=url))
    office, housing = UUID(world["office"]), UUID(world["housing"])
    clerk = Actor(UUID(world["clerk"]), office)
    deadline = time.monotonic() + seconds
    n = 0
    with Path(acks).open("a") as out:
        while time.monotonic() < deadline:
            n += 1
            received = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=n)
            command = f"w{number}-{n}"
            try:
                result = ledger.register_case(
                    actor=clerk,
                    occurred_at=received + timedelta(hours=1),
                    command_id=command,
                    channel="来信",
                    received_at=received,
                    matter_kind="申诉求决",
                    category="住房",
                    summary="漏水",
                    petitioner_kind="实名",
                    petitioners=[Petitioner(UUID(int=number * 10**6 + n), name="张三")],
                    headcount=1,
                )
                out.write(json.dumps({"command": command, "case": result.aggregate_id.hex}) + "\n")
                out.flush()
                route = f"{command}-route"
                ledger.act(
                    result.aggregate_id,
                    "route",
                    actor=clerk,
                    occurred_at=received + timedelta(hours=2),
                    command_id=route,
                    to_unit=housing,
                )
                out.write(json.dumps({"command": route, "case": result.aggregate_id.hex}) + "\n")
                out.flush()
            except ConcurrentUpdate:
                continue  # told clearly; nothing acknowledged, nothing to check
    ledger.close()


def projector(url: str) -> None:
    """Follow the log until killed."""
    import sqlalchemy as sa

    from api.readmodel import default_rules
    from ledger.persistence import engine_options
    from projections.runner import Runner

    engine = sa.create_engine(url, **engine_options(url))
    Runner(engine, default_rules()).run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through tests/integration/test_faults.py")
