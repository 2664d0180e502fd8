"""`petition generate`: a province's case work at scale, from a seed, recorded in bulk."""

from __future__ import annotations

import random
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli import _fail, _settings, _stored_events, _where, app, out
from domain.errors import DomainError
from ledger.application import Ledger
from ledger.settings import sqlite_files


@app.command()
def generate(
    cases: Annotated[int, typer.Option(min=1, max=100_000_000, help="How many cases.")],
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 1,
    years: Annotated[
        int, typer.Option(min=1, max=20, help="Over how many years, ending 2025-12-31.")
    ] = 3,
    batch: Annotated[int, typer.Option(min=100, help="Events stored per transaction.")] = 5000,
    reset: Annotated[bool, typer.Option(help="Delete the SQLite file first.")] = False,
) -> None:
    """Write a generated data set: about a thousand units of a province, and cases whose
    stories follow the usual shares (on time and late, 推诿, 包案, 督办, 复查/复核, repeat and
    group petitions…), recorded in bulk with exactly the events the commands would write.

    For test and benchmark stores only: petitioners' data keys come from the seed too, so
    that the same seed writes the same bytes."""
    from generate.run import generate as write

    settings = _settings()
    path = settings.sqlite_path()
    if reset:
        if path is None:
            _fail("--reset only deletes the embedded SQLite file; empty PostgreSQL yourself")
        for file in sqlite_files(path):
            file.unlink(missing_ok=True)
    existing = _stored_events(settings)
    if existing:
        _fail(
            f"the ledger ({_where(settings)}) already holds {existing} events; generate writes "
            "into an empty store (use --reset for the SQLite file)"
        )
    keys = random.Random(seed ^ 0x6E4E)  # reproducible keys: generated data only
    ledger = Ledger(settings, keygen=lambda: keys.randbytes(32))
    out.print(f"Generating {cases} cases (seed {seed}, {years} years) into {_where(settings)}")
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[events]} events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=out,
        ) as progress:
            task = progress.add_task("registering cases", total=cases, events=0)

            def on_progress(done: int, total: int) -> None:
                events = (ledger.recorder.max_notification_id() or 0) if done == total else None
                progress.update(task, completed=done, total=total)
                if events is not None:
                    progress.update(task, events=events)

            def on_save(events: int) -> None:
                progress.update(task, events=events)

            summary = write(
                ledger,
                cases=cases,
                seed=seed,
                years=years,
                events_per_save=batch,
                on_progress=on_progress,
                on_save=on_save,
            )
    except DomainError as e:
        _fail(f"a generated command was refused (a generator bug): {e.message}")
    finally:
        ledger.close()
    out.print(
        f"Recorded {summary.cases} cases, {summary.events} events for {summary.units} units and "
        f"{summary.people} people in {summary.seconds:.1f} s "
        f"({summary.events_per_second:,.0f} events/s)."
    )
    table = Table("story", "cases", "share", "for example")
    for story, count in summary.tags.items():
        share = f"{100 * count / summary.cases:.1f}%" if summary.cases else ""
        table.add_row(story, str(count), share, (summary.examples.get(story) or [""])[0])
    out.print(table)
