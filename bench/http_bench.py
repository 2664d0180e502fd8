"""HTTP command ingest against the bare library save rate, same run, on a real server.

    python -m bench.http_bench --db sqlite postgresql

For each database: build the directory (tests.world) and pre-register cases through a Ledger;
measure the bare save rate (``Ledger.act``, route then accept on those cases, one thread);
start the API as ``petition serve`` runs it (uvicorn, JSON request logs, live projector) on
127.0.0.1 at a free port; measure the HTTP ingest rate of the same commands from a few
closed-loop streams (each sends its next command when the last is answered); then offer
commands at a fixed rate, open loop (``bench.open_loop``: one asyncio loop, each command sent
when due) and record their latency, while sampling ``/metrics`` every 100 ms for the
projector's lag; then again at half the HTTP capacity just measured (how a server that keeps
up answers). The CPU spent per command by the bare run, the server process and this (client)
process is reported too: on a small machine the clients compete with the server for the same
cores. One JSON line per database, every figure and whether each target was met. Only
loopback is ever contacted, every loop is bounded, and the server is stopped at the end.

Databases: SQLite in a fresh temp dir, ``sqlite`` with the read models inside the store's file
(as a store made before ADR 18's default keeps them), ``sqlite-views-file`` with them in a file
of their own beside it (a new store's default); PostgreSQL: the database
``BENCH_POSTGRES_URL`` names (required: its public schema is reset first; never the test
suite's).

Latency is measured from the moment a command was due by the schedule (so a server that falls
behind is charged for the queueing it causes) and, for reference, from when it was sent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from api.security import Role, issue
from bench import open_loop
from bench.rebuild_bench import postgres_url, statistics_as_deployed
from ledger.application import Actor, Ledger
from ledger.settings import Settings
from tests.world import World, build_world

HOST = "127.0.0.1"  # the only address this benchmark ever contacts
SECRET = "http-bench-secret-" + "b" * 40
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0
TARGET_LAG_P99_S = 0.5
LAG_SAMPLE_S = 0.1
STARTUP_S = 60.0
CATCH_UP_S = 120.0

# The server is ``petition serve`` itself (its JSON request logs, uvicorn settings and live
# projector), at a given port and number of API processes.
SERVER = "from api.cli import app; app()"
WORKERS = 2
"""API processes, one per core of the machine the figures are for, the projector once beside
them (``petition serve --workers 2``; on SQLite too since writers share a lock across processes,
ADR 16). ``--server-workers 1`` measures the embedded default of ``petition serve``: one
process serving and projecting."""


@dataclass(frozen=True)
class Command:
    """One route or accept of a pre-registered case, as the library and as HTTP see it."""

    case_id: UUID
    number: str
    action: str  # "route" or "accept"


@dataclass(frozen=True)
class Setup:
    url: str
    world: World
    route_actor: Actor
    accept_actor: Actor
    headers: dict[str, dict[str, str]]  # action -> Authorization header


# ---------------------------------------------------------------------------- database


VIEWS_APART = "sqlite-views-file"
"""SQLite with the read models in a file of their own (``LEDGER_SQLITE_VIEWS_FILE``, ADR 18)."""


def fresh_url(db: str, workdir: Path) -> str:
    if db in ("sqlite", VIEWS_APART):
        return f"sqlite:///{workdir}/bench.sqlite3"
    url = postgres_url()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


def register(ledger: Ledger, world: World, count: int) -> list[tuple[UUID, str]]:
    """``count`` cases registered an hour ago at the office, ready to be routed."""
    received = datetime.now(UTC) - timedelta(hours=3)
    cases = []
    for _ in range(count):
        result = world.register(received)
        cases.append((result.aggregate_id, str(result.case_number)))
    return cases


def commands(cases: Sequence[tuple[UUID, str]]) -> list[Command]:
    """Every case routed, then every case accepted: an accept is never due before its route."""
    return [Command(c, n, "route") for c, n in cases] + [Command(c, n, "accept") for c, n in cases]


def bare_rate(ledger: Ledger, setup: Setup, todo: Sequence[Command]) -> tuple[float, float]:
    """Commands/s through ``Ledger.act``, one thread; and CPU ms per command."""
    w = setup.world
    cpu = time.process_time()
    started = time.perf_counter()
    for i, command in enumerate(todo):
        if command.action == "route":
            ledger.act(
                command.case_id,
                "route",
                actor=setup.route_actor,
                occurred_at=datetime.now(UTC),
                command_id=f"bare-{i}",
                to_unit=w.housing,
                mode="交办",
            )
        else:
            ledger.act(
                command.case_id,
                "accept",
                actor=setup.accept_actor,
                occurred_at=datetime.now(UTC),
                command_id=f"bare-{i}",
            )
    elapsed = time.perf_counter() - started
    return len(todo) / elapsed, (time.process_time() - cpu) * 1000 / len(todo)


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


@contextmanager
def server(url: str, workdir: Path, workers: int, *, apart: bool = False) -> Iterator[Server]:
    """The API in its own process on a free loopback port; stopped on the way out."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {**os.environ, "DATABASE_URL": url, "LEDGER_TOKEN_SECRET": SECRET}
    env["LEDGER_SQLITE_VIEWS_FILE"] = "1" if apart else "0"
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER,
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=log,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            _wait_ready(base, process)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (Linux /proc; NaN
    elsewhere): the server's API worker processes count too."""
    try:
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    except OSError:
        return math.nan
    if pid not in stats:
        return math.nan
    tree, ticks = {pid}, 0
    for _ in range(4):  # the server, its workers (and any helper they start)
        tree |= {p for p, (parent, _) in stats.items() if parent in tree}
    ticks = sum(stats[p][1] for p in tree)
    return ticks / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """User + system CPU time so far of this machine's PostgreSQL processes (the server and
    its backends, by name; Linux /proc): what the database spends is on the same cores."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                text = (entry / "stat").read_text()
                name, rest = text.split("(", 1)[1].rsplit(")", 1)
                if name.startswith("postgres"):
                    fields = rest.split()
                    ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    with httpx.Client(base_url=base, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} (server.log)")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {STARTUP_S:.0f} s")


def wait_caught_up(base: str) -> None:
    """Until the projector has every event (it starts behind: the set-up and the bare run)."""
    deadline = time.monotonic() + CATCH_UP_S
    with httpx.Client(base_url=base, timeout=5.0) as client:
        while time.monotonic() < deadline:
            projector = client.get("/healthz").json()["projector"]
            if projector["error"]:
                raise RuntimeError(f"the projector stopped: {projector['error']}")
            if projector["events_behind"] == 0:
                return
            time.sleep(0.2)
    raise RuntimeError(f"the projector did not catch up within {CATCH_UP_S:.0f} s")


def _request(setup: Setup, command: Command, key: str) -> tuple[str, dict[str, str], bytes]:
    """A command's path, headers and JSON body. The key names the request in the server's
    log too (its own duration, server side)."""
    body: dict[str, Any] = {}
    if command.action == "route":
        body = {"to_unit": str(setup.world.housing), "mode": "交办"}
    headers = {**setup.headers[command.action], "Idempotency-Key": key, "X-Request-Id": key}
    path = f"/cases/{command.number}/{command.action}"
    return path, headers, json.dumps(body, ensure_ascii=False).encode()


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=30.0)


# ---------------------------------------------------------------------------- the runs


def ingest_rate(api: Server, setup: Setup, todo: Sequence[Command], clients: int) -> dict[str, Any]:
    """Commands/s over HTTP from ``clients`` closed-loop streams (``bench.open_loop``), each
    on its own cases (routes first); with the CPU the server and this (client) process spent
    per command."""
    port = int(api.base.rsplit(":", 1)[1])
    streams = [
        [
            open_loop.request_bytes(HOST, port, "POST", *_request(setup, c, f"ingest-{i}-{n}"))
            for n, c in enumerate(_interleave(todo, i, clients))
        ]
        for i in range(clients)
    ]
    server_cpu, client_cpu = cpu_seconds(api.pid), time.process_time()
    outcome = open_loop.saturate(HOST, port, streams)
    return {
        "rate": len(outcome.statuses) / outcome.elapsed,
        "server_cpu_ms": (cpu_seconds(api.pid) - server_cpu) * 1000 / len(todo),
        "client_cpu_ms": (time.process_time() - client_cpu) * 1000 / len(todo),
        "errors": len(outcome.failures),
        "first_error": _first(outcome.failures),
    }


def _interleave(todo: Sequence[Command], i: int, n: int) -> list[Command]:
    """Worker i's share: its own cases (every n-th), each routed before it is accepted."""
    cases = {c.case_id for c in todo[: len(todo) // 2][i::n]}
    return [c for c in todo if c.case_id in cases]


def fixed_rate(
    api: Server, setup: Setup, todo: Sequence[Command], rate: float, name: str
) -> dict[str, Any]:
    """Offer ``todo`` at ``rate`` commands/s (open loop, ``bench.open_loop``: each is sent
    when due) while a sampler reads the projector's lag every 100 ms."""
    port = int(api.base.rsplit(":", 1)[1])
    requests = [
        open_loop.request_bytes(HOST, port, "POST", *_request(setup, command, f"{name}-{i}"))
        for i, command in enumerate(todo)
    ]
    finished = threading.Event()
    lag = LagSampler(api.base, finished)
    lag.thread.start()
    server_cpu, client_cpu = cpu_seconds(api.pid), time.process_time()
    database_cpu = database_cpu_seconds()
    outcome = open_loop.offer(HOST, port, requests, rate)
    server_cpu_ms = (cpu_seconds(api.pid) - server_cpu) * 1000 / len(todo)
    database_cpu_ms = (database_cpu_seconds() - database_cpu) * 1000 / len(todo)
    client_cpu_ms = (time.process_time() - client_cpu) * 1000 / len(todo)
    time.sleep(0.5)  # a few samples past the last command: the lag it left behind
    finished.set()
    lag.thread.join()
    return {
        "achieved": len(todo) / outcome.elapsed,
        "server_cpu_ms": server_cpu_ms,
        "client_cpu_ms": client_cpu_ms,
        "database_cpu_ms": database_cpu_ms,
        "connections": outcome.connections,
        "latency_ms": _percentiles(outcome.from_schedule),
        "service_latency_ms": _percentiles(outcome.from_send),
        "errors": len(outcome.failures),
        "first_error": _first(outcome.failures),
        **lag.summary(),
    }


class LagSampler:
    """GET /metrics every 100 ms (until told to stop, at most 10 minutes)."""

    def __init__(self, base: str, finished: threading.Event) -> None:
        self.base = base
        self.finished = finished
        self.events: list[float] = []
        self.seconds: list[float] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with _client(self.base) as client:
            for _ in range(int(600 / LAG_SAMPLE_S)):
                if self.finished.is_set():
                    return
                tick = time.perf_counter()
                try:
                    metrics = _gauges(client.get("/metrics").text)
                except httpx.HTTPError:
                    metrics = {}  # a missed sample reads NaN, and is left out of the quantiles
                self.events.append(metrics.get("petition_projector_lag_events", math.nan))
                self.seconds.append(metrics.get("petition_projector_lag_seconds", math.nan))
                time.sleep(max(0.0, LAG_SAMPLE_S - (time.perf_counter() - tick)))

    def summary(self) -> dict[str, Any]:
        return {
            "lag_samples": len(self.seconds),
            "lag_events_p99": _quantile(self.events, 0.99),
            "lag_events_max": max(self.events, default=math.nan),
            "lag_ms_p50": _quantile(self.seconds, 0.50) * 1000,
            "lag_ms_p99": _quantile(self.seconds, 0.99) * 1000,
            "lag_ms_max": max(self.seconds, default=math.nan) * 1000,
        }


def server_durations(path: Path) -> dict[str, list[float]]:
    """Each fixed-rate run's requests as the server timed them (its JSON request log, by
    request id), in seconds: how much of a latency the server spent, and how much was spent
    before it (the client's threads, the network stack, the cores being busy)."""
    found: dict[str, list[float]] = {"rate": [], "half": []}
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        with suppress(ValueError):
            entry = json.loads(line)
            run = str(entry.get("request_id", "")).split("-")[0]
            if run in found and "duration_ms" in entry:
                found[run].append(entry["duration_ms"] / 1000)
    return found


def _gauges(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line.startswith("petition_projector_lag_"):
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


def _quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (NaN if there are no values)."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _percentiles(seconds: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": round(_quantile(seconds, q / 100) * 1000, 2) for q in (50, 95, 99)}


def _first(failures: list[str]) -> str | None:
    return failures[0] if failures else None


# ---------------------------------------------------------------------------- one database


def measure(db: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"http-bench-{db}-"))
    try:
        return _measure(db, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(db: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = fresh_url(db, workdir)
    apart = db == VIEWS_APART
    ledger = Ledger(Settings(database_url=url, sqlite_views_file=apart))
    try:
        world = build_world(ledger, datetime.now(UTC) - timedelta(days=1))
        now = datetime.now(UTC)
        setup = Setup(
            url=url,
            world=world,
            route_actor=world.at_office,
            accept_actor=world.at_housing,
            headers={
                "route": _bearer(world.clerk, Role.REGISTRAR, world.office, now),
                "accept": _bearer(world.housing_handler, Role.HANDLER, world.housing, now),
            },
        )
        rate_commands = round(args.rate * args.seconds)
        bare = commands(register(ledger, world, args.commands // 2))
        ingest = commands(register(ledger, world, args.commands // 2))
        offered = commands(register(ledger, world, (rate_commands + 1) // 2))
        reserve = register(ledger, world, (rate_commands + 1) // 2)
        bare_per_s, bare_cpu_ms = bare_rate(ledger, setup, bare)
    finally:
        ledger.close()
    workers = args.server_workers or WORKERS
    with server(url, workdir, workers, apart=apart) as api:
        wait_caught_up(api.base)
        statistics = statistics_as_deployed(url)
        http = ingest_rate(api, setup, ingest, args.clients)
        wait_caught_up(api.base)
        steady = fixed_rate(api, setup, offered, args.rate, "rate")
        # The same, offered at half the capacity just measured (if that is below the rate):
        # the latency and lag of a server that keeps up.
        half = min(args.rate, http["rate"] / 2)
        wait_caught_up(api.base)
        kept_up = fixed_rate(
            api,
            setup,
            commands(reserve[: max(1, round(half * args.seconds / 2))]),
            half,
            "half",
        )
    in_server = server_durations(workdir / "server.log")
    ratio = http["rate"] / bare_per_s
    targets = {
        f"http_vs_bare>={TARGET_RATIO}": ratio >= TARGET_RATIO,
        f"p99<{TARGET_P99_MS:g}ms": steady["latency_ms"]["p99"] < TARGET_P99_MS,
        f"lag_p99<{TARGET_LAG_P99_S * 1000:g}ms": steady["lag_ms_p99"] < TARGET_LAG_P99_S * 1000,
        "offered_rate_sustained": steady["achieved"] >= 0.95 * args.rate,
        "no_errors": http["errors"] == steady["errors"] == kept_up["errors"] == 0,
    }
    return {
        "db": db,
        "cpus": os.cpu_count(),
        "server_processes": workers,
        "planner_statistics": statistics,
        "bare_commands": len(bare),
        "bare_commands_per_s": round(bare_per_s, 1),
        "bare_cpu_ms_per_command": round(bare_cpu_ms, 2),
        "http_commands": len(ingest),
        "http_clients": args.clients,
        "http_commands_per_s": round(http["rate"], 1),
        "http_vs_bare": round(ratio, 3),
        "http_server_cpu_ms_per_command": round(http["server_cpu_ms"], 2),
        "http_client_cpu_ms_per_command": round(http["client_cpu_ms"], 2),
        "http_errors": http["errors"],
        "offered_rate_per_s": args.rate,
        "offered_commands": len(offered),
        "achieved_rate_per_s": round(steady["achieved"], 1),
        "rate_server_cpu_ms_per_command": round(steady["server_cpu_ms"], 2),
        "rate_connections": steady["connections"],
        "rate_client_cpu_ms_per_command": round(steady["client_cpu_ms"], 2),
        "rate_database_cpu_ms_per_command": round(steady["database_cpu_ms"], 2),
        "latency_ms": steady["latency_ms"],
        "service_latency_ms": steady["service_latency_ms"],
        "server_side_latency_ms": _percentiles(in_server["rate"]),
        "rate_errors": steady["errors"],
        "lag_samples": steady["lag_samples"],
        "lag_events_p99": steady["lag_events_p99"],
        "lag_events_max": steady["lag_events_max"],
        "lag_ms_p50": round(steady["lag_ms_p50"], 1),
        "lag_ms_p99": round(steady["lag_ms_p99"], 1),
        "lag_ms_max": round(steady["lag_ms_max"], 1),
        "at_half_capacity": {
            "offered_rate_per_s": round(half, 1),
            "achieved_rate_per_s": round(kept_up["achieved"], 1),
            "server_cpu_ms_per_command": round(kept_up["server_cpu_ms"], 2),
            "latency_ms": kept_up["latency_ms"],
            "server_side_latency_ms": _percentiles(in_server["half"]),
            "lag_ms_p99": round(kept_up["lag_ms_p99"], 1),
            "errors": kept_up["errors"],
        },
        "first_error": http["first_error"] or steady["first_error"] or kept_up["first_error"],
        "targets": targets,
        "all_targets_met": all(targets.values()),
    }


def _bearer(person: UUID, role: Role, unit: UUID, now: datetime) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue(SECRET, user=person, role=role, unit=unit, now=now)}"}


def main(argv: Sequence[str] | None = None, emit: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--db", choices=["sqlite", VIEWS_APART, "postgresql"], nargs="+", default=["sqlite"]
    )
    parser.add_argument(
        "--commands", type=int, default=1000, help="per rate run (bare and HTTP ingest)"
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="HTTP ingest streams (spread over the processes)"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="offered commands/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the fixed rate")
    parser.add_argument(
        "--server-workers", type=int, default=None, help=f"API processes (default {WORKERS})"
    )
    args = parser.parse_args(argv)
    for db in args.db:
        emit(json.dumps(measure(db, args)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
