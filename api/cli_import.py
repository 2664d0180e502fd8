"""`petition import FILE`: a historical 信访台账 into the ledger (see ``api.importer``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.cli import _fail, _ledger, _where, app, err, out
from api.importer import ImportReport, import_ledger
from api.taizhang import FileProblem, template_path


@app.command("import")
def import_command(
    file: Annotated[Path | None, typer.Argument(help="The 台账: a .csv or .xlsx file.")] = None,
    office: Annotated[
        str | None,
        typer.Option(help="The petition office whose 台账 it is (unit code or name)."),
    ] = None,
    clerk: Annotated[
        str | None,
        typer.Option(
            help="Who imports it: a member of the office (name or id); also the 登记人 of "
            "rows that name none."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")
    ] = False,
    create_people: Annotated[
        bool,
        typer.Option(
            "--create-people",
            help="Add a 登记人 or 承办人 missing from the directory to the unit they acted for "
            "(units, leaders and approvers are never created).",
        ),
    ] = False,
    template: Annotated[
        Path | None,
        typer.Option(help="Write the blank 台账 template (.csv or .xlsx) here, and stop."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a petition office's historical 台账 (one row a case, a date for each step) as
    the events its steps would have produced, with their original dates. Every rejected row
    is reported with its column and reason; re-importing the same file adds nothing."""
    if template is not None:
        source = template_path(template.suffix.lower())
        if not source.is_file():
            _fail("--template: give a path ending in .csv or .xlsx")
        shutil.copyfile(source, template)
        out.print(f"wrote the 台账 template to {template}")
        return
    if file is None or office is None or clerk is None:
        _fail("give the 台账 FILE, --office and --clerk (or --template PATH for the template)")
    if not file.is_file():
        _fail(f"{file}: no such file")
    console = err if as_json else out
    with (
        _ledger() as ledger,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"{phase} rows", total=total)
            progress.update(tasks[phase], completed=done, total=total)

        console.print(
            f"{'Checking' if dry_run else 'Importing'} {file} into {_where(ledger.settings)}"
        )
        try:
            report = import_ledger(
                ledger,
                file,
                office=office,
                clerk=clerk,
                dry_run=dry_run,
                create_people=create_people,
                on_progress=on_progress,
            )
        except FileProblem as e:
            _fail(str(e))
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
    else:
        _print(report, out)
    if report.rejected:
        raise typer.Exit(1)


def _print(report: ImportReport, console: Console) -> None:
    if report.rejected:
        table = Table("row", "台账编号", "column", "reason", title="rejected rows")
        for r in report.rejected:
            table.add_row(str(r.row), r.reference or "", r.column, r.reason)
        console.print(table)
    summary = report.as_dict()
    would = "would be " if report.dry_run else ""
    console.print(
        f"{report.file} (sha256 {report.digest[:16]}): {report.rows} rows — "
        f"{summary['new_cases']} new cases {would}imported, "
        f"{summary['cases_with_new_steps']} imported cases {would}given new steps, "
        f"{summary['unchanged']} unchanged (already in the ledger), "
        f"{summary['rejected_rows']} rows rejected; {report.steps_written} steps {would}recorded."
    )
    if report.people_created:
        console.print(f"added to the directory: {', '.join(report.people_created)}")
    if report.dry_run:
        console.print("dry run: nothing was written")
    elif report.imported:
        table = Table("row", "台账编号", "case", "steps recorded", title="imported")
        for i in report.imported[:20]:
            table.add_row(str(i.row), i.reference, i.case_number, str(i.steps_written))
        console.print(table)
        if len(report.imported) > 20:
            console.print(f"… and {len(report.imported) - 20} more (--json lists them all)")
