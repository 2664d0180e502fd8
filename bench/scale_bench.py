"""The scale benchmark: a generated province at 100k or 1M cases, every figure next to a
baseline measured in the same run.

    python -m bench.scale_bench --db sqlite --cases 100000
    python -m bench.scale_bench --db postgresql --cases 1000000      # BENCH_POSTGRES_URL

Measured, in this order (each heavy step in a fresh process, so its peak memory is its own):

1. bulk ingest (``petition generate``'s path: domain, seals, the library's recorder) in
   events/s, against the bare library save rate: a sample of the same stored events inserted
   through eventsourcing-sqlalchemy's plain recorder (no domain, no seals), same batch size;
2. a raw read of the whole events table (no decoding): the read baseline;
3. a full rebuild of every view under the national rulebook (``projections.rebuild``): events/s
   against the raw read, peak RSS, and RSS sampled as the rebuild advances (flat or growing);
4. the rule change end to end: a rebuild under ``local-working-days`` plus the whole diff
   against the national views (every period's statistics and ranking, and every moved case);
5. query latencies (p50/p99 over random samples): the responsibility chain of one case, who
   delayed what for one unit, and one unit-statistics period; each next to the raw read of the
   rows it stands on (the case's events; the unit's custody rows; the period's cases).

``--reuse`` keeps a store that already holds the data set (skips 1), to re-measure 2–5;
``--queries VIEW_SET`` re-measures 5 alone against a view set already built there.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.rebuild_bench import postgres_url

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = ROOT / "rulebooks" / "2022-national.toml"
LOCAL = ROOT / "rulebooks" / "local-working-days.toml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the generated data set's "today"
BARE_SAMPLE = 200_000
BATCH = 5000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def url_for(db: str, workdir: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{workdir / 'scale.sqlite3'}"
    return postgres_url()


def empty(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


# ---------------------------------------------------------------------------- memory


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Sampler:
    """RSS sampled every ``every`` seconds while a step runs (workers not included)."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(rss_mib())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def quartiles(self) -> list[float]:
        """RSS at 25, 50, 75 and 100 % of the step's time: equal if memory stays flat."""
        s = self.samples or [rss_mib()]
        return [round(s[min(len(s) - 1, int(len(s) * q) - 1)], 1) for q in (0.25, 0.5, 0.75, 1)]


# ---------------------------------------------------------------------------- steps (children)


def step_ingest(url: str, cases: int, seed: int, years: int) -> dict[str, Any]:
    from generate.run import generate
    from ledger.application import Ledger
    from ledger.settings import Settings

    keys = random.Random(seed ^ 0x6E4E)
    ledger = Ledger(Settings(database_url=url), keygen=lambda: keys.randbytes(32))
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            log(f"ingest: {done}/{total} cases")

    with Sampler(5) as sampler:
        summary = generate(
            ledger, cases=cases, seed=seed, years=years, events_per_save=BATCH, on_progress=progress
        )
    ledger.close()
    return {
        "cases": summary.cases,
        "units": summary.units,
        "events": summary.events,
        "ingest_s": round(summary.seconds, 1),
        "ingest_events_per_s": round(summary.events_per_second),
        "ingest_peak_rss_mib": round(peak_mib(), 1),
        "ingest_rss_quartiles_mib": sampler.quartiles(),
        "tags": summary.tags,
    }


def step_bare_save(url: str, sample: int) -> dict[str, Any]:
    """The same stored events, inserted by the library's own recorder, without our domain or
    seals, into a table of their own (then dropped)."""
    from uuid import UUID

    from eventsourcing.persistence import StoredEvent
    from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
    from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder

    from ledger.persistence import engine_options

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT originator_id, originator_version, topic, state FROM ledger_events "
                "ORDER BY id LIMIT :n"
            ),
            {"n": sample},
        ).all()
    engine.dispose()
    events = [
        StoredEvent(
            originator_id=o if isinstance(o, UUID) else UUID(bytes=bytes(o)),
            originator_version=v,
            topic=t,
            state=bytes(s),
        )
        for o, v, t, s in rows
    ]
    datastore = SQLAlchemyDatastore(url=url, **engine_options(url))
    recorder = SQLAlchemyApplicationRecorder(datastore, events_table_name="bench_bare_events")
    recorder.create_table()
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        recorder.insert_events(events[i : i + BATCH])
    seconds = time.perf_counter() - started
    engine = datastore.engine
    assert isinstance(engine, sa.Engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE bench_bare_events"))
    return {
        "bare_sample_events": len(events),
        "bare_save_events_per_s": round(len(events) / seconds),
    }


def step_raw_read(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    started = time.perf_counter()
    rows = 0
    with engine.connect().execution_options(stream_results=True, yield_per=10_000) as conn:
        result = conn.execute(
            sa.text("SELECT id, originator_id, originator_version, topic, state FROM ledger_events")
        )
        for partition in result.partitions():
            rows += len(partition)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"raw_read_events": rows, "raw_read_events_per_s": round(rows / seconds)}


def step_rebuild(url: str, rulebook: str) -> dict[str, Any]:
    from projections.rebuild import rebuild
    from projections.viewsets import load

    engine = sa.create_engine(url)
    loaded = load(rulebook)
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            log(f"rebuild {loaded.rules.rulebook.name}: {done}/{total} cases")

    phases = _Phases()
    logging.getLogger("projections.rebuild").addHandler(phases)
    logging.getLogger("projections.rebuild").setLevel(logging.INFO)
    with Sampler(2) as sampler:
        started = time.perf_counter()
        name = rebuild(engine, loaded, on_progress=progress)
        seconds = time.perf_counter() - started
    engine.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "view_set": name,
        "rebuild_s": round(seconds, 1),
        "rebuild_peak_rss_mib": round(peak_mib(), 1),
        "rebuild_worker_peak_rss_mib": round(children, 1),
        "rebuild_rss_quartiles_mib": sampler.quartiles(),
        "rebuild_phases_s": phases.seconds,
    }


class _Phases(logging.Handler):
    """The rebuild's phases (ranges, indexes, repeats, catch-up) as it logs them, in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        phase = getattr(record, "phase", None)
        if phase is not None:
            self.seconds[phase] = round(getattr(record, "seconds", 0.0), 1)
            log(record.getMessage())


def step_diff(url: str, a: str, b: str, moved: bool = True) -> dict[str, Any]:
    """What `petition rules diff A B` computes: every period's statistics and ranking under
    both rulebooks, what differs, and every clock run whose deadline or lateness moved."""
    from projections.queries import Views
    from projections.rebuild import diff_ranking, diff_statistics, iter_moved_cases, periods
    from projections.statistics import unit_statistics
    from projections.viewsets import load

    engine = sa.create_engine(url)
    va = Views(engine, a, load(NATIONAL).rules)
    vb = Views(engine, b, load(LOCAL).rules)
    started = time.perf_counter()
    changes = ranking = 0
    all_periods = sorted(set(periods(va)) | set(periods(vb)))
    for period in all_periods:
        sa_, sb = unit_statistics(va, period, NOW), unit_statistics(vb, period, NOW)
        changes += len(diff_statistics(sa_, sb))
        ranking += len(diff_ranking(sa_, sb))
    moved_runs = sum(1 for _ in iter_moved_cases(va, vb)) if moved else None
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "diff_s": round(seconds, 1),
        "diff_periods": len(all_periods),
        "diff_statistics_changed": changes,
        "diff_ranking_moves": ranking,
        "diff_moved_clock_runs": moved_runs,  # None: not computed (--skip-moved-cases)
        "diff_peak_rss_mib": round(peak_mib(), 1),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "n": len(ordered),
    }


def _times(call: Callable[[Any], object], items: list[Any]) -> list[float]:
    """How long ``call`` took for each item, in seconds."""
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - started)
    return times


def step_queries(url: str, view_set: str, samples: int, seed: int) -> dict[str, Any]:
    from uuid import UUID

    from sqlalchemy_utils.types.uuid import UUIDType

    from projections import schema
    from projections.queries import Views
    from projections.rebuild import periods
    from projections.statistics import unit_statistics
    from projections.viewsets import load

    engine = sa.create_engine(url)
    views = Views(engine, view_set, load(NATIONAL).rules)
    rng = random.Random(seed)
    c, t = schema.cases, schema.custody
    with engine.connect() as conn:
        case_ids = (
            conn.execute(sa.select(c.c.case_id).where(c.c.view_set == view_set)).scalars().all()
        )
        units = (
            conn.execute(
                sa.select(t.c.holder_unit)
                .where(t.c.view_set == view_set, t.c.holder_unit.is_not(None))
                .group_by(t.c.holder_unit)
            )
            .scalars()
            .all()
        )
    chosen_cases = rng.sample(list(case_ids), min(samples, len(case_ids)))
    chosen_units = [rng.choice(units) for _ in range(max(20, samples // 10))]
    all_periods = periods(views)
    chosen_periods = [rng.choice(all_periods) for _ in range(max(5, samples // 100))]
    raw_case = sa.text(
        "SELECT id, originator_version, topic, state FROM ledger_events "
        "WHERE originator_id = :id ORDER BY originator_version"
    ).bindparams(sa.bindparam("id", type_=UUIDType()))

    def raw_events(case_id: str) -> None:
        with engine.connect() as conn:
            conn.execute(raw_case, {"id": UUID(hex=case_id)}).all()

    def raw_custody(unit: str) -> None:
        with engine.connect() as conn:
            conn.execute(
                sa.select(t).where(t.c.view_set == view_set, t.c.holder_unit == unit)
            ).all()

    def raw_period(period: str) -> None:
        with engine.connect() as conn:
            conn.execute(
                sa.select(c).where(
                    c.c.view_set == view_set,
                    sa.or_(
                        c.c.registered_period == period,
                        c.c.accepted_period == period,
                        c.c.replied_period == period,
                    ),
                )
            ).all()

    for case_id in chosen_cases[:20]:  # warm the caches the same way for both
        views.chain(case_id, NOW)
        raw_events(case_id)
    result: dict[str, Any] = {
        "chain": _percentiles(_times(lambda x: views.chain(x, NOW), chosen_cases)),
        "chain_baseline_raw_case_events": _percentiles(_times(raw_events, chosen_cases)),
        "who_delayed_what_unit": _percentiles(
            _times(lambda u: views.who_delayed_what("unit", NOW, only=[u]), chosen_units)
        ),
        "who_delayed_what_baseline_raw_custody_rows": _percentiles(
            _times(raw_custody, chosen_units)
        ),
        "unit_statistics_period": _percentiles(
            _times(lambda p: unit_statistics(views, p, NOW, with_cases=False), chosen_periods)
        ),
        "unit_statistics_baseline_raw_period_cases": _percentiles(
            _times(raw_period, chosen_periods)
        ),
    }
    engine.dispose()
    return result


# ---------------------------------------------------------------------------- driver


def _child(function: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: Any) -> None:
    try:
        queue.put((True, function(*args)))
    except BaseException:
        import traceback

        queue.put((False, traceback.format_exc()))


def in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run a step in a fresh (spawned, non-daemonic: it may start workers) process and return
    what it measured."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, args, queue))
    process.start()
    ok, value = queue.get()
    process.join()
    if not ok:
        raise RuntimeError(f"{function.__name__} failed:\n{value}")
    return value  # type: ignore[no-any-return]


def existing_events(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("ledger_events"):
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one())
    finally:
        engine.dispose()


def drop_view_sets(url: str) -> None:
    """A re-measure rebuilds from nothing: the read models go, the log stays."""
    from projections import schema

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))
    engine.dispose()


def step_indexes(url: str) -> dict[str, Any]:
    """Bring a kept store's read-model indexes to this build's (``schema.create_all``)."""
    from projections import schema

    engine = sa.create_engine(url)
    started = time.perf_counter()
    schema.create_all(engine)
    engine.dispose()
    return {"indexes_s": round(time.perf_counter() - started, 1)}


def measure_queries(args: argparse.Namespace) -> dict[str, Any]:
    """Step 5 alone, on a kept store and one of its view sets (after a code change)."""
    url = url_for(args.db, args.workdir)
    result: dict[str, Any] = {"db": args.db, "view_set": args.queries, "seed": args.seed}
    result["events"] = existing_events(url)
    result.update(in_child(step_indexes, url))
    log(f"indexes brought to this build's in {result['indexes_s']} s")
    result["queries"] = in_child(step_queries, url, args.queries, args.samples, args.seed)
    log(f"queries: {json.dumps(result['queries'])}")
    return result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    url = url_for(args.db, args.workdir)
    result: dict[str, Any] = {"db": args.db, "cases_asked": args.cases, "seed": args.seed}
    if args.reuse and existing_events(url):
        log(f"reusing the {existing_events(url)} events in the store")
        drop_view_sets(url)
    else:
        empty(url)
        log(f"ingest: {args.cases} cases")
        result.update(in_child(step_ingest, url, args.cases, args.seed, args.years))
        log(f"ingest: {result['ingest_events_per_s']} events/s")
    result.update(in_child(step_bare_save, url, args.bare_sample))
    log(f"bare library save: {result['bare_save_events_per_s']} events/s")
    if "ingest_events_per_s" in result:
        result["ingest_vs_bare_save"] = round(
            result["ingest_events_per_s"] / result["bare_save_events_per_s"], 3
        )
    result.update(in_child(step_raw_read, url))
    log(f"raw read: {result['raw_read_events_per_s']} events/s")
    national = in_child(step_rebuild, url, str(NATIONAL))
    events = result["raw_read_events"]
    result["rebuild"] = national
    result["rebuild_events_per_s"] = round(events / national["rebuild_s"])
    result["rebuild_vs_raw_read"] = round(
        result["rebuild_events_per_s"] / result["raw_read_events_per_s"], 4
    )
    log(f"rebuild: {result['rebuild_events_per_s']} events/s ({national['rebuild_s']} s)")
    local = in_child(step_rebuild, url, str(LOCAL))
    diff = in_child(
        step_diff, url, national["view_set"], local["view_set"], not args.skip_moved_cases
    )
    result["rule_change"] = {"rebuild": local, "diff": diff}
    result["rule_change_end_to_end_s"] = round(local["rebuild_s"] + diff["diff_s"], 1)
    log(f"rule change: rebuild {local['rebuild_s']} s + diff {diff['diff_s']} s")
    result["queries"] = in_child(step_queries, url, national["view_set"], args.samples, args.seed)
    log(f"queries: {json.dumps(result['queries'])}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--samples", type=int, default=500, help="chains timed (fewer of the rest)")
    parser.add_argument("--bare-sample", type=int, default=BARE_SAMPLE)
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    parser.add_argument("--reuse", action="store_true", help="keep a store already generated")
    parser.add_argument("--out", type=Path, help="append the result (JSON) to this file")
    parser.add_argument(
        "--skip-moved-cases",
        action="store_true",
        help="diff without the moved clock runs (compared 4,000 cases at a time; skipping "
        "them saves the time, not memory)",
    )
    parser.add_argument(
        "--queries",
        metavar="VIEW_SET",
        help="only step 5, on the store as it is, against this view set (its indexes first "
        "brought to this build's)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = measure_queries(args) if args.queries else measure(args)
    line = json.dumps(result, ensure_ascii=False)
    print(line, flush=True)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
