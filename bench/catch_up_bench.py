"""The live projector catching up after downtime, against the raw read rate, same run.

    python -m bench.catch_up_bench --cases 10000 [--db sqlite postgresql] [--reuse]

For one data set (bench/dataset.py, about eight events per case), a view set is created empty
and caught up by the live projector (``Projector.catch_up``, what `petition serve` and
`petition project` do after downtime) twice: with batches fixed at 500 log rows (how it
projected before batches grew when behind) and as it projects now (500 rows while keeping up,
doubling while behind, up to 8,000). Each in events/s, against the raw read rate of the same
events table measured in the same run, and against each other. The view sets are removed
after. PostgreSQL: the database ``BENCH_POSTGRES_URL`` names (its public schema is reset).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.dataset import write_cases
from bench.rebuild_bench import database_url, raw_read
from ledger.application import Ledger
from ledger.settings import Settings
from projections import schema
from projections.projector import Projector, create_view_set
from projections.viewsets import DEFAULT_RULEBOOK, load

BATCH = 500


def _drop(engine: sa.Engine, name: str) -> None:
    with engine.begin() as conn:
        for table in schema.VIEW_TABLES:
            conn.execute(table.delete().where(table.c.view_set == name))
        conn.execute(schema.view_sets.delete().where(schema.view_sets.c.id == name))


def catch_up(engine: sa.Engine, name: str, *, most_batch: int) -> tuple[int, float]:
    """Position reached and wall seconds of catching a new, empty view set up from zero."""
    loaded = load(DEFAULT_RULEBOOK)
    schema.create_all(engine)
    _drop(engine, name)
    with engine.begin() as conn:
        create_view_set(
            conn, name, loaded.rules, loaded.digest, status="bench", path=str(loaded.path)
        )
    started = time.perf_counter()
    position = Projector(
        engine, engine, loaded.rules, name, batch_size=BATCH, most_batch=most_batch
    ).catch_up()
    seconds = time.perf_counter() - started
    _drop(engine, name)
    return position, seconds


def measure(db: str, cases: int, workdir: Path, reuse: bool) -> dict[str, Any]:
    url = database_url(db, workdir, cases, fresh=not reuse)
    ledger = Ledger(Settings(database_url=url))
    try:
        with ledger.engine.connect() as conn:
            have = conn.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one()
        if not have:
            write_cases(ledger, cases=cases)
        engine = ledger.engine
        rows, raw_s, _ = raw_read(engine)
        _, fixed_s = catch_up(engine, "bench-catch-up-fixed", most_batch=BATCH)
        _, grown_s = catch_up(engine, "bench-catch-up-grown", most_batch=16 * BATCH)
        rows_again, raw_again_s, _ = raw_read(engine)
    finally:
        ledger.close()
    raw_rate = (rows / raw_s + rows_again / raw_again_s) / 2
    fixed, grown = rows / fixed_s, rows / grown_s
    return {
        "db": db,
        "cases": cases,
        "events": rows,
        "raw_read_events_per_s": round(raw_rate),
        "catch_up_fixed_500_events_per_s": round(fixed),
        "catch_up_grown_events_per_s": round(grown),
        "fixed_vs_raw": round(fixed / raw_rate, 4),
        "grown_vs_raw": round(grown / raw_rate, 4),
        "grown_vs_fixed": round(grown / fixed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite"])
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    parser.add_argument("--reuse", action="store_true", help="use the data set written before")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for db in args.db:
        print(json.dumps(measure(db, args.cases, args.workdir, args.reuse)), flush=True)


if __name__ == "__main__":
    main()
