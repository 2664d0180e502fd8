"""Full-rebuild throughput against the raw read rate of the same events table, same run.

    python -m bench.rebuild_bench --cases 12800 128000 --db sqlite postgresql

Reports, for one data set: the raw read rate (SELECT of every row of the events table, no
decoding), the library's own read-and-decode rate (notifications through the recorder and the
mapper), the full-rebuild rate of every view under the national rulebook, in one process and
with worker processes, each in events/s and the rebuild as a ratio of both baselines; and
the rebuild's peak memory (max RSS of a fresh process doing only the rebuild, and of its
largest worker), so that runs at two sizes show whether it grows. On SQLite the rebuild
writes where a store keeps its views: by default a views file beside it (a new store's
layout, ADR 18), with ``--views inside`` into the store's own file. ``judge`` says which
build of the judge ran: plain Python, or compiled with mypyc as a deployment builds it (ADR
22; in a checkout, ``PETITION_COMPILE=1 python setup.py build_ext --inplace``).

The machine may be shared: the library baseline is read before and after each rebuild and
the ratio taken against their mean, and CPU time per event is reported beside the rates
(the rebuild's including its workers), which load from other processes disturbs far less.
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
from ledger.settings import Settings, database_files
from projections import compilation


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


def database_url(db: str, workdir: Path, cases: int, *, fresh: bool) -> str:
    """The data set's database; emptied first if ``fresh``."""
    if db == "sqlite":
        path = workdir / f"bench-{cases}.sqlite3"
        for suffix in ("", "-wal", "-shm") if fresh else ():
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = postgres_url()
    if fresh:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    return url


def statistics_as_deployed(url: str) -> str:
    """PostgreSQL: give the planner the statistics a deployed server's autovacuum keeps.

    A server with autovacuum off (this machine's is) never analyzes the tables the bench grows
    from empty, and without statistics the planner guesses 0.5 % of a table's rows for each
    key: the live projector's reads and deletes of a batch's delay rows then scanned the whole
    partition (0.8 ms a statement instead of 0.16 ms: bench.http_bench), and a rebuild's range
    reads of the events table plan without knowing its size. docker-compose's server, like
    any default one, analyzes a table as it grows, so the bench analyzes once after its setup
    if the server will not. Returns what was done."""
    if not url.startswith("postgresql"):
        return "sqlite"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("SHOW autovacuum").scalar() == "on":
                return "autovacuum"
            conn.exec_driver_sql("ANALYZE")
            return "analyzed after setup (autovacuum off on this server)"
    finally:
        engine.dispose()


def judge_build() -> str:
    """Which build of the judge runs: compiled with mypyc (ADR 22) or plain Python. A stale
    build (of other sources) would measure code that is no longer there."""
    if reason := compilation.stale_reason():
        raise SystemExit(reason)
    built = compilation.compiled()
    if not built:
        return "python"
    if len(built) < len(compilation.MODULES):
        return f"partly compiled ({', '.join(built)})"
    return "compiled (mypyc)"


def raw_read(engine: sa.Engine) -> tuple[int, float, float]:
    """Rows, wall seconds and CPU seconds (this process) of a plain SELECT of the table."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    with engine.connect().execution_options(stream_results=True, yield_per=10_000) as conn:
        result = conn.execute(
            sa.text("SELECT id, originator_id, originator_version, topic, state FROM ledger_events")
        )
        for partition in result.partitions():
            rows += len(partition)
    return rows, time.perf_counter() - started, time.process_time() - cpu


def library_read(ledger: Ledger) -> tuple[int, float, float]:
    """Events, wall seconds and CPU seconds of reading and decoding every notification."""
    started, cpu = time.perf_counter(), time.process_time()
    count, position = 0, 1
    while True:
        page = ledger.recorder.select_notifications(position, 1000)
        if not page:
            break
        for notification in page:
            ledger.mapper.to_domain_event(notification)
            count += 1
        position = page[-1].id + 1
    return count, time.perf_counter() - started, time.process_time() - cpu


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_kib() -> int:
    """This process's peak RSS. Linux carries ``ru_maxrss`` across exec, so a spawned child
    would report its parent's size if larger; the memory map's own high-water mark does not."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rebuild_child(url: str, apart: bool, workers: int, name: str, queue: Any) -> None:
    from projections.rebuild import rebuild
    from projections.viewsets import DEFAULT_RULEBOOK, load

    # The store as `petition rebuild` opens it: the views where the layout keeps them.
    ledger = Ledger(Settings(database_url=url, sqlite_views_file=apart))
    views = ledger.projection_engine
    loaded = load(DEFAULT_RULEBOOK)
    started = time.perf_counter()
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    rebuild(ledger.engine, loaded, cases_per_commit=1000, workers=workers, name=name, views=views)
    elapsed = time.perf_counter() - started
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu
    peak = _peak_rss_kib()
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ledger.close()
    queue.put((elapsed, cpu, peak, worker_peak))


def _drop_views(url: str, apart: bool) -> None:
    """Empty read models: the views file deleted (views apart), the view tables dropped from
    the store (views inside, or left there by a run of the other layout)."""
    from projections import schema

    views = Settings(database_url=url, sqlite_views_file=apart).sqlite_views_path()
    for file in database_files(views) if views is not None else []:
        file.unlink(missing_ok=True)
    engine = sa.create_engine(url)
    schema.metadata.drop_all(engine)
    engine.dispose()


def _rebuild(url: str, apart: bool, workers: int) -> tuple[float, float, int, int]:
    _drop_views(url, apart)  # each rebuild starts from empty read-model tables
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_rebuild_child, args=(url, apart, workers, f"bench-{workers}", queue)
    )
    child.start()
    result: tuple[float, float, int, int] = queue.get()
    child.join()
    return result


def measure(
    db: str, cases: int, workdir: Path, workers: list[int], *, reuse: bool, apart: bool = True
) -> dict[str, Any]:
    url = database_url(db, workdir, cases, fresh=not reuse)
    settings = Settings(database_url=url, sqlite_views_file=apart)
    ledger = Ledger(settings, clock=lambda: datetime.now(UTC))
    write_s = None
    if not reuse:
        started = time.perf_counter()
        write_cases(ledger, cases=cases)
        write_s = time.perf_counter() - started
    statistics = statistics_as_deployed(url)
    events, raw_s, raw_cpu = raw_read(ledger.engine)
    figures: dict[str, Any] = {
        "db": db,
        "cases": cases,
        "events": events,
        "judge": judge_build(),
        "bulk_write_events_per_s": round(events / write_s) if write_s else None,
        "views": ("apart" if apart else "inside") if db == "sqlite" else "the database's own",
        "planner_statistics": statistics,
    }
    figures["raw_read_events_per_s"] = round(events / raw_s)
    figures["raw_read_cpu_us_per_event"] = round(1e6 * raw_cpu / events, 1)
    library = [library_read(ledger)]
    for n in workers:
        rebuild_s, rebuild_cpu, peak_kib, worker_peak_kib = _rebuild(url, apart, n)
        library.append(library_read(ledger))
        (_, before_s, before_cpu), (_, after_s, after_cpu) = library[-2], library[-1]
        library_rate = events / ((before_s + after_s) / 2)
        library_cpu = (before_cpu + after_cpu) / 2
        label = "one_process" if n == 1 else f"{n or os.cpu_count()}_workers"
        figures[label] = {
            "library_read_decode_events_per_s": round(library_rate),
            "rebuild_events_per_s": round(events / rebuild_s),
            "rebuild_vs_raw_read": round(raw_s / rebuild_s, 4),
            "rebuild_vs_library_read": round(events / rebuild_s / library_rate, 3),
            "library_cpu_us_per_event": round(1e6 * library_cpu / events, 1),
            "rebuild_cpu_us_per_event": round(1e6 * rebuild_cpu / events, 1),
            "rebuild_peak_rss_mib": round(peak_kib / 1024, 1),
            "worker_peak_rss_mib": round(worker_peak_kib / 1024, 1) if n != 1 else None,
        }
    ledger.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite"])
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 0],
        help="rebuild once per value: 1 in one process, 0 one worker per core, N workers",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the events an earlier run with the same --cases left (no new data set)",
    )
    parser.add_argument(
        "--views",
        choices=["apart", "inside"],
        default="apart",
        help="SQLite: rebuild into a views file beside the store (a new store's default, ADR "
        "18) or into the store's own file",
    )
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for db in args.db:
        for cases in args.cases:
            figures = measure(
                db, cases, args.workdir, args.workers, reuse=args.reuse, apart=args.views == "apart"
            )
            print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
