"""`petition`: the operator's command line. It parses, calls the ledger, and prints.

Every command reads DATABASE_URL (default: an SQLite file under ./data, created on first use);
a domain refusal prints its reason and exits with status 2, having written nothing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.presenters import Names, case_view, history_view, instant_from_text, plain
from domain.errors import DomainError
from ledger.application import Ledger
from ledger.settings import Settings, sqlite_files

app = typer.Typer(help="Petition Ledger: an honest, replayable record of 信访 case work.")
case_app = typer.Typer(help="Read one case: its state, its history, as it stood at any instant.")
app.add_typer(case_app, name="case")

out = Console()
err = Console(stderr=True)


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        _fail("; ".join(str(x["msg"]) for x in e.errors()))


def _where(settings: Settings) -> str:
    path = settings.sqlite_path()
    if path is not None:
        return f"SQLite file {path.resolve()}"
    return "PostgreSQL " + settings.database_url.split("@")[-1]


@contextmanager
def _ledger() -> Iterator[Ledger]:
    settings = _settings()
    ledger = Ledger(settings)
    try:
        yield ledger
    except DomainError as e:
        _fail(e.message)
    finally:
        ledger.close()


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """An instant from ISO text (see ``presenters.instant_from_text``), or a clean exit."""
    try:
        return instant_from_text(text, zone)
    except ValueError as e:
        _fail(f"--as-of: {e}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Same seed, same data set.")] = 2025,
    cases: Annotated[int, typer.Option(min=10, max=5000, help="How many cases.")] = 300,
    reset: Annotated[bool, typer.Option(help="Delete the SQLite file first.")] = False,
) -> None:
    """Write a realistic demo data set: a city's units and people, and cases told as stories."""
    from api.demo import write_demo

    settings = _settings()
    path = settings.sqlite_path()
    if reset:
        if path is None:
            _fail(
                "--reset only deletes the embedded SQLite file; drop a PostgreSQL database yourself"
            )
        for file in sqlite_files(path):
            file.unlink(missing_ok=True)
    existing = _stored_events(settings)
    if existing:
        out.print(
            f"The ledger ({_where(settings)}) already holds {existing} events; "
            "leaving it as it is (use --reset to start over)."
        )
        return
    out.print(f"Writing the demo data set to {_where(settings)}")
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        task = progress.add_task("recording actions", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            summary = write_demo(settings, seed=seed, cases=cases, on_progress=on_progress)
        except DomainError as e:
            _fail(e.message)
    out.print(
        f"Recorded {summary.cases} cases ({summary.events} events) for {summary.units} units "
        f"and {summary.people} people."
    )
    table = Table("story", "cases", "for example")
    for story, numbers in sorted(summary.stories.items()):
        table.add_row(story, str(len(numbers)), ", ".join(numbers[:3]))
    out.print(table)


def _stored_events(settings: Settings) -> int:
    ledger = Ledger(settings)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


@case_app.command("show")
def case_show(
    reference: Annotated[str, typer.Argument(help="Case number (XF-2025-00123) or id.")],
    as_of: Annotated[
        str | None,
        typer.Option(help="Show the record as it stood then (ISO date or date-time)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A case's current state, or as the record stood at an earlier instant."""
    with _ledger() as ledger:
        case_id = ledger.find_case_id(reference)
        if as_of is None:
            case = ledger.get_case(case_id)
        else:
            case = ledger.case_as_of(case_id, parse_instant(as_of, ledger.zone))
        view = plain(case_view(ledger, case))
    if as_json:
        out.print_json(json.dumps(view, ensure_ascii=False))
        return
    title = f"{view['case_number']}  {view['stage']}"
    if as_of:
        title += f"  (as recorded at {as_of})"
    table = Table(title=title, show_header=False)
    for key, value in view.items():
        table.add_row(key, _cell(value))
    out.print(table)


@case_app.command("history")
def case_history(
    reference: Annotated[str, typer.Argument(help="Case number (XF-2025-00123) or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every fact recorded on a case, in order: what, who, when it happened, when written."""
    with _ledger() as ledger:
        case_id = ledger.find_case_id(reference)
        events = [plain(e) for e in history_view(ledger, case_id, Names(ledger))]
    if as_json:
        out.print_json(json.dumps(events, ensure_ascii=False))
        return
    table = Table("v", "event", "occurred", "recorded", "actor", "unit", "details")
    for e in events:
        table.add_row(
            str(e["version"]),
            e["type"],
            e["occurred_at"][:16],
            e["recorded_at"][:16],
            e["actor"] or "",
            e["actor_unit"] or "",
            _cell(e["data"]),
        )
    out.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="API processes (one per core; the projector runs once beside them)."
        ),
    ] = 1,
    projector: Annotated[
        bool,
        typer.Option(help="Also run the live projector (off when `petition project` runs)."),
    ] = True,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) on the configured database.

    One process serves the API and runs the projector in a background thread. With several
    workers, each is an API process and the projector runs once, in this (supervising) process.
    """
    import uvicorn

    from api.http import PROJECTOR_ENV, create_app, tune_collector
    from api.listeners import CannotListen, run_workers
    from api.observability import json_logging

    settings = _settings()
    out.print(f"Serving the ledger in {_where(settings)} on http://{host}:{port}/docs")
    out.print("Get a token with `petition token issue …` (or `petition token demo`).")
    json_logging()
    options: dict[str, Any] = {"host": host, "port": port, "log_config": None, "access_log": False}
    if workers == 1:
        app = create_app(settings, run_projector=projector)
        tune_collector()
        uvicorn.run(app, **options)
        return
    os.environ[PROJECTOR_ENV] = "0"  # the workers' apps: this process projects
    with _projector_thread(settings) if projector else nullcontext():
        config = uvicorn.Config(
            "api.http:app_from_environment", factory=True, workers=workers, **options
        )
        try:
            run_workers(config)  # each API process on its own socket (api.listeners)
        except CannotListen as e:
            _fail(str(e))


PROJECTOR_NICENESS = 10
"""Beside API processes, the projector yields the cores to them: a batch written while commands
arrive (45 ms of CPU for 41 events, in the projector and its database backend) was behind every
command slower than 20 ms in the HTTP bench; the views can be a little later, a command's
acknowledgment should not."""


@contextmanager
def _projector_thread(settings: Settings) -> Iterator[None]:
    import threading

    from api.readmodel import live_runner
    from projections.projector import ProjectorStopped

    ledger = Ledger(settings)
    runner = live_runner(ledger)

    def follow() -> None:
        with suppress(OSError):  # (Linux: a thread's own priority)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PROJECTOR_NICENESS)
        with suppress(ProjectorStopped):  # recorded on the view set; /healthz reports it
            runner.run()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        runner.stop()
        thread.join(timeout=10)
        ledger.close()


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def main() -> None:  # pragma: no cover - the console script
    sys.exit(app())


# The view, projector and rulebook commands register themselves on ``app``.
import api.cli_generate  # noqa: E402
import api.cli_import  # noqa: E402
import api.cli_integrity  # noqa: E402
import api.cli_views  # noqa: E402, F401
