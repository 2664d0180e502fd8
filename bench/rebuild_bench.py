"""Full-rebuild throughput against the raw read rate of the same events table, same run.

    python -m bench.rebuild_bench --cases 10000 --db sqlite
    python -m bench.rebuild_bench --cases 100000 --db postgresql

Reports, for one data set: the raw read rate (SELECT of every row of the events table, no
decoding), the library's own read-and-decode rate (notifications through the recorder and the
mapper), the full-rebuild rate of every view under the national rulebook, each in events/s
and the rebuild as a ratio of both baselines; and the rebuild's peak memory (max RSS of a
fresh process doing only the rebuild), so that runs at two sizes show whether it grows.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.dataset import write_cases
from ledger.application import Ledger
from ledger.settings import Settings


def postgres_url() -> str:
    """The benchmark's own PostgreSQL database (its public schema is dropped): never a
    default, so that a forgotten variable cannot wipe a database someone else uses."""
    url = os.environ.get("BENCH_POSTGRES_URL")
    if not url:
        raise SystemExit(
            "set BENCH_POSTGRES_URL to a database this benchmark may wipe "
            "(not the test suite's: a benchmark must not race its schema resets)"
        )
    return url


def fresh_url(db: str, workdir: Path) -> str:
    if db == "sqlite":
        path = workdir / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = postgres_url()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def raw_read(engine: sa.Engine) -> tuple[int, float]:
    started = time.perf_counter()
    rows = 0
    with engine.connect().execution_options(stream_results=True, yield_per=10_000) as conn:
        result = conn.execute(
            sa.text("SELECT id, originator_id, originator_version, topic, state FROM ledger_events")
        )
        for partition in result.partitions():
            rows += len(partition)
    return rows, time.perf_counter() - started


def library_read(ledger: Ledger) -> tuple[int, float]:
    started = time.perf_counter()
    count, position = 0, 1
    while True:
        page = ledger.recorder.select_notifications(position, 1000)
        if not page:
            break
        for notification in page:
            ledger.mapper.to_domain_event(notification)
            count += 1
        position = page[-1].id + 1
    return count, time.perf_counter() - started


def _rebuild_child(url: str, queue: Any) -> None:
    from projections.rebuild import rebuild
    from projections.viewsets import DEFAULT_RULEBOOK, load

    engine = sa.create_engine(url)
    started = time.perf_counter()
    rebuild(
        engine,
        load(DEFAULT_RULEBOOK),
        cases_per_commit=1000,
        workers=int(os.environ.get("BENCH_WORKERS", "0")),
    )
    elapsed = time.perf_counter() - started
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def measure(db: str, cases: int, workdir: Path) -> dict[str, Any]:
    url = fresh_url(db, workdir)
    ledger = Ledger(Settings(database_url=url), clock=lambda: datetime.now(UTC))
    started = time.perf_counter()
    write_cases(ledger, cases=cases)
    write_s = time.perf_counter() - started
    events, raw_s = raw_read(ledger.engine)
    decoded, library_s = library_read(ledger)
    ledger.close()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_rebuild_child, args=(url, queue))
    child.start()
    rebuild_s, peak_kib = queue.get()
    child.join()
    raw_rate, library_rate, rebuild_rate = events / raw_s, decoded / library_s, events / rebuild_s
    return {
        "db": db,
        "cases": cases,
        "events": events,
        "bulk_write_events_per_s": round(events / write_s),
        "raw_read_events_per_s": round(raw_rate),
        "library_read_decode_events_per_s": round(library_rate),
        "rebuild_events_per_s": round(rebuild_rate),
        "rebuild_vs_raw_read": round(rebuild_rate / raw_rate, 4),
        "rebuild_vs_library_read": round(rebuild_rate / library_rate, 3),
        "rebuild_peak_rss_mib": round(peak_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite"])
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for db in args.db:
        for cases in args.cases:
            print(json.dumps(measure(db, cases, args.workdir)), flush=True)


if __name__ == "__main__":
    main()
